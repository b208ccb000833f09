"""The condition language: what holds for which lead, and which conditions are refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared.conditions import OrgError, compile_condition, matches, validate_condition
from tests.builders import NOW, make_lead

VP_AT_ACME = make_lead(bare=True,
    contact={"email": "jo@acme.com"},
    company={"name": "Acme Corp", "employees": 250, "industry": "software"},
    title={"seniority": "vp"},
    country="US",
    activities=[
        {"type": "demo_request", "at": NOW, "props": {"page": "/demo"}},
        {"type": "email_open", "at": NOW},
        {"type": "email_open", "at": NOW},
    ],
    custom={"tags": ["beta", "partner"], "budget": "50000"},
    flags={"free_email": False},
)
NOBODY = make_lead(bare=True)


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({}, True),
        ({"title.seniority": "vp"}, True),
        ({"title.seniority": {"eq": "vp"}}, True),
        ({"title.seniority": {"eq": "director"}}, False),
        ({"title.seniority": {"ne": "vp"}}, False),
        ({"title.seniority": {"in": ["vp", "c_level"]}}, True),
        ({"title.seniority": {"not_in": ["vp", "c_level"]}}, False),
        ({"company.employees": {"gte": 200}}, True),
        ({"company.employees": {"gt": 250}}, False),
        ({"company.employees": {"lte": 250}}, True),
        ({"company.employees": {"lt": 250}}, False),
        ({"company.employees": {"gte": 50, "lt": 200}}, False),
        ({"company.employees": {"gte": 200, "lt": 500}}, True),
        ({"company.employees": 250.0}, True),
        ({"contact.email": {"contains": "@acme."}}, True),
        ({"contact.email": {"matches": r"^[^@]+@acme\.com$"}}, True),
        ({"company.name": {"matches": "(?i)^acme"}}, True),
        ({"company.name": {"matches": "^acme"}}, False),
        ({"company.employees": {"exists": True}}, True),
        ({"account": {"exists": True}}, False),
        ({"account": {"exists": False}}, True),
        ({"flags.free_email": False}, True),
        ({"received_at": {"gte": date(2025, 3, 3)}}, True),
        ({"received_at": {"lt": datetime(2025, 3, 3, 12, 0, 1, tzinfo=UTC)}}, True),
        # A time without an offset is read as UTC.
        ({"received_at": {"gt": datetime(2025, 3, 3, 12, 0)}}, False),  # noqa: DTZ001
        ({"title.seniority": "vp", "country": "US"}, True),
        ({"title.seniority": "vp", "country": "GB"}, False),
    ],
)
def test_operators_on_a_scalar_field_decide_as_written(cond: dict[str, Any],
                                                       expected: bool) -> None:
    assert matches(cond, VP_AT_ACME) is expected


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"activities.type": {"contains": "demo_request"}}, True),
        ({"activities.type": {"contains": "contact_sales"}}, False),
        ({"activities.type": {"contains": "demo"}}, False),
        ({"activities.type": {"eq": "email_open"}}, True),
        ({"activities.type": {"in": ["webinar_attended", "email_open"]}}, True),
        ({"activities.type": {"ne": "webinar_attended"}}, True),
        ({"activities.type": {"ne": "demo_request"}}, False),
        ({"activities.type": {"not_in": ["demo_request", "free_trial"]}}, False),
        ({"activities.props.page": {"contains": "/demo"}}, True),
        ({"activities.props.page": {"matches": "^/de"}}, True),
        ({"activities": {"exists": True}}, True),
        ({"custom.tags": {"contains": "beta"}}, True),
        ({"custom.tags": {"contains": "bet"}}, False),
    ],
)
def test_a_path_through_a_list_holds_when_any_value_does(
    cond: dict[str, Any], expected: bool
) -> None:
    assert matches(cond, VP_AT_ACME) is expected


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"any": [{"country": "FR"}, {"country": "US"}]}, True),
        ({"any": [{"country": "FR"}, {"country": "DE"}]}, False),
        ({"country": "US", "any": [{"title.seniority": "ceo"}, {"company.employees": 250}]}, True),
        ({"any": [{"any": [{"country": "FR"}, {"title.seniority": "vp"}]}, {"country": "DE"}]},
         True),
        ({"any": [{"country": "US", "title.seniority": "manager"}, {"country": "DE"}]}, False),
    ],
)
def test_any_holds_when_one_of_its_conditions_holds(cond: dict[str, Any], expected: bool) -> None:
    assert matches(cond, VP_AT_ACME) is expected


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"company.employees": {"gte": 10}}, False),
        ({"company.employees": {"lt": 10}}, False),
        ({"company.employees": 5}, False),
        ({"company.employees": {"ne": 5}}, True),
        ({"company.industry": {"in": ["software"]}}, False),
        ({"company.industry": {"not_in": ["software"]}}, True),
        ({"company.industry": {"contains": "soft"}}, False),
        ({"company.industry": {"matches": ".*"}}, False),
        ({"company.industry": {"exists": True}}, False),
        ({"company.industry": {"exists": False}}, True),
        ({"activities.type": {"contains": "demo_request"}}, False),
        ({"activities.type": {"ne": "demo_request"}}, True),
        ({"activities": {"exists": True}}, False),
        ({"custom.nested.deep": {"exists": False}}, True),
    ],
)
def test_a_missing_field_fails_comparisons_and_passes_negations(
    cond: dict[str, Any], expected: bool
) -> None:
    assert matches(cond, NOBODY) is expected


@pytest.mark.parametrize(
    "cond",
    [
        {"company.employees": {"gt": "100"}},
        {"company.employees": {"eq": "250"}},
        {"company.industry": {"gt": 5}},
        {"company.employees": {"contains": "25"}},
        {"company.employees": {"matches": "250"}},
        {"custom.budget": {"gte": 1000}},
        {"country": {"in": [1, 2]}},
        {"flags.free_email": {"eq": 0}},
        {"company.employees": {"eq": True}},
        {"received_at": {"gt": 5}},
        {"country": {"gte": date(2020, 1, 1)}},
        {"company.name.first": {"eq": "A"}},
    ],
)
def test_values_of_different_kinds_never_compare_and_never_raise(cond: dict[str, Any]) -> None:
    assert matches(cond, VP_AT_ACME) is False


@pytest.mark.parametrize(
    "odd_lead",
    [
        {},
        {"activities": "demo_request"},
        {"activities": [None, 3, "x", {"type": None}]},
        {"company": "Acme"},
        {"company": {"employees": None}},
        {"activities": [[{"type": "email_open"}]]},
    ],
)
def test_odd_shapes_in_a_lead_make_a_condition_false_not_an_error(odd_lead: dict[str, Any]) -> None:
    cond = {"activities.type": {"contains": "demo_request"}, "company.employees": {"gte": 1}}
    assert compile_condition(cond)(odd_lead) is False


def test_lists_nested_in_lists_are_flattened() -> None:
    assert matches({"activities.type": {"contains": "email_open"}},
                   {"activities": [[{"type": "email_open"}]]})


def test_a_compiled_condition_agrees_with_matches() -> None:
    cond = {"company.employees": {"gte": 200}, "activities.type": {"contains": "demo_request"}}
    predicate = compile_condition(cond)
    assert predicate(VP_AT_ACME) is matches(cond, VP_AT_ACME) is True
    assert predicate(NOBODY) is matches(cond, NOBODY) is False


@pytest.mark.parametrize(
    ("cond", "path", "problem"),
    [
        ({"company.employees": {"greater": 1}}, "when.company.employees", "unknown operator"),
        ({"country": {}}, "when.country", "no operator"),
        ({"country": ["US", "CA"]}, "when.country", "{in: [...]}"),
        ({"country": {"in": "US"}}, "when.country", "in takes a list"),
        ({"country": {"not_in": [["US"]]}}, "when.country", "not_in takes a list"),
        ({"country": {"exists": "yes"}}, "when.country", "exists takes true or false"),
        ({"country": {"matches": "(US"}}, "when.country", "bad regular expression"),
        ({"country": {"matches": 5}}, "when.country", "regular expression"),
        ({"company.employees": {"gt": [1]}}, "when.company.employees", "gt takes"),
        ({"company.employees": {"gte": True}}, "when.company.employees", "gte takes"),
        ({"country": {"eq": None}}, "when.country", "exists: false"),
        ({"country": {"eq": {"nested": 1}}}, "when.country", "single value"),
        ({"country": None}, "when.country", "exists: false"),
        ({"any": []}, "when.any", "non-empty list"),
        ({"any": {"country": "US"}}, "when.any", "non-empty list"),
        ({"any": [{"country": "US"}, {"country": {"bad": 1}}]}, "when.any[1].country",
         "unknown operator 'bad'"),
        ({"any": [{"any": ["US"]}]}, "when.any[0].any[0]", "must be a mapping"),
        ({"": 1}, "when", "not a field path"),
        ({"company..name": 1}, "when", "not a field path"),
    ],
)
def test_a_malformed_condition_is_refused_naming_its_path(
    cond: dict[str, Any], path: str, problem: str
) -> None:
    with pytest.raises(OrgError) as caught:
        validate_condition(cond, "when")
    assert caught.value.path == path
    assert problem in caught.value.problem


@pytest.mark.parametrize("cond", ["country: US", ["country"], None])
def test_a_condition_that_is_not_a_mapping_is_refused(cond: Any) -> None:
    with pytest.raises(OrgError, match="must be a mapping"):
        validate_condition(cond, "routing.rules[0].when")


def test_compiling_a_malformed_condition_raises_before_any_lead_is_seen() -> None:
    with pytest.raises(OrgError, match="unknown operator"):
        compile_condition({"country": {"is": "US"}})
