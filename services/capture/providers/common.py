"""What every lead source module shares: the delivery it is handed (`Webhook`), what it
reads a delivery into (`Parsed`: `Submission`s, or `Fetch`es for the ids-only providers),
the `Provider` it registers, and the readers of senders' JSON, ids and timestamps. Pure.

Every id is kept as a string (ad platforms' ids exceed 2^53). A body that cannot be read
raises `BadDeliveryError` naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from services.capture.mapping import Submission
from shared.errors import InvalidInputError
from shared.settings import Settings

if TYPE_CHECKING:
    from services.capture.adapters.leadapis import LeadApis

AD_PLATFORM = "ad_platform"
WEB_FORM = "web_form"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_ITEMS = 1000  # Meta batches up to 1000 updates per notification
_BIG_INT = re.compile(rb"\d{20,}")


class BadDeliveryError(InvalidInputError):
    """A delivery capture cannot read: 422 naming `field`."""


@dataclass
class Fetch:
    """A lead whose answers the provider's API holds (Meta, LinkedIn)."""

    provider: str
    where: str
    sender_id: str
    ref: dict[str, str] = field(default_factory=dict)


@dataclass
class Parsed:
    items: list[Submission | Fetch]
    ignored: int = 0  # notifications that are not new leads (deletions, partials, ...)


@dataclass(frozen=True)
class Webhook:
    """One delivery as its sender made it: what a provider verifies and reads."""

    headers: Mapping[str, str]  # lower-case names
    body: bytes  # the raw bytes, as signed
    content_type: str
    query: Mapping[str, str]
    uri: str  # the public URL the sender called (HubSpot signs it)
    now: datetime
    fields: Mapping[str, Any] | None = None  # a form post's fields, read once verified

    @cached_property
    def document(self) -> Any:
        """The body as JSON (read once, for a provider that verifies inside it)."""
        return load_json(self.body)


def _keep(body: bytes, _: Settings) -> bytes:
    return body


@dataclass(frozen=True)
class Provider:
    """A lead source capture takes webhooks from, at `/v1/webhooks/{name}`."""

    name: str
    channel: str
    settings: tuple[str, ...]  # what a delivery needs set (a handshake needs less)
    verify: Callable[[Webhook, Settings], None]  # raises BadSignatureError
    parse: Callable[[Webhook], Parsed]  # raises BadDeliveryError
    forms: bool = False  # takes form posts (urlencoded, multipart) as well as JSON
    # The GET a provider makes before it sends leads: the answer (plain text, or JSON),
    # given `handshake_settings`; raises BadSignatureError (403) or BadDeliveryError.
    handshake: Callable[[Mapping[str, str], Settings], str | dict[str, str]] | None = None
    handshake_settings: tuple[str, ...] = ()
    # Ids-only providers: what their API holds for a `Fetch`, and the submission it makes.
    fetch: Callable[[Fetch, LeadApis], Awaitable[Any]] | None = None
    from_fetched: Callable[[Fetch, Any], Submission] | None = None
    redact: Callable[[bytes, Settings], bytes] = _keep  # the body as kept for tracing
    empty_success: bool = False  # success is 200 with `{}`, not the per-lead results
    non_leads_succeed: bool = False  # a submission that is no lead is answered 200

    def missing(self, settings: Settings, names: tuple[str, ...] | None = None) -> list[str]:
        """The settings (environment variable names) not set on this server."""
        return [f"LEADFLOW_{s.upper()}" for s in (self.settings if names is None else names)
                if not getattr(settings, s)]


# --- reading bodies ----------------------------------------------------------------------

def load_json(body: bytes, where: str = "body") -> Any:
    """JSON as senders send it: strict UTF-8, no NaN, bounded depth (orjson), and integers
    of any size kept exact (orjson turns those beyond 64 bits into floats)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadDeliveryError(where, f"not valid JSON: {exc}") from None
    if _BIG_INT.search(body):
        try:
            value = json.loads(body, parse_int=_exact_int)
        except (ValueError, RecursionError):
            raise BadDeliveryError(where, "not valid JSON") from None
    return value


def _exact_int(digits: str) -> int | str:
    number = int(digits)
    return number if abs(number) < 2**63 else digits


def json_object(body: Any) -> dict[str, Any]:
    """A JSON body that must be an object."""
    if not isinstance(body, dict):
        raise BadDeliveryError("body", "must be a JSON object")
    return body


def text_id(value: Any, where: str, *, required: bool = True) -> str | None:
    """An id as a string, whether sent as a JSON string or number; None when absent and
    not `required`."""
    if value is None or value == "":
        if required:
            raise BadDeliveryError(where, "is required")
        return None
    return required_id(value, where)


def required_id(value: Any, where: str) -> str:
    """An id the sender must send, as a string."""
    if value is None or value == "":
        raise BadDeliveryError(where, "is required")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadDeliveryError(where, "must be a string or an integer id")
    out = str(value).strip()
    if not out or len(out) > 255:
        raise BadDeliveryError(where, "must be 1-255 characters")
    if not out.isprintable():
        raise BadDeliveryError(where, "must not hold control characters")
    return out


def object_at(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadDeliveryError(where, "must be an object")
    return value


def list_at(value: Any, where: str, *, required: bool = True) -> list[Any]:
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise BadDeliveryError(where, "must be a list")
    if len(value) > MAX_ITEMS:
        raise BadDeliveryError(where, f"more than {MAX_ITEMS} items")
    return value


def dict_or_empty(value: Any) -> dict[str, Any]:
    """An optional object the provider documents: anything else reads as empty."""
    return value if isinstance(value, dict) else {}


def answer_value(answer: Any) -> Any:
    """A field's value: the first of Meta's `values`, Unbounce's lists, ..."""
    if isinstance(answer, list):
        return answer[0] if len(answer) == 1 else answer
    return answer


def parse_time(value: Any) -> datetime | None:
    """A sender's timestamp: ISO 8601 (with `+0000` or `Z`), or Unix seconds or ms."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            number = float(value)
            if number > 1e11:  # milliseconds
                number /= 1000
            return datetime.fromtimestamp(number, UTC)
        if isinstance(value, str):
            text = value.strip().replace(" ", "T", 1)
            if re.search(r"[+-]\d{4}$", text):
                text = f"{text[:-2]}:{text[-2:]}"
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def utm_from_url(url: Any) -> dict[str, str]:
    """The `utm_*` parameters of a landing page URL."""
    if not isinstance(url, str):
        return {}
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    return {k: v for k, v in parse_qsl(query) if k in UTM_KEYS and v}
