"""Linking: one person per person key, repeat leads linked to the first, and accounts
matched by company domain (never by a free-mail domain)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from services.enrich.linking import (
    AccountIndex,
    AccountRecord,
    Person,
    link_person,
    match_account,
)
from tests.builders import NOW, activity, deep_merge, make_lead

LATER = NOW + timedelta(days=3)
FIRST_ID = "11111111-1111-5111-8111-111111111111"
SECOND_ID = "22222222-2222-5222-8222-222222222222"
THIRD_ID = "33333333-3333-5333-8333-333333333333"


def first_lead(**overrides: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"lead_id": FIRST_ID, "activities": [
        activity("whitepaper_download", NOW - timedelta(days=2)),
        activity("pricing_page_visit", NOW - timedelta(days=1)),
    ]}
    return make_lead(**deep_merge(defaults, overrides))


def repeat_lead(**overrides: Any) -> dict[str, Any]:
    """The same person a few days later, from an ad with less to say."""
    defaults: dict[str, Any] = {
        "lead_id": SECOND_ID,
        "source": {"channel": "ad_platform", "provider": "facebook", "form_id": "fb-form",
                   "ad_id": "120208212345678901", "utm_source": "facebook",
                   "utm_medium": "paid_social", "utm_campaign": "retarget"},
        "contact": {"phone": "+14155550999", "first_name": None, "last_name": ""},
        "company": {"name": None, "employees": 80, "industry": None},
        "title": {"raw": None, "seniority": None, "department": None},
        "country": None,
        "activities": [activity("pricing_page_visit", NOW - timedelta(days=1)),
                       activity("demo_request", LATER)],
    }
    return make_lead(**deep_merge(defaults, overrides))


def linked(*leads: dict[str, Any]) -> tuple[list[dict[str, Any]], Person]:
    """Link leads in order, each at its own time, as enrich would one after another."""
    person: Person | None = None
    out = []
    for i, lead in enumerate(leads):
        person = link_person(lead, person, NOW + timedelta(days=i))
        out.append(lead)
    assert person is not None
    return out, person


# --- the first lead --------------------------------------------------------------------

def test_first_lead_creates_the_person_and_is_not_a_duplicate() -> None:
    lead = first_lead()
    original = copy.deepcopy(lead)

    person = link_person(lead, None, NOW)

    assert person.person_key == lead["person_key"]
    assert (person.first_lead_id, person.last_lead_id) == (FIRST_ID, FIRST_ID)
    assert (person.first_seen_at, person.last_seen_at) == (NOW, NOW)
    assert person.first_source == original["source"]
    assert person.lead_ids == {FIRST_ID}
    assert person.profile["contact"]["email"] == original["contact"]["email"]
    assert person.profile["country"] == "US"
    assert lead["flags"]["duplicate_of"] is None
    assert lead == original  # nothing to link, fill or merge yet


def test_profile_keeps_only_known_values() -> None:
    lead = first_lead(contact={"phone": None, "last_name": ""})

    person = link_person(lead, None, NOW)

    assert "phone" not in person.profile["contact"]
    assert "last_name" not in person.profile["contact"]


# --- a repeat lead ---------------------------------------------------------------------

def test_repeat_lead_links_to_the_first_lead() -> None:
    (_, second), person = linked(first_lead(), repeat_lead())

    assert second["flags"]["duplicate_of"] == FIRST_ID
    assert person.first_lead_id == FIRST_ID
    assert (person.last_lead_id, person.last_seen_at) == (SECOND_ID, NOW + timedelta(days=1))
    assert person.first_seen_at == NOW
    assert person.lead_ids == {FIRST_ID, SECOND_ID}


def test_third_lead_still_links_to_the_first_not_the_previous_one() -> None:
    (_, _, third), person = linked(first_lead(), repeat_lead(), repeat_lead(lead_id=THIRD_ID))

    assert third["flags"]["duplicate_of"] == FIRST_ID
    assert person.last_lead_id == THIRD_ID


def test_repeat_lead_keeps_the_first_touch_source() -> None:
    (first, second), _ = linked(first_lead(), repeat_lead())

    assert second["source"] == first["source"]
    assert second["source"]["provider"] == "typeform"
    assert second["source"]["utm_campaign"] == "spring"


def test_a_repeat_lead_keeps_its_own_value_where_the_person_had_another() -> None:
    second = repeat_lead(company={"domain": "acme.co.uk"})

    _, person = linked(first_lead(), second)

    assert second["company"]["domain"] == "acme.co.uk"
    assert person.profile["company"]["domain"] == "acme.co.uk"  # the latest is remembered


@pytest.mark.parametrize(
    ("section", "key", "expected"),
    [
        pytest.param("contact", "first_name", "Ana", id="missing-first-name-filled"),
        pytest.param("contact", "last_name", "Diaz", id="empty-string-filled"),
        pytest.param("contact", "email", "ana.diaz@acme.com", id="email-filled"),
        pytest.param("company", "name", "Acme", id="company-name-filled"),
        pytest.param("company", "industry", "software", id="industry-filled"),
        pytest.param("title", "raw", "VP of Sales", id="title-filled"),
        pytest.param("title", "seniority", "vp", id="seniority-filled"),
        pytest.param("contact", "phone", "+14155550999", id="new-phone-kept"),
        pytest.param("company", "employees", 80, id="new-headcount-kept"),
    ],
)
def test_repeat_lead_gets_empty_fields_filled_and_keeps_its_own_values(
    section: str, key: str, expected: Any
) -> None:
    second = repeat_lead(contact={"email": None})

    linked(first_lead(), second)

    assert second[section][key] == expected


def test_repeat_lead_without_a_country_takes_the_persons() -> None:
    (_, second), _ = linked(first_lead(), repeat_lead(country=None))

    assert second["country"] == "US"


def test_repeat_lead_country_is_kept_and_becomes_the_persons() -> None:
    (_, second), person = linked(first_lead(), repeat_lead(country="CA"))

    assert second["country"] == "CA"
    assert person.profile["country"] == "CA"


def test_what_a_repeat_lead_says_becomes_the_persons_profile() -> None:
    _, person = linked(first_lead(), repeat_lead())

    assert person.profile["contact"]["phone"] == "+14155550999"
    assert person.profile["company"]["employees"] == 80
    assert person.profile["contact"]["first_name"] == "Ana"


def test_repeat_lead_carries_all_activities_once_in_time_order() -> None:
    (first, second), person = linked(first_lead(), repeat_lead())

    assert [a["type"] for a in second["activities"]] == [
        "whitepaper_download", "pricing_page_visit", "demo_request"]
    assert person.profile["activities"] == second["activities"]
    assert [a["type"] for a in first["activities"]] == [
        "whitepaper_download", "pricing_page_visit"]


def test_same_activity_type_at_different_times_is_kept_twice() -> None:
    (_, second), _ = linked(
        first_lead(activities=[activity("email_open", NOW)]),
        repeat_lead(activities=[activity("email_open", LATER)]))

    assert [a["at"] for a in second["activities"]] == [
        NOW.isoformat().replace("+00:00", "Z"), LATER.isoformat().replace("+00:00", "Z")]


def test_same_activity_reported_with_another_utc_offset_is_not_duplicated() -> None:
    in_paris = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")  # == NOW
    (_, second), _ = linked(
        first_lead(activities=[activity("webinar_attended", NOW)]),
        repeat_lead(activities=[activity("webinar_attended", in_paris)]))

    assert [a["type"] for a in second["activities"]] == ["webinar_attended"]


@pytest.mark.parametrize("written", ["2025-03-03T12:00:00Z", "2025-03-03T12:00:00+00:00",
                                     "2025-03-03T07:00:00-05:00"])
def test_same_instant_in_any_notation_is_one_activity(written: str) -> None:
    first = first_lead(activities=[activity("webinar_attended", NOW)])
    repeat = repeat_lead(activities=[])
    repeat["activities"] = [{"type": "webinar_attended", "at": written, "props": {}}]

    (_, second), _ = linked(first, repeat)

    assert second["activities"] == first["activities"]


def test_activities_in_mixed_offsets_are_ordered_by_their_instant() -> None:
    # 12:30+02:00 is 10:30 UTC: before 11:00 UTC, though its text sorts after it.
    (_, second), _ = linked(
        first_lead(activities=[activity("pricing_page_visit", "2025-03-03T11:00:00Z")]),
        repeat_lead(activities=[activity("demo_request", "2025-03-03T12:30:00+02:00")]))

    assert [a["type"] for a in second["activities"]] == ["demo_request", "pricing_page_visit"]


def test_an_activity_whose_time_cannot_be_read_is_kept_once_and_comes_last() -> None:
    first = first_lead(activities=[activity("email_open", NOW)])
    repeat = repeat_lead(activities=[activity("email_click", NOW - timedelta(days=1))])
    odd = {"type": "email_open", "at": "yesterday", "props": {}}
    first["activities"].append(dict(odd))
    repeat["activities"].append(dict(odd))

    (_, second), _ = linked(first, repeat)

    assert [(a["type"], a["at"]) for a in second["activities"]] == [
        ("email_click", (NOW - timedelta(days=1)).isoformat().replace("+00:00", "Z")),
        ("email_open", NOW.isoformat().replace("+00:00", "Z")),
        ("email_open", "yesterday")]


# --- idempotency -----------------------------------------------------------------------

def test_reprocessing_the_first_lead_changes_nothing() -> None:
    lead = first_lead()
    person = link_person(copy.deepcopy(lead), None, NOW)
    again = copy.deepcopy(lead)
    before = copy.deepcopy(person)

    same = link_person(again, person, NOW + timedelta(hours=1))

    assert same == before
    assert again["flags"]["duplicate_of"] is None
    assert again["activities"] == lead["activities"]


def test_reprocessing_a_repeat_lead_gives_the_same_lead_and_person() -> None:
    (_, second), person = linked(first_lead(), repeat_lead())
    before = copy.deepcopy(person)
    redelivered = repeat_lead()

    link_person(redelivered, person, NOW + timedelta(days=5))

    assert redelivered == second
    assert person == before  # last_seen_at is not moved by a redelivery


def test_reprocessing_the_first_lead_after_a_repeat_does_not_mark_it_a_duplicate() -> None:
    _, person = linked(first_lead(), repeat_lead())
    redelivered = first_lead()

    link_person(redelivered, person, NOW + timedelta(days=5))

    assert redelivered["flags"]["duplicate_of"] is None
    assert person.last_lead_id == SECOND_ID


# --- accounts --------------------------------------------------------------------------

ACME = AccountRecord("acct-acme", "Acme Corp", "chloe")
ACCOUNTS = {"acme.com": ACME, "globex.com": AccountRecord("acct-globex", "Globex", None),
            # CRMs collect catch-all accounts like this one; no lead may land in it.
            "gmail.com": AccountRecord("acct-gmail", "Gmail users", "ben")}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, {"id": "acct-acme", "name": "Acme Corp", "owner_rep_id": "chloe",
                          "match": "domain", "confidence": 1.0}, id="company-domain"),
        pytest.param({"company": {"domain": "globex.com"}},
                     {"id": "acct-globex", "name": "Globex", "owner_rep_id": None,
                      "match": "domain", "confidence": 1.0}, id="account-without-owner"),
        pytest.param({"contact": {"email": "ana@gmail.com"}, "flags": {"free_email": True}},
                     {"id": "acct-acme", "name": "Acme Corp", "owner_rep_id": "chloe",
                      "match": "domain", "confidence": 1.0},
                     id="free-mail-address-but-a-known-company-domain"),
        pytest.param({"company": {"domain": "initech.com"}}, None, id="unknown-domain"),
        pytest.param({"company": {"domain": None}}, None, id="no-domain"),
        pytest.param({"company": {"domain": "gmail.com"}, "contact": {"email": "ana@gmail.com"},
                      "flags": {"free_email": True}}, None, id="free-mail-domain"),
    ],
)
def test_match_account_by_company_domain(
    overrides: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    assert match_account(make_lead(**overrides), ACCOUNTS) == expected


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"contact": {"email": None}}, id="phone-only-lead"),
        pytest.param({"contact": {"email": "ana@googlemail.com"},
                      "flags": {"free_email": True}}, id="another-free-mail-address"),
    ],
)
def test_match_account_never_matches_a_free_mail_domain(overrides: dict[str, Any]) -> None:
    lead = make_lead(company={"domain": "gmail.com"}, **overrides)

    assert match_account(lead, ACCOUNTS) is None


# --- accounts by name ------------------------------------------------------------------

NAMED = AccountIndex([
    AccountRecord("acct-acme", "ACME Incorporated", "chloe", "US"),
    AccountRecord("acct-acme-labs", "Acme Labs", "dev", "US"),
    AccountRecord("acct-globex", "Globex", None, "US"),
    AccountRecord("acct-globex-health", "Globex Health GmbH", "emma", "DE"),
    AccountRecord("acct-initech", "Initech Systems Ltd", "finn", "GB"),
    AccountRecord("acct-vela-es", "Vela S.A.", "gia", "ES"),
    AccountRecord("acct-vela-us", "Vela Inc.", "hana", "US"),
    AccountRecord("acct-soylent-1", "Soylent Corp", None, None),
    AccountRecord("acct-soylent-2", "Soylent Corporation", None, None),
    AccountRecord("acct-auspost", "Austria Post AG", "ivy", "AT"),
    AccountRecord("acct-frb", "First Republic Bank", "jo", "US"),
])


@pytest.mark.parametrize(("company", "country", "expected"), [
    pytest.param("Acme Inc.", "US", ("acct-acme", "name", 0.9), id="acme-inc-vs-incorporated"),
    pytest.param("acme, inc", None, ("acct-acme", "name", 0.9), id="case-and-punctuation"),
    pytest.param("Acme Labs LLC", "US", ("acct-acme-labs", "name", 0.9),
                 id="similar-names-the-exact-one-wins"),
    pytest.param("Globex Corp", "US", ("acct-globex", "name", 0.9),
                 id="not-the-longer-similar-name"),
    pytest.param("Initech Sytems", "GB", ("acct-initech", "name_fuzzy", None), id="typo"),
    pytest.param("Vela", "ES", ("acct-vela-es", "name", 0.9), id="tie-broken-by-country"),
    pytest.param("Vela", "FR", None, id="tie-not-broken-is-ambiguous"),
    pytest.param("Soylent", None, None, id="two-unowned-accounts-same-name"),
    pytest.param("Acme Rockets", "US", None, id="different-company"),
    pytest.param(None, "US", None, id="no-company-name"),
    pytest.param("The Globex Company", "US", ("acct-globex", "name", 0.9), id="leading-the"),
    pytest.param("Australia Post", "AU", None, id="two-letters-apart-is-another-company"),
    pytest.param("First Public Bank", "US", None, id="not-first-republic"),
])
def test_match_account_by_company_name(company, country, expected) -> None:
    lead = make_lead(company={"name": company, "domain": None}, country=country)
    found = match_account(lead, {}, NAMED)
    if expected is None:
        assert found is None
        return
    account_id, method, confidence = expected
    assert (found["id"], found["match"]) == (account_id, method)
    if confidence is not None:
        assert found["confidence"] == confidence
    else:
        assert found["confidence"] == 0.8


def test_a_domain_match_wins_over_a_name_match_and_free_mail_still_matches_by_name() -> None:
    by_domain = {"acme.com": ACME}
    lead = make_lead(company={"name": "Globex", "domain": "acme.com"})
    assert match_account(lead, by_domain, NAMED)["match"] == "domain"
    free = make_lead(contact={"email": "ana@gmail.com"}, flags={"free_email": True},
                     company={"name": "Globex", "domain": "gmail.com"})
    assert match_account(free, {"gmail.com": ACCOUNTS["gmail.com"]}, NAMED)["id"] == \
        "acct-globex"
