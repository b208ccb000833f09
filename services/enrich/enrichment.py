"""Lead normalization: a lead's contact, company, country and title once cleaned.

`enrich_lead` puts together what the modules beside it decide: identity fields and names
(shared/identity.py, shared with capture for the person key), company domains and free or
disposable mail (domains.py), company names (companies.py), a contact's flags (flags.py)
and a title's seniority and department (titles.py, rules in title_rules.py).

Pure: no network, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.enrich.companies import clean_company_name
from services.enrich.domains import (
    company_domain,
    is_disposable_domain,
    is_free_email_domain,
    registered_domain,
)
from services.enrich.flags import is_role_address, looks_like_test
from services.enrich.titles import classify_title
from shared.identity import (
    clean_name,
    email_domain,
    normalize_country,
    normalize_email,
    normalize_phone,
    phone_country,
    split_full_name,
)
from shared.lead import LeadData

# --------------------------------------------------------------------------- the lead

_WEBSITE_KEYS = ("website", "company_website", "company_url", "url", "web")
_FULL_NAME_KEYS = ("full_name", "fullname")


def normalize_contact(contact: dict[str, Any], country: str | None) -> dict[str, Any]:
    """A new contact with email and phone normalized (None when invalid; the phone read
    in `country`) and names cleaned; a full name given as the first name alone is split."""
    out = dict(contact)
    out["email"] = normalize_email(contact.get("email"))
    out["phone"] = normalize_phone(contact.get("phone"), country)
    first, last = clean_name(contact.get("first_name")), clean_name(contact.get("last_name"))
    if first and not last and " " in first:
        first, last = split_full_name(first)
    out["first_name"], out["last_name"] = first, last
    return out


def enrich_lead(lead: LeadData) -> LeadData:
    """A new lead dict (the shape of `Lead.model_dump(mode="json")`) with what can be
    derived without a provider:

    - contact: email and phone normalized (None when not valid: downstream conditions
      must not see an address that cannot be written to), names cleaned, a full name in
      `custom` split when no name was given;
    - country and company.country as ISO alpha-2 (None when not recognised); a lead with
      no country takes the one of its phone number when that number is valid;
    - company.domain: the given one reduced to its registered domain, else derived from
      the email, else from `custom.website`;
    - flags.free_email and flags.disposable_email from the email's domain;
    - title.seniority and title.department from title.raw (`classify_title`).

    `person_key`, `lead_id` and everything not listed are kept as given: the person key
    is the record key capture chose and must not move the person to another partition.
    """
    out: LeadData = {**lead}  # sections are copied below before they change; the input stays
    contact: dict[str, Any] = dict(out.get("contact") or {})
    company: dict[str, Any] = dict(out.get("company") or {})
    title: dict[str, Any] = dict(out.get("title") or {})
    flags: dict[str, Any] = dict(out.get("flags") or {})
    custom: dict[str, Any] = dict(out.get("custom") or {})

    company["country"] = normalize_country(company.get("country"))
    country = normalize_country(out.get("country")) or company["country"]

    if not contact.get("first_name") and not contact.get("last_name"):
        full_name = _first_text(custom, _FULL_NAME_KEYS)
        if full_name:
            contact["first_name"], contact["last_name"] = split_full_name(full_name)
    website = _first_text(custom, _WEBSITE_KEYS)
    contact = normalize_contact(contact, country)
    out["country"] = country or phone_country(contact["phone"])

    email = contact["email"]
    given_domain = company.get("domain")
    company["domain"] = registered_domain(given_domain) or company_domain(email, website)
    if isinstance(company.get("name"), str):
        given = " ".join(company["name"].split()) or None
        company["name"] = clean_company_name(given)
        if given != company["name"]:
            company["legal_name"] = given  # as the lead wrote it, legal form included

    domain = email_domain(email)
    flags["free_email"] = is_free_email_domain(domain)
    flags["disposable_email"] = is_disposable_domain(domain)
    flags["role_email"] = is_role_address(email)
    flags["test"] = bool(flags.get("test")) or looks_like_test(
        email, contact["first_name"], contact["last_name"])

    raw_title = title.get("raw")
    if isinstance(raw_title, str):
        raw_title = " ".join(raw_title.split()) or None
    title["raw"] = raw_title
    if raw_title:
        title["seniority"], title["department"] = classify_title(raw_title)
    elif not title.get("seniority"):
        title["seniority"] = "unknown"

    out["contact"], out["company"], out["title"], out["flags"] = contact, company, title, flags
    return out


def _first_text(values: dict[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = values.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None

