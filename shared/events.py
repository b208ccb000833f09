"""CloudEvents 1.0 in structured mode: the envelope every topic carries (DESIGN.md s.4).

The record value is the JSON event; the header `content-type` says so. Event ids that a
redelivery must reproduce (a lead's routing, an SLA breach) are derived with UUIDv5 from
what they are about, so a repeat after a crash is recognisably the same event.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import orjson

from shared.errors import PermanentError

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())
TYPE_PREFIX = "io.leadflow."
SCHEMA_VERSION = "v1"
LEADFLOW_NS = uuid.UUID("6f1b7a36-1f0e-5a55-9d0c-6c6561646677")


def dataschema(short_type: str, version: str = SCHEMA_VERSION) -> str:
    return f"leadflow:{short_type}/{version}"


def uuid5_str(namespace: uuid.UUID, name: str) -> str:
    """`str(uuid.uuid5(namespace, name))`, computed without building UUID objects: ids are
    derived several times per lead on every hop."""
    digest = bytearray(hashlib.sha1(namespace.bytes + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def derived_id(*parts: str) -> str:
    """A stable event id for an event that a redelivery must reproduce."""
    return uuid5_str(LEADFLOW_NS, "/".join(parts))


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Event:
    """One CloudEvent. `type` is the short name (`lead.captured`)."""

    type: str
    source: str
    subject: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=lambda: utcnow().isoformat())
    dataschema: str = ""
    _encoded: bytes | None = field(default=None, repr=False, compare=False)
    # `data` already serialized (capture's validated lead, straight from pydantic);
    # then `data` holds only what the envelope needs (`lead_id`).
    _data_json: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.dataschema:
            self.dataschema = dataschema(self.type)

    def to_dict(self) -> dict[str, Any]:
        return {
            "specversion": SPECVERSION,
            "id": self.id,
            "source": self.source,
            "type": TYPE_PREFIX + self.type,
            "time": self.time,
            "subject": self.subject,
            "datacontenttype": "application/json",
            "dataschema": self.dataschema,
            "data": self.data,
        }

    def encode(self) -> bytes:
        """The record value; computed once (route stores and publishes the same bytes).
        Do not change `data` after encoding."""
        if self._encoded is None:
            if self._data_json is not None:
                envelope = self.to_dict()
                del envelope["data"]
                self._encoded = orjson.dumps(envelope)[:-1] + b',"data":' + self._data_json + b"}"
            else:
                self._encoded = orjson.dumps(self.to_dict())
        return self._encoded


def make_event(
    type_: str,
    service: str,
    data: Mapping[str, Any],
    *,
    event_id: str | None = None,
    at: datetime | None = None,
) -> Event:
    """An event about the lead `data` names. `data` is carried as given (a lead's
    TypedDict is a dict at run time), not copied."""
    lead_id = str(data["lead_id"])
    return Event(
        type=type_,
        source=f"/leadflow/{service}",
        subject=lead_id,
        data=cast(dict[str, Any], data),
        id=event_id or str(uuid.uuid4()),
        time=(at or utcnow()).isoformat(),
    )


def decode_event(value: bytes | None) -> Event:
    """Parse a record value; anything that is not a leadflow CloudEvent is permanent."""
    if not value:
        raise PermanentError("empty record value")
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PermanentError(f"record value is not JSON: {exc}") from exc
    return event_from_dict(raw)


def event_from_dict(raw: object) -> Event:
    """An event from its parsed JSON (a record value, or one stored by a service)."""
    if not isinstance(raw, dict):
        raise PermanentError("record value is not a JSON object")
    if raw.get("specversion") != SPECVERSION:
        raise PermanentError("not a CloudEvents 1.0 event (specversion)")
    type_ = raw.get("type")
    data = raw.get("data")
    if not isinstance(type_, str) or not type_.startswith(TYPE_PREFIX):
        raise PermanentError(f"unknown event type {type_!r}")
    if not isinstance(data, dict) or not data.get("lead_id"):
        raise PermanentError("event data has no lead_id")
    return Event(
        type=type_[len(TYPE_PREFIX):],
        source=str(raw.get("source", "")),
        subject=str(raw.get("subject", data["lead_id"])),
        data=data,
        id=str(raw.get("id") or uuid.uuid4()),
        time=str(raw.get("time") or utcnow().isoformat()),
        dataschema=str(raw.get("dataschema") or ""),
    )


@dataclass(slots=True)
class Outgoing:
    """An event to publish: the topic's short name (without prefix) and its record key."""

    topic: str
    key: str
    event: Event
