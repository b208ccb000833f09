"""A person's activities: once per type and instant, in UTC time order, the latest kept."""

from __future__ import annotations

from shared.activity import MAX_ACTIVITIES, countable, merge


def test_one_instant_is_one_activity_whatever_its_offset_and_order_is_utc() -> None:
    known = [{"type": "site_visit", "at": "2026-11-24T10:00:00+01:00"}]
    new = [{"type": "site_visit", "at": "2026-11-24T09:00:00+00:00"},  # the same instant
           {"type": "site_visit", "at": "2026-11-24T09:30:00Z"},
           {"type": "webinar_attended", "at": "2026-11-24T08:00:00-02:00"},  # 10:00 UTC
           {"type": "email_open", "at": "not a time"},
           "not an activity"]
    merged = merge(known, new)  # type: ignore[arg-type]
    assert [(a["type"], a["at"]) for a in merged] == [
        ("site_visit", "2026-11-24T10:00:00+01:00"),
        ("site_visit", "2026-11-24T09:30:00Z"),
        ("webinar_attended", "2026-11-24T08:00:00-02:00"),
        ("email_open", "not a time"),
    ]
    assert merge(merged, new) == merged  # redelivered: nothing new


def test_a_person_keeps_the_latest_activities_up_to_the_one_cap() -> None:
    many = [{"type": "page_view", "at": f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00Z"}
            for i in range(MAX_ACTIVITIES + 5)]
    kept = merge([], many)
    assert len(kept) == MAX_ACTIVITIES
    assert kept[0] == many[5] and kept[-1] == many[-1]


def test_a_countable_activity_has_a_type_a_time_and_object_props() -> None:
    assert countable({"type": "demo_request", "at": "2026-11-24T09:00:00Z"})
    assert countable({"type": "demo_request", "at": "2026-11-24T09:00:00", "props": {}})
    assert not countable({"type": "", "at": "2026-11-24T09:00:00Z"})
    assert not countable({"type": "demo_request", "at": "yesterday"})
    assert not countable({"type": "demo_request", "at": "2026-11-24T09:00:00Z", "props": []})
    assert not countable("demo_request")
