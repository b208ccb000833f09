"""Normalization: emails, phones, countries, domains, the person key, names and titles."""

from __future__ import annotations

import hashlib

import pytest

from services.enrich.domains import (
    company_domain,
    is_disposable_domain,
    is_free_email_domain,
    registered_domain,
)
from services.enrich.enrichment import enrich_lead, normalize_contact
from services.enrich.titles import classify_title
from shared.identity import (
    clean_name,
    email_domain,
    email_problem,
    normalize_country,
    normalize_email,
    normalize_phone,
    person_key,
    phone_country,
    split_full_name,
)
from shared.lead import Lead
from tests.builders import make_lead

# --------------------------------------------------------------------------- email


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        pytest.param("ana@acme.com", "ana@acme.com", id="already-normal"),
        pytest.param("  Ana.Diaz@ACME.com \n", "ana.diaz@acme.com", id="trimmed-and-lowered"),
        pytest.param("ANA@ACME.CO.UK", "ana@acme.co.uk", id="all-upper"),
        pytest.param("mailto:Ana@Acme.com", "ana@acme.com", id="mailto-prefix"),
        pytest.param("josé@müller.de", "josé@müller.de", id="internationalized"),
        pytest.param("ana+leads@acme.com", "ana+leads@acme.com", id="plus-tag-kept"),
        pytest.param("ana@", None, id="no-domain"),
        pytest.param("ana@acme", None, id="domain-without-dot"),
        pytest.param("ana acme.com", None, id="no-at"),
        pytest.param("ana@@acme.com", None, id="two-ats"),
        pytest.param("ana@localhost", None, id="local-host"),
        pytest.param("   ", None, id="blank"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_emails_are_trimmed_checked_and_lower_cased(raw, normalized):
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param("ana@acme", "after the @-sign", id="domain-without-dot"),
        pytest.param("ana.acme.com", "@-sign", id="no-at"),
        pytest.param("", "empty", id="empty"),
        pytest.param(None, "empty", id="none"),
    ],
)
def test_invalid_email_comes_with_a_human_reason(raw, problem):
    reason = email_problem(raw)
    assert reason is not None
    assert problem in reason


def test_valid_email_has_no_problem():
    assert email_problem(" Ana@Acme.com ") is None


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("ana@acme.com", "acme.com"),
        ("ana@Mail.Acme.co.uk", "mail.acme.co.uk"),
        ("ana", None),
        (None, None),
    ],
)
def test_email_domain_is_the_part_after_the_at(email, domain):
    assert email_domain(email) == domain


# --------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        pytest.param("+1 201-555-0123", None, "+12015550123", id="international-no-country"),
        pytest.param("(201) 555-0123", "US", "+12015550123", id="national-with-country"),
        pytest.param("030 1234567", "DE", "+49301234567", id="german-national"),
        pytest.param("030 1234567", "Germany", "+49301234567", id="country-given-as-name"),
        pytest.param("0044 20 7946 0958", "DE", "+442079460958", id="international-prefix"),
        pytest.param("06 12 34 56 78", "fr", "+33612345678", id="lower-case-country"),
        pytest.param("+1 123 456 7890", None, "+11234567890", id="possible-but-invalid-kept"),
        pytest.param("+44 7700 900123", None, "+447700900123", id="drama-range-kept"),
        pytest.param("(201) 555-0123", None, None, id="national-without-country"),
        pytest.param("+1 555", None, None, id="too-short"),
        pytest.param("+49 30 1234 5678 9012 3456", None, None, id="too-long"),
        pytest.param("call me", "US", None, id="not-a-number"),
        pytest.param("", "US", None, id="empty"),
        pytest.param(None, "US", None, id="none"),
    ],
)
def test_phones_become_e164_when_possible(raw, country, e164):
    assert normalize_phone(raw, country) == e164


@pytest.mark.parametrize(
    ("e164", "country"),
    [("+12015550123", "US"), ("+442079460958", "GB"), ("+11234567890", None), (None, None)],
)
def test_phone_country_is_known_only_for_valid_numbers(e164, country):
    assert phone_country(e164) == country


# --------------------------------------------------------------------------- country


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("US", "US"),
        ("us", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("United States", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("gbr", "GB"),
        ("Deutschland", "DE"),
        ("germany", "DE"),
        ("DEU", "DE"),
        ("France", "FR"),
        ("The Netherlands", "NL"),
        ("Holland", "NL"),
        ("Canada", "CA"),
        ("Australia", "AU"),
        ("Ireland", "IE"),
        ("España", "ES"),
        ("Espana", "ES"),
        ("Italy", "IT"),
        ("Brasil", "BR"),
        ("Brazil", "BR"),
        ("India", "IN"),
        ("Japan", "JP"),
        ("México", "MX"),
        ("Österreich", "AT"),
        ("Schweiz", "CH"),
        ("Korea, Republic of", "KR"),
        ("  sweden ", "SE"),
        ("Venezuela", "VE"),
        ("Côte d'Ivoire", "CI"),
        ("Vereinigte Staaten von Amerika", "US"),
        ("Royaume-Uni", "GB"),
        ("Narnia", None),
        ("XX", None),
        ("", None),
        (None, None),
    ],
)
def test_countries_become_iso_alpha_2_from_codes_and_names(raw, code):
    assert normalize_country(raw) == code


# --------------------------------------------------------------------------- domains


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        pytest.param("mail.acme.co.uk", "acme.co.uk", id="subdomain-under-two-level-suffix"),
        pytest.param("https://www.acme.com/x", "acme.com", id="url"),
        pytest.param("WWW.Acme.COM:8080", "acme.com", id="host-with-port"),
        pytest.param("acme.com.au", "acme.com.au", id="already-registered"),
        pytest.param("ana@eu.acme.io", "acme.io", id="email-address"),
        pytest.param("127.0.0.1", None, id="ip-address"),
        pytest.param("localhost", None, id="no-public-suffix"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_registered_domain_uses_the_public_suffix_list(raw, domain):
    assert registered_domain(raw) == domain


@pytest.mark.parametrize(
    ("email", "website", "domain"),
    [
        pytest.param("ana@acme.com", None, "acme.com", id="company-email"),
        pytest.param("ana@mail.acme.co.uk", None, "acme.co.uk", id="company-subdomain"),
        pytest.param("ana@acme.com", "https://other.io", "acme.com", id="email-beats-website"),
        pytest.param("ana@gmail.com", "https://www.acme.io/about", "acme.io", id="free-mail"),
        pytest.param("ana@yahoo.co.jp", None, None, id="free-mail-no-website"),
        pytest.param("ana@mailinator.com", "acme.de", "acme.de", id="disposable"),
        pytest.param("ana@gmail.com", "https://linkedin.com/company/acme", None, id="social-site"),
        pytest.param(None, "www.acme.fr", "acme.fr", id="website-only"),
        pytest.param(None, None, None, id="nothing"),
    ],
)
def test_company_domain_comes_from_a_work_email_else_the_website(email, website, domain):
    assert company_domain(email, website) == domain


@pytest.mark.parametrize(
    ("domain", "free"),
    [
        ("gmail.com", True),
        ("googlemail.com", True),
        ("yahoo.com", True),
        ("yahoo.co.jp", True),
        ("hotmail.fr", True),
        ("outlook.com", True),
        ("live.com", True),
        ("msn.com", True),
        ("aol.com", True),
        ("icloud.com", True),
        ("me.com", True),
        ("mac.com", True),
        ("proton.me", True),
        ("protonmail.com", True),
        ("gmx.de", True),
        ("gmx.net", True),
        ("web.de", True),
        ("mail.ru", True),
        ("yandex.ru", True),
        ("qq.com", True),
        ("163.com", True),
        ("GMAIL.COM", True),
        ("acme.com", False),
        ("google.com", False),
        ("mailinator.com", False),
        (None, False),
        ("", False),
    ],
)
def test_free_mail_domains_are_recognised(domain, free):
    assert is_free_email_domain(domain) is free


@pytest.mark.parametrize(
    ("domain", "disposable"),
    [
        ("mailinator.com", True),
        ("guerrillamail.com", True),
        ("10minutemail.com", True),
        ("temp-mail.org", True),
        ("tempmail.com", True),
        ("yopmail.com", True),
        ("inbox.mailinator.com", True),
        ("gmail.com", False),
        ("acme.com", False),
        (None, False),
    ],
)
def test_disposable_domains_are_recognised(domain, disposable):
    assert is_disposable_domain(domain) is disposable


# --------------------------------------------------------------------------- person key


def test_person_key_is_the_sha256_of_the_normalized_email():
    expected = hashlib.sha256(b"ana@acme.com").hexdigest()
    assert person_key("ana@acme.com", "+12015550123", "lead-1") == expected


@pytest.mark.parametrize(
    ("email", "phone", "lead_id", "identity"),
    [
        pytest.param("ana@acme.com", "+12015550123", "lead-1", "ana@acme.com", id="email-first"),
        pytest.param(None, "+12015550123", "lead-1", "+12015550123", id="then-phone"),
        pytest.param("", "", "lead-1", "lead-1", id="then-lead-id"),
        pytest.param(" Ana@ACME.com ", None, "lead-1", "ana@acme.com", id="email-re-lowered"),
    ],
)
def test_person_key_prefers_email_then_phone_then_lead_id(email, phone, lead_id, identity):
    assert person_key(email, phone, lead_id) == hashlib.sha256(identity.encode()).hexdigest()


def test_person_key_is_stable_across_spellings_of_one_address():
    keys = {
        person_key(normalize_email(raw), None, f"lead-{index}")
        for index, raw in enumerate(["ana@acme.com", " ANA@Acme.Com", "mailto:Ana@acme.com"])
    }
    assert len(keys) == 1


def test_person_key_carries_no_personal_data():
    key = person_key("ana.diaz@acme.com", "+12015550123", "lead-1")
    assert key == hashlib.sha256(b"ana.diaz@acme.com").hexdigest()  # a digest, not the data


def test_person_key_needs_some_identity():
    with pytest.raises(ValueError, match="needs an email, a phone or a lead id"):
        person_key(None, None, "")


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        pytest.param("  José   Müller ", "José Müller", id="spaces-collapsed"),
        pytest.param("JOSÉ MÜLLER", "José Müller", id="all-upper-non-ascii"),
        pytest.param("josé müller", "José Müller", id="all-lower-non-ascii"),
        pytest.param("mcdonald", "McDonald", id="mc-prefix"),
        pytest.param("McDonald", "McDonald", id="mixed-case-kept"),
        pytest.param("DeShawn", "DeShawn", id="inner-capital-kept"),
        pytest.param("jan van der berg", "Jan van der Berg", id="dutch-particles"),
        pytest.param("van der Berg", "van der Berg", id="particles-as-given"),
        pytest.param("MARIA DE LA CRUZ", "Maria de la Cruz", id="spanish-particles"),
        pytest.param("o'brien-smith", "O'Brien-Smith", id="apostrophe-and-hyphen"),
        pytest.param("JEAN-LUC", "Jean-Luc", id="hyphenated-first-name"),
        pytest.param("ÉLODIE", "Élodie", id="accented-initial"),
        pytest.param("martin luther king jr", "Martin Luther King Jr.", id="suffix"),
        pytest.param("李小龍", "李小龍", id="uncased-script-kept"),
        pytest.param("   ", None, id="blank"),
        pytest.param(None, None, id="none"),
    ],
)
def test_names_are_tidied_and_recased_only_when_shouted_or_whispered(raw, cleaned):
    assert clean_name(raw) == cleaned


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        pytest.param("José Müller", "José", "Müller", id="two-words"),
        pytest.param("Mary Ann Smith", "Mary Ann", "Smith", id="double-first-name"),
        pytest.param("Ludwig van Beethoven", "Ludwig", "van Beethoven", id="particle"),
        pytest.param("Ana de la Cruz", "Ana", "de la Cruz", id="two-particles"),
        pytest.param("Müller, José", "José", "Müller", id="last-comma-first"),
        pytest.param("Dr. Martin Luther King Jr.", "Martin Luther", "King Jr.", id="title-suffix"),
        pytest.param("  ANA   DIAZ ", "Ana", "Diaz", id="shouted"),
        pytest.param("Cher", "Cher", None, id="one-word"),
        pytest.param("", None, None, id="empty"),
    ],
)
def test_full_names_split_into_first_and_last(full, first, last):
    assert split_full_name(full) == (first, last)


# --------------------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("raw", "seniority", "department"),
    [
        ("CEO", "c_level", "executive"),
        ("Co-founder & CTO", "c_level", "engineering"),
        ("Chief Financial Officer", "c_level", "finance"),
        ("President", "c_level", "executive"),
        ("Owner", "c_level", "executive"),
        ("Geschäftsführer", "c_level", "executive"),
        ("GESCHÄFTSFÜHRERIN", "c_level", "executive"),
        ("Directeur Général", "c_level", "executive"),
        ("Managing Director", "c_level", "executive"),
        ("VP Marketing", "vp", "marketing"),
        ("Sr. VP, Sales & Marketing", "vp", "sales"),
        ("Vice-President, Engineering", "vp", "engineering"),
        ("vice president of people", "vp", "hr"),
        ("SVP Finance", "vp", "finance"),
        ("Director of Sales", "director", "sales"),
        ("Sr. Director, IT", "director", "it"),
        ("Head of Legal", "director", "legal"),
        ("Directeur Commercial", "director", "sales"),
        ("Vertriebsdirektor", "director", "sales"),
        ("Marketing Manager", "manager", "marketing"),
        ("Sales Mgr", "manager", "sales"),
        ("Team Lead, DevOps", "manager", "engineering"),
        ("Vertriebsleiter", "director", "sales"),  # a head of department (labelled set)
        ("Office Manager", "manager", "operations"),
        ("Student Success Manager", "manager", "other"),
        ("Marketing Intern", "student", "marketing"),
        ("Student", "student", "other"),
        ("Trainee Accountant", "student", "finance"),
        ("Étudiant", "student", "other"),
        ("Werkstudentin Vertrieb", "student", "sales"),
        ("Software Engineer", "individual", "engineering"),
        ("Sales Engineer", "individual", "sales"),
        ("Account Executive", "individual", "sales"),
        ("Recruiter", "individual", "hr"),
        ("Paralegal", "individual", "legal"),
        ("Product Owner", "individual", "engineering"),
        ("Lead Generation Specialist", "individual", "marketing"),
        ("Executive Assistant to the CEO", "individual", "executive"),
        ("Supply Chain Analyst", "individual", "operations"),
        ("Nurse", "individual", "other"),
        ("", "unknown", None),
        ("  ", "unknown", None),
        (None, "unknown", None),
    ],
)
def test_titles_are_classified_by_keywords(raw, seniority, department):
    assert classify_title(raw) == (seniority, department)


# --------------------------------------------------------------------------- contacts and leads


def test_contact_is_normalized_and_a_lone_full_name_split():
    contact = {"email": " ANA@Acme.com", "phone": "(201) 555-0123", "first_name": "ana diaz"}
    assert normalize_contact(contact, "US") == {
        "email": "ana@acme.com",
        "phone": "+12015550123",
        "first_name": "Ana",
        "last_name": "Diaz",
    }


def test_lead_is_enriched_with_normal_forms_domain_flags_and_title():
    lead = make_lead(bare=True,
        contact={
            "email": " José.Müller@Mail.ACME.co.uk ",
            "phone": "020 7946 0958",
            "first_name": "JOSÉ",
            "last_name": "müller",
        },
        company={"name": "  Acme   Ltd ", "country": "United Kingdom"},
        title={"raw": "Sr. VP, Sales & Marketing"},
        country="uk",
    )
    enriched = enrich_lead(lead)
    assert enriched["contact"] == {
        "email": "josé.müller@mail.acme.co.uk",
        "phone": "+442079460958",
        "first_name": "José",
        "last_name": "Müller",
    }
    assert enriched["country"] == "GB"
    assert enriched["company"]["country"] == "GB"
    assert enriched["company"]["domain"] == "acme.co.uk"
    assert enriched["company"]["name"] == "Acme"  # legal form dropped (cleanco)
    assert enriched["company"]["legal_name"] == "Acme Ltd"
    assert enriched["title"] == {
        "raw": "Sr. VP, Sales & Marketing",
        "seniority": "vp",
        "department": "sales",
    }
    assert enriched["flags"]["free_email"] is False
    assert enriched["flags"]["disposable_email"] is False
    Lead.model_validate(enriched)


@pytest.mark.parametrize(
    ("contact", "custom", "company", "domain", "free", "disposable"),
    [
        pytest.param(
            {"email": "ana@gmail.com"},
            {"website": "https://www.acme.io/"},
            {},
            "acme.io",
            True,
            False,
            id="free-mail-uses-website",
        ),
        pytest.param(
            {"email": "ana@gmail.com"},
            {},
            {},
            None,
            True,
            False,
            id="free-mail-no-website",
        ),
        pytest.param(
            {"email": "ana@yopmail.com"},
            {},
            {},
            None,
            False,
            True,
            id="disposable",
        ),
        pytest.param(
            {"email": "ana@gmail.com"},
            {},
            {"domain": "https://shop.acme.com.au"},
            "acme.com.au",
            True,
            False,
            id="given-domain-reduced",
        ),
        pytest.param(
            {"phone": "+12015550123"},
            {"website": "acme.com"},
            {},
            "acme.com",
            False,
            False,
            id="phone-only-lead",
        ),
    ],
)
def test_company_domain_and_mail_flags_are_derived(
    contact, custom, company, domain, free, disposable
):
    enriched = enrich_lead(make_lead(bare=True, contact=contact, custom=custom, company=company))
    assert enriched["company"]["domain"] == domain
    assert enriched["flags"]["free_email"] is free
    assert enriched["flags"]["disposable_email"] is disposable


def test_lead_without_country_takes_its_phone_numbers_country():
    enriched = enrich_lead(make_lead(bare=True, contact={"phone": "+33 6 12 34 56 78"}))
    assert enriched["country"] == "FR"


def test_lead_country_falls_back_to_the_company_country_for_reading_the_phone():
    enriched = enrich_lead(
        make_lead(bare=True, contact={"phone": "030 1234567"}, company={"country": "Deutschland"})
    )
    assert enriched["contact"]["phone"] == "+49301234567"
    assert enriched["country"] == "DE"


def test_invalid_email_and_unknown_country_are_dropped_not_passed_on():
    enriched = enrich_lead(
        make_lead(bare=True, contact={"email": "ana@acme", "phone": "+12015550123"},
                  country="Narnia")
    )
    assert enriched["contact"]["email"] is None
    assert enriched["country"] == "US"  # from the phone, once Narnia is gone


def test_full_name_in_custom_fields_fills_empty_names():
    enriched = enrich_lead(
        make_lead(bare=True, contact={"email": "a@acme.com"},
                  custom={"full_name": "ana de la cruz"})
    )
    assert (enriched["contact"]["first_name"], enriched["contact"]["last_name"]) == (
        "Ana",
        "de la Cruz",
    )


def test_lead_without_title_is_unknown_seniority():
    enriched = enrich_lead(make_lead(bare=True, contact={"email": "a@acme.com"}))
    assert enriched["title"]["seniority"] == "unknown"
    assert enriched["title"]["department"] is None


def test_enrichment_keeps_identity_and_leaves_the_input_untouched():
    lead = make_lead(bare=True,
        contact={"email": "ANA@ACME.COM"},
        flags={"test": True, "duplicate_of": "other-lead"},
        custom={"favourite_colour": "green"},
    )
    before = repr(lead)
    enriched = enrich_lead(lead)
    assert repr(lead) == before
    assert enriched["lead_id"] == lead["lead_id"]
    assert enriched["person_key"] == lead["person_key"]
    assert enriched["flags"]["test"] is True
    assert enriched["flags"]["duplicate_of"] == "other-lead"
    assert enriched["custom"] == {"favourite_colour": "green"}
    assert enriched["received_at"] == lead["received_at"]


@pytest.mark.parametrize(("given", "cleaned", "key"), [
    ("Acme Inc.", "Acme", "acme"),
    ("ACME Incorporated", "ACME", "acme"),
    ("Acme, Inc.", "Acme", "acme"),
    ("Kontor GmbH", "Kontor", "kontor"),
    ("Vela S.A.", "Vela", "vela"),
    ("Société Générale SA", "Société Générale", "societe generale"),
    ("Smith & Sons Ltd", "Smith & Sons", "smith and sons"),
    ("  Globex   Corporation ", "Globex", "globex"),
    ("GmbH", "GmbH", "gmbh"),
    ("Acme (UK) Ltd", "Acme", "acme"),
    ("The Acme Company", "The Acme", "acme"),
    ("", None, None),
])
def test_company_names_lose_their_legal_form(given, cleaned, key) -> None:
    from services.enrich.companies import clean_company_name, company_key

    assert clean_company_name(given) == cleaned
    assert company_key(given) == key


@pytest.mark.parametrize(("email", "role"), [
    ("info@acme.io", True), ("Sales@acme.io", True), ("kontakt@firma.de", True),
    ("support+eu@acme.io", True), ("ana@acme.io", False), ("information@acme.io", False),
    (None, False),
])
def test_role_addresses_are_flagged(email, role) -> None:
    from services.enrich.flags import is_role_address

    assert is_role_address(email) is role


@pytest.mark.parametrize(("email", "first", "last", "test"), [
    ("ana@example.com", "Ana", "Diaz", True),
    ("ana@acme.test", "Ana", "Diaz", True),
    ("test123@acme.io", "Ana", "Diaz", True),
    ("asdf@acme.io", None, None, True),
    ("ana@acme.io", "Test", "Test", True),
    ("ana@acme.io", "asdf", None, True),
    ("ana@acme.io", "Ana", "Testa", False),
    ("tester.smith@acme.io", "Tess", "Smith", False),
    ("ana@acme.io", "Ana", "Diaz", False),
])
def test_obvious_test_leads_are_flagged(email, first, last, test) -> None:
    from services.enrich.flags import looks_like_test

    assert looks_like_test(email, first, last) is test


@pytest.mark.parametrize(("raw", "code"), [
    ("Deutschland", "DE"), ("Allemagne", "DE"), ("Alemania", "DE"), ("DEU", "DE"),
    ("Côte d'Ivoire", "CI"), ("Korea, Republic of", "KR"), ("Viet Nam", "VN"),
    ("Reino Unido", "GB"), ("Paesi Bassi", "NL"), ("Bolivia, Plurinational State of", "BO"),
])
def test_countries_by_name_in_several_languages_via_pycountry(raw, code) -> None:
    assert normalize_country(raw) == code
