"""Lead sources: webhook forms, hosted forms and imports, and how their fields map onto
a lead."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from shared.conditions import (
    OrgError,
)
from shared.org.base import _Model
from shared.org.durations import Name

if TYPE_CHECKING:
    pass


# --- sources ---------------------------------------------------------------------------

# What a sender's field can be mapped to (`sources.*.fields`, `sources.imports[].columns`):
# the flat names `POST /v1/leads` accepts, `consent` (a checkbox: checked means marketing
# consent), `custom.<name>` (kept under the lead's `custom`), or `ignore` (dropped).
FIELD_TARGETS = frozenset((
    "email", "phone", "first_name", "last_name", "full_name", "company", "job_title",
    "website", "country", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "referrer", "landing_page", "form_id", "campaign_id", "ad_id",
    "consent", "ignore",
))
WEBHOOK_PROVIDERS = ("facebook", "google_ads", "linkedin", "typeform", "hubspot", "webflow",
                     "unbounce")
_SOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ORIGIN = re.compile(r"https?://[^/\s?#]+")


def _check_targets(value: dict[str, str]) -> dict[str, str]:
    for name, target in value.items():
        if not isinstance(target, str) or not (
                target in FIELD_TARGETS or (target.startswith("custom.") and len(target) > 7)):
            raise ValueError(
                f"{name!r} maps to {target!r}, which is not a lead field; use one of "
                f"{', '.join(sorted(FIELD_TARGETS))} or custom.<name>")
    return value


def _check_defaults(value: dict[str, str]) -> dict[str, str]:
    for target in value:
        if target in ("consent", "ignore") or (target not in FIELD_TARGETS and not (
                target.startswith("custom.") and len(target) > 7)):
            raise ValueError(f"{target!r} is not a lead field a default can set")
    return value


FieldMap = Annotated[dict[str, str], AfterValidator(_check_targets)]
Defaults = Annotated[dict[str, str], AfterValidator(_check_defaults)]


def _source_id(value: str) -> str:
    if not _SOURCE_ID.fullmatch(value):
        raise ValueError(f"{value!r} must be 1-128 letters, digits, '_', '-' or '.'")
    return value


SourceId = Annotated[str, AfterValidator(_source_id)]


class _Mapped(_Model):
    fields: FieldMap = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=dict)
    consent_text: str | None = None


class WebhookForm(_Mapped):
    """One form of a webhook provider, by the provider's own form id."""

    id: Name


class WebhookSource(_Mapped):
    """A provider's mapping for all its forms, and per form (which wins)."""

    forms: list[WebhookForm] = Field(default_factory=list)

    def form(self, form_id: str | None) -> WebhookForm | None:
        return next((f for f in self.forms if f.id == form_id), None) if form_id else None


class FormSource(_Mapped):
    """A plain HTML form posting to `POST /v1/forms/{id}`."""

    id: SourceId
    thank_you: str | None = None  # browsers are sent here (303) after a submission
    allowed_origins: list[str] = Field(default_factory=list)
    honeypot: str | None = None  # a hidden field people leave empty and bots fill

    @field_validator("thank_you")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like https://www.example.com "
                                 "(scheme and host, no path) or '*'")
        return [o.lower() for o in value]


class ImportSource(_Mapped):
    """A CSV layout for `POST /v1/imports?source={id}`: `columns` maps the CSV's headers."""

    id: SourceId
    columns: FieldMap = Field(default_factory=dict)
    channel: Literal["import", "event", "web_form", "ad_platform", "api"] = "import"


class Sources(_Model):
    forms: list[FormSource] = Field(default_factory=list)
    imports: list[ImportSource] = Field(default_factory=list)
    webhooks: dict[Literal[WEBHOOK_PROVIDERS], WebhookSource] = Field(  # type: ignore[valid-type]
        default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> Sources:
        for section in ("forms", "imports"):
            seen: dict[str, int] = {}
            for i, item in enumerate(getattr(self, section)):
                if item.id in seen:
                    raise OrgError(f"{section}[{i}].id",
                                   f"{item.id!r} is already defined at {section}[{seen[item.id]}]")
                seen[item.id] = i
        return self

    def form(self, form_id: str) -> FormSource | None:
        return next((f for f in self.forms if f.id == form_id), None)

    def import_(self, source_id: str) -> ImportSource | None:
        return next((f for f in self.imports if f.id == source_id), None)
