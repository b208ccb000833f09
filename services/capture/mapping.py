"""One mapping from any sender's fields to the lead capture validates. Pure: no I/O.

Every source (a webhook provider, an HTML form, a CSV import) first reduces what it
received to a `Submission`: the sender's own lead id, its answers by field name, the
attribution it knows (form, campaign, ad, UTM), consent, and whether it is a test. This
module turns a submission into the payload `intake.lead_from_payload` validates, so every
source lands in the same lead shape (DESIGN.md section 4).

A field is mapped, in order, by the org file's mapping for the sender's form, then for the
provider, then by conventional names (`email`, `Work Email`, `PHONE_NUMBER`, `firstname`,
`Company Name`, `jobtitle`, `utm_source`, ...; compared case- and punctuation-blind).
Anything else is kept under `custom` with the sender's own name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.org import FormSource, ImportSource, Sources, WebhookForm, WebhookSource

_CONVENTIONAL: dict[str, tuple[str, ...]] = {
    "email": ("email", "e_mail", "email_address", "work_email", "business_email",
              "your_email", "mail", "emailaddress", "e_mail_address", "courriel"),
    "phone": ("phone", "phone_number", "work_phone", "work_phone_number", "mobile",
              "mobile_phone", "mobile_number", "telephone", "tel", "phonenumber",
              "mobilephone", "cell", "cell_phone", "your_phone", "telefon"),
    "first_name": ("first_name", "firstname", "given_name", "fname", "first", "forename",
                   "vorname", "prenom"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "lname", "last",
                  "nachname", "nom"),
    "full_name": ("full_name", "fullname", "name", "your_name", "contact_name"),
    "company": ("company", "company_name", "companyname", "organization", "organisation",
                "organization_name", "business_name", "employer", "account_name", "firma",
                "entreprise", "societe"),
    "job_title": ("job_title", "jobtitle", "title", "position", "role", "job_role",
                  "work_title"),
    "website": ("website", "company_website", "web_site", "url", "website_url",
                "company_url", "homepage"),
    "country": ("country", "country_code", "country_name", "country_region", "land", "pays"),
    "utm_source": ("utm_source",), "utm_medium": ("utm_medium",),
    "utm_campaign": ("utm_campaign",), "utm_term": ("utm_term",),
    "utm_content": ("utm_content",), "referrer": ("referrer", "referer"),
    "landing_page": ("landing_page", "page_url", "landing_page_url"),
    "consent": ("consent", "marketing_consent", "gdpr_consent", "opt_in", "optin",
                "marketing_opt_in", "email_opt_in", "newsletter_opt_in", "subscribe"),
}
CONVENTIONAL: dict[str, str] = {alias: target for target, aliases in _CONVENTIONAL.items()
                                for alias in aliases}
SOURCE_TARGETS = frozenset(("utm_source", "utm_medium", "utm_campaign", "utm_term",
                            "utm_content", "referrer", "landing_page", "form_id",
                            "campaign_id", "ad_id"))
_NON_WORD = re.compile(r"[^0-9a-z]+")
_TRUE = frozenset(("1", "true", "yes", "y", "on", "checked", "agree", "agreed", "accepted",
                   "ja", "oui", "si", "sí", "x"))


def field_key(name: str) -> str:
    """A field name compared case- and punctuation-blind: `Work E-mail` -> `work_e_mail`."""
    return _NON_WORD.sub("_", name.casefold()).strip("_")


def truthy(value: Any) -> bool:
    """A checkbox's value as the senders send it: true, "1", "yes", "on", "checked", ..."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, list):
        return any(truthy(v) for v in value)
    return isinstance(value, str) and value.strip().casefold() in _TRUE


@dataclass
class ConsentItem:
    key: str  # the checkbox as the sender names it
    checked: bool
    text: str | None = None


@dataclass
class Submission:
    """One lead as a source received it, before mapping."""

    provider: str
    channel: str
    where: str  # where in the delivery, for error messages: "entry[0].changes[1]"
    sender_id: str | None  # the sender's own lead id; None: derive from the content
    answers: dict[str, Any] = field(default_factory=dict)  # by the sender's field names
    source: dict[str, str] = field(default_factory=dict)  # form_id, campaign_id, ad_id, utm_*
    consent: list[ConsentItem] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # kept under custom as given
    test: bool = False
    submitted_at: datetime | None = None
    form_key: str | None = None  # the form id the org file's mapping is looked up by
    # What a field is when neither the org file nor its name says (Typeform's and
    # Webflow's field types: an `email` field whose ref is a generated id).
    hints: dict[str, str] = field(default_factory=dict)


Mapping_ = FormSource | ImportSource | WebhookForm | WebhookSource


def mappings_for(sources: Sources, sub: Submission) -> list[Mapping_]:
    """The org file's mappings that apply to a submission, most specific first."""
    out: list[Mapping_] = []
    webhook = sources.webhooks.get(sub.provider)
    if webhook is not None:
        form = webhook.form(sub.form_key or sub.source.get("form_id"))
        if form is not None:
            out.append(form)
        out.append(webhook)
    return out


def _first_text(value: Any) -> Any:
    """A single answer: the first of a list (Unbounce sends every value as a list)."""
    if isinstance(value, list):
        items = [v for v in value if v not in (None, "")]
        if not items:
            return None
        if len(items) == 1:
            return items[0]
        if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in items):
            return ", ".join(str(v) for v in items)
        return items[0]
    if isinstance(value, bool):
        return str(value).lower()
    return value


@dataclass
class _Draft:
    """A payload being built from one submission's answers."""

    consent: list[ConsentItem]
    payload: dict[str, Any] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # lead field -> sender's field

    def place(self, name: str, raw: Any, target: str | None) -> None:
        """One answer under its target; the first field mapped to a target wins, the
        others are kept under custom as given."""
        if target == "ignore":
            return
        value = _first_text(raw)
        if target is None:
            self.custom[name] = raw
        elif target == "consent":
            self.consent.append(ConsentItem(name, truthy(raw)))
        elif target.startswith("custom."):
            self.custom[target[7:]] = raw
        elif value is None or value == "":
            return
        elif target in SOURCE_TARGETS and target not in self.source:
            self.source[target] = value
            self.origin[f"source.{target}"] = name
        elif target not in SOURCE_TARGETS and target not in self.payload:
            self.payload[target] = value
            self.origin[_lead_path(target)] = name
        else:
            self.custom[name] = raw

    def default(self, target: str, value: Any) -> None:
        if target.startswith("custom."):
            self.custom.setdefault(target[7:], value)
        elif target in SOURCE_TARGETS:
            self.source.setdefault(target, value)
        else:
            self.payload.setdefault(target, value)


def _explicit(mappings: list[Mapping_], columns: bool) -> dict[str, str]:
    """The org file's field names for this submission, the most specific winning."""
    explicit: dict[str, str] = {}
    for m in reversed(mappings):  # most specific last, so it wins
        explicit.update(m.fields)
        if columns and isinstance(m, ImportSource):
            explicit.update(m.columns)
    return explicit


def _consent(items: list[ConsentItem], consent_text: str | None,
             captured_at: datetime | None) -> dict[str, Any]:
    for item in items:
        if item.text is None and consent_text:
            item.text = consent_text
    checked = any(item.checked for item in items)
    texts = [item.text for item in items if item.text and item.checked]
    return {
        "marketing": checked,
        "basis": "consent" if checked else None,
        "text": "\n".join(texts) or None,
        "captured_at": (captured_at or None),
        "items": [{"key": i.key, "checked": i.checked, "text": i.text} for i in items],
    }


def payload_from_submission(sub: Submission, mappings: list[Mapping_] | None = None,
                            *, columns: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """The payload for `lead_from_payload`, and which sender field fed each lead field
    (so an error can name the sender's field). `columns` reads `ImportSource.columns`."""
    mappings = mappings or []
    explicit = _explicit(mappings, columns)
    explicit_keys = {field_key(k): v for k, v in explicit.items()}
    draft = _Draft(list(sub.consent))
    for name, raw in sub.answers.items():
        draft.place(name, raw, explicit.get(name) or explicit_keys.get(field_key(name))
                    or CONVENTIONAL.get(field_key(name)) or sub.hints.get(name))
    for m in mappings:
        for target, value in m.defaults.items():
            draft.default(target, value)
    for key, value in sub.source.items():
        if value not in (None, ""):
            draft.source.setdefault(key, value)
    for key, value in sub.extra.items():
        draft.custom.setdefault(key, value)

    payload = draft.payload
    if draft.consent:
        payload["consent"] = _consent(
            draft.consent, next((m.consent_text for m in mappings if m.consent_text), None),
            sub.submitted_at)
    payload["source"] = draft.source
    if draft.custom:
        payload["custom"] = draft.custom
    if sub.test:
        payload["flags"] = {"test": True}
    if sub.submitted_at is not None:
        payload["submitted_at"] = sub.submitted_at.astimezone(UTC).isoformat()
    return payload, draft.origin


def _lead_path(target: str) -> str:
    return {"email": "contact.email", "phone": "contact.phone",
            "first_name": "contact.first_name", "last_name": "contact.last_name",
            "job_title": "job_title", "full_name": "full_name"}.get(target, target)


def sender_field(origin: Mapping[str, str], lead_field: str) -> str | None:
    """The sender's field that fed a lead field named in a validation error."""
    return origin.get(lead_field) or origin.get(lead_field.removeprefix("contact."))
