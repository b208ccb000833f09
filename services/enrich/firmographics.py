"""Firmographics: what a company domain says about the company (name, industry, size,
country), and how a provider's answer becomes part of the lead. Pure: no I/O.

Whatever the provider (the local CSV, a commercial API), its answer is reduced to a
`Firmographics`, and the lead's company takes from it only the fields the lead left
empty: what the person typed wins over what a database guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from services.enrich.companies import clean_company_name
from shared.identity import normalize_country
from shared.lead import LeadData

FIELDS = ("name", "industry", "employees", "country")
# 800 | 1,200 | 5 000 | 1.5k | 10k+ | 51-200 | 51 to 200 (a range's lower bound counts)
_HEADCOUNT = re.compile(r"(\d{1,3}(?:[,. ]\d{3})+|\d{1,9}(?:\.\d+)?)\s*(k)?\s*\+?"
                        r"(?:\s*(?:-|–|to|bis|a)\s*\d[\d,. ]*\s*k?\+?)?"
                        r"(?:\s*(?:employees|staff|people|mitarbeiter|employes|empleados))?")


@dataclass(frozen=True)
class Firmographics:
    name: str | None = None
    industry: str | None = None
    employees: int | None = None
    country: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Firmographics:
        return cls(**{k: data.get(k) for k in FIELDS})


class BadAnswerError(ValueError):
    """A provider's answer that cannot be read as firmographics (garbage)."""


def parse_employees(value: Any) -> int | None:
    """A head count: 800, "800", "1,200", "51-200" (the range's lower bound), "10k"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadAnswerError("employees is a boolean")
    if isinstance(value, int | float):
        if value < 0 or value > 10_000_000:
            raise BadAnswerError(f"employees {value} is out of range")
        return int(value)
    if not isinstance(value, str):
        raise BadAnswerError("employees is not a number")
    text = value.strip().lower()
    match = _HEADCOUNT.fullmatch(text)
    if match is None:
        raise BadAnswerError(f"employees {value[:40]!r} is not a head count")
    digits, thousands = match.group(1), match.group(2)
    if thousands:
        number = float(digits.replace(",", ".")) * 1000
    elif "." in digits and not re.fullmatch(r"\d{1,3}(?:[,. ]\d{3})+", digits):
        raise BadAnswerError(f"employees {value[:40]!r} is not a whole number")
    else:
        number = int(re.sub(r"[,. ]", "", digits))
    return parse_employees(int(number))


def _text(value: Any, field: str, limit: int = 200) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise BadAnswerError(f"{field} is not text")
    text = " ".join(str(value).split())
    if len(text) > limit:
        raise BadAnswerError(f"{field} is longer than {limit} characters")
    return text or None


def firmographics_from(values: Mapping[str, Any]) -> Firmographics:
    """Validated firmographics from raw field values (a CSV row, a mapped API answer)."""
    industry = _text(values.get("industry"), "industry")
    country_raw = _text(values.get("country"), "country")
    return Firmographics(
        name=clean_company_name(_text(values.get("name"), "name")),
        industry=industry.casefold() if industry else None,
        employees=parse_employees(values.get("employees")),
        country=normalize_country(country_raw) if country_raw else None,
    )


def dig(document: Any, path: str) -> Any:
    """`metrics.employees` or `company.geo.countryCode` in a JSON answer; lists by index
    (`industries.0`). None when absent."""
    current = document
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def map_answer(document: Any, mapping: Mapping[str, str]) -> Firmographics:
    """A provider's JSON answer through the configured field mapping (lead field → path
    in the answer); BadAnswerError when it is not an object or a value has the wrong type."""
    if not isinstance(document, Mapping):
        raise BadAnswerError("the answer is not a JSON object")
    return firmographics_from({field: dig(document, path) for field, path in mapping.items()})


def apply_firmographics(lead: LeadData, found: Firmographics) -> list[str]:
    """Fill the lead's empty company fields (and country) from `found`; returns which."""
    company = lead.setdefault("company", {})
    filled = []
    for field, value in found.as_dict().items():
        if company.get(field) in (None, ""):
            company[field] = value
            filled.append(field)
    if not lead.get("country") and found.country:
        lead["country"] = found.country
    return filled


def parse_field_mapping(text: str) -> dict[str, str]:
    """`name=company.name,industry=category.industry,employees=metrics.employees`."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        field, sep, path = part.partition("=")
        field, path = field.strip(), path.strip()
        if not sep or field not in FIELDS or not path:
            raise ValueError(f"{part!r}: expected <field>=<path in the answer>, field one "
                             f"of {', '.join(FIELDS)}")
        mapping[field] = path
    if not mapping:
        raise ValueError("maps no field")
    return mapping
