"""The CloudEvents envelope: its attributes, the encode/decode round trip, stable ids for
events a redelivery must reproduce, and garbage refused as permanent."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from shared.errors import PermanentError
from shared.events import (
    CONTENT_TYPE,
    CONTENT_TYPE_HEADER,
    Event,
    decode_event,
    derived_id,
    make_event,
)
from tests.builders import LEAD_ID, NOW, make_lead


def captured(**kw: Any) -> Event:
    return make_event("lead.captured", "capture", make_lead(), **kw)


def envelope(**changes: Any) -> dict[str, Any]:
    """A valid encoded event as a dict; `changes` replace (or, as None, remove) attributes."""
    out = captured(event_id="e-1", at=NOW).to_dict()
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    ("short_type", "service"),
    [("lead.captured", "capture"), ("lead.enriched", "enrich"), ("lead.scored", "score"),
     ("lead.routed", "route"), ("lead.reassigned", "route"), ("sla.breached", "route")],
)
def test_envelope_carries_the_cloudevents_attributes(short_type: str, service: str) -> None:
    event = make_event(short_type, service, make_lead(), event_id="e-1", at=NOW)

    assert event.to_dict() == {
        "specversion": "1.0",
        "id": "e-1",
        "source": f"/leadflow/{service}",
        "type": f"io.leadflow.{short_type}",
        "time": NOW.isoformat(),
        "subject": LEAD_ID,
        "datacontenttype": "application/json",
        "dataschema": f"leadflow:{short_type}/v1",
        "data": make_lead(),
    }


def test_structured_mode_content_type_header() -> None:
    assert CONTENT_TYPE == "application/cloudevents+json"
    assert CONTENT_TYPE_HEADER == ("content-type", b"application/cloudevents+json")


def test_event_time_is_rfc3339_with_an_offset() -> None:
    in_berlin = datetime(2025, 3, 3, 13, 0, tzinfo=timezone(timedelta(hours=1)))

    assert captured(at=in_berlin).time == "2025-03-03T13:00:00+01:00"
    assert datetime.fromisoformat(captured().time).utcoffset() == timedelta(0)


def test_event_without_an_id_gets_a_fresh_one() -> None:
    first, second = captured(), captured()

    assert first.id != second.id
    uuid.UUID(first.id)


def test_subject_is_the_lead_id_even_when_it_is_not_a_string() -> None:
    event = make_event("sla.warning", "route", {"lead_id": uuid.UUID(LEAD_ID), "due_at": "x"})

    assert event.subject == LEAD_ID


def test_encode_then_decode_gives_the_same_event() -> None:
    event = captured(event_id=derived_id(LEAD_ID, "captured"), at=NOW)

    decoded = decode_event(event.encode())

    assert decoded == event
    assert decoded.type == "lead.captured"
    assert decoded.encode() == event.encode()


def test_decode_ignores_attributes_it_does_not_know() -> None:
    raw = envelope(traceparent="00-abc-def-01", partitionkey="pk")

    assert decode_event(orjson.dumps(raw)) == decode_event(orjson.dumps(envelope()))


def test_decode_fills_optional_attributes_it_can_derive() -> None:
    raw = envelope(subject=None, id=None, time=None, dataschema=None, source=None)

    event = decode_event(orjson.dumps(raw))

    assert event.subject == LEAD_ID
    uuid.UUID(event.id)
    datetime.fromisoformat(event.time)
    assert event.dataschema == "leadflow:lead.captured/v1"


def test_decode_keeps_a_newer_dataschema_version() -> None:
    event = decode_event(orjson.dumps(envelope(dataschema="leadflow:lead.captured/v2")))

    assert event.dataschema == "leadflow:lead.captured/v2"


def test_a_future_leadflow_event_type_decodes_so_handlers_can_skip_it() -> None:
    event = decode_event(orjson.dumps(envelope(type="io.leadflow.lead.merged")))

    assert event.type == "lead.merged"


@pytest.mark.parametrize(
    ("parts_a", "parts_b", "same"),
    [
        ((LEAD_ID, "routed", "1"), (LEAD_ID, "routed", "1"), True),
        ((LEAD_ID, "routed", "1"), (LEAD_ID, "routed", "2"), False),
        ((LEAD_ID, "routed", "1"), (LEAD_ID, "enriched"), False),
        ((LEAD_ID, "routed"), (str(uuid.uuid4()), "routed"), False),
    ],
)
def test_derived_id_is_stable_for_the_same_parts_only(
    parts_a: tuple[str, ...], parts_b: tuple[str, ...], same: bool
) -> None:
    assert (derived_id(*parts_a) == derived_id(*parts_b)) is same


def test_derived_id_is_a_fixed_uuid5() -> None:
    # Pinned: ids stored by earlier releases must still match after an upgrade.
    assert derived_id(LEAD_ID, "routed", "1") == str(uuid.uuid5(
        uuid.UUID("6f1b7a36-1f0e-5a55-9d0c-6c6561646677"), f"{LEAD_ID}/routed/1"))
    assert uuid.UUID(derived_id("x")).version == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(None, "empty", id="none"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"\x00\xff\xfe", "not JSON", id="binary"),
        pytest.param(b"{\"specversion\": \"1.0\"", "not JSON", id="truncated"),
        pytest.param(b"hello", "not JSON", id="text"),
        pytest.param(b"[1, 2]", "not a JSON object", id="array"),
        pytest.param(b"\"lead.captured\"", "not a JSON object", id="string"),
        pytest.param(b"null", "not a JSON object", id="null"),
        pytest.param(orjson.dumps(envelope(specversion="0.3")), "specversion", id="old-spec"),
        pytest.param(orjson.dumps(envelope(specversion=1.0)), "specversion",
                     id="specversion-number"),
        pytest.param(orjson.dumps(envelope(specversion=None)), "specversion",
                     id="no-specversion"),
        pytest.param(orjson.dumps(envelope(type="com.example.lead.captured")), "type",
                     id="foreign-type"),
        pytest.param(orjson.dumps(envelope(type="lead.captured")), "type",
                     id="type-without-prefix"),
        pytest.param(orjson.dumps(envelope(type=7)), "type", id="type-not-a-string"),
        pytest.param(orjson.dumps(envelope(type=None)), "type", id="no-type"),
        pytest.param(orjson.dumps(envelope(data=None)), "lead_id", id="no-data"),
        pytest.param(orjson.dumps(envelope(data=[LEAD_ID])), "lead_id", id="data-not-object"),
        pytest.param(orjson.dumps(envelope(data={"email": "x@acme.com"})), "lead_id",
                     id="no-lead-id"),
        pytest.param(orjson.dumps(envelope(data={"lead_id": ""})), "lead_id",
                     id="empty-lead-id"),
    ],
)
def test_garbage_is_a_permanent_error(value: bytes | None, message: str) -> None:
    with pytest.raises(PermanentError, match=message):
        decode_event(value)


@pytest.mark.parametrize("name", ["", "a", "lead/routed/1", "ünïcode ✓", "x" * 500])
def test_fast_uuid5_matches_the_standard_library(name: str) -> None:
    from shared.events import LEADFLOW_NS, uuid5_str

    assert uuid5_str(LEADFLOW_NS, name) == str(uuid.uuid5(LEADFLOW_NS, name))


@pytest.mark.parametrize("key", [b"", b"a", b"lead", bytes(range(64)),
                                 *(uuid.uuid5(uuid.NAMESPACE_DNS, str(i)).hex.encode()
                                   for i in range(200))])
def test_the_partitioner_puts_keys_where_kafkas_default_partitioner_does(key: bytes) -> None:
    from aiokafka.partitioner import DefaultPartitioner

    from shared.kafka import PARTITIONER

    for count in (1, 3, 6, 12):
        parts = list(range(count))
        assert PARTITIONER(key, parts, parts) == DefaultPartitioner()(key, parts, parts)
