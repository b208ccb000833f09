"""Builders for the unit tests: leads in their JSON form and org files, each with
sensible defaults so a test states only what it is about.

    make_lead(company={"employees": 300}, score={"temperature": "hot"})
    make_org(teams=[team("sales", "ana", rep("ben", weight=2), strategy="weighted")])
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from shared.lead import Lead
from shared.org import OrgFile, load_org
from shared.service import Runtime

# A Monday, noon UTC: inside every business day the demo teams keep.
NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

LEAD_ID = "6a1f3c2e-0b4d-5e8f-9a7b-1c2d3e4f5a6b"
EMAIL = "ana.diaz@acme.com"

# The `runtime` fixture (tests/conftest.py): `await runtime("route")` starts one.
StartRuntime = Callable[..., Awaitable[Runtime]]


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_LEAD_DEFAULTS: dict[str, Any] = {
    "lead_id": LEAD_ID,
    "person_key": sha256_hex(EMAIL),
    "received_at": NOW,
    "source": {"channel": "web_form", "provider": "typeform", "form_id": "demo-request",
               "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring"},
    "contact": {"email": EMAIL, "phone": "+14155550123", "first_name": "Ana",
                "last_name": "Diaz"},
    "company": {"name": "Acme", "domain": "acme.com", "industry": "software",
                "employees": 50, "country": "US"},
    "title": {"raw": "VP of Sales", "seniority": "vp", "department": "sales"},
    "country": "US",
    "timings": {"received_at": NOW},
}

_BARE: dict[str, Any] = {key: _LEAD_DEFAULTS[key] for key in ("lead_id", "person_key",
                                                            "received_at")}

# What an optional section gets when a test gives only part of it (`score={"temperature":
# "hot"}`): the model requires these fields, the test does not care about them.
_SECTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "score": {"points": 0, "temperature": "cold", "stage": "lead", "reasons": [],
              "model": "test-model"},
    "account": {"id": "acct-1", "name": "Acme", "owner_rep_id": None, "match": "domain",
                "confidence": 1.0},
    "enrichment": {"status": "complete", "provider": "local", "at": NOW},
    "assignment": {"kind": "rep", "attempt": 1},
}


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` merged in: mappings merge key by key, anything else
    (lists, scalars, None) replaces."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_lead(*, bare: bool = False, **overrides: Any) -> dict[str, Any]:
    """A lead as `Lead.model_dump(mode="json")` gives it, defaults deep-merged with
    `overrides`. A partial optional section (`score`, `account`, ...) is completed with
    neutral values; an unknown top-level key is an error, not silently dropped.

    `bare=True` starts from nothing but the required fields (id, person key, time), for
    tests about what an empty section means."""
    unknown = set(overrides) - set(Lead.model_fields)
    if unknown:
        raise TypeError(f"make_lead: not fields of a lead: {sorted(unknown)}")
    data = copy.deepcopy(_BARE if bare else _LEAD_DEFAULTS)
    for key, value in overrides.items():
        if key in _SECTION_DEFAULTS and isinstance(value, dict) and data.get(key) is None:
            data[key] = deep_merge(_SECTION_DEFAULTS[key], value)
        elif isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = deep_merge(data[key], value)
        else:
            data[key] = copy.deepcopy(value)
    return Lead.model_validate(data).model_dump(mode="json")


def activity(kind: str, at: datetime | str = NOW, **props: Any) -> dict[str, Any]:
    return {"type": kind, "at": at.isoformat() if isinstance(at, datetime) else at,
            "props": props}


# --- org files -------------------------------------------------------------------------

def rep(rep_id: str, **fields: Any) -> dict[str, Any]:
    """A rep entry: `rep("ana", weight=2, capacity=10, leave=[{"from": ..., "to": ...}])`."""
    return {"id": rep_id, "name": rep_id.title(), "email": f"{rep_id}@example.com", **fields}


def team(team_id: str, *reps: str | dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A team entry; reps by id or as `rep(...)` entries, in rotation order."""
    return {"id": team_id, "strategy": "round_robin", "timezone": "UTC",
            "reps": [rep(r) if isinstance(r, str) else r for r in reps], **fields}


def rule(name: str, to: dict[str, str], when: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "when": when or {}, "to": to}


DEFAULT_SCORING: dict[str, Any] = {
    "mql_at": 50,
    "temperature": {"hot": {"points_at_least": 70, "or_any_activity": ["demo_request"]},
                    "warm": {"points_at_least": 30}},
    "rules": [{"name": "vp", "when": {"title.seniority": {"eq": "vp"}}, "points": 15}],
}
DEFAULT_TEAMS: list[dict[str, Any]] = [team("sales", "ana", "ben", "chloe")]
DEFAULT_ROUTING: dict[str, Any] = {"rules": [rule("everyone", {"team": "sales"})]}
DEFAULT_SLA: dict[str, Any] = {"hot": {"within": "5m", "clock": "always"}}


def make_org(base: str | dict[str, Any] | None = None, /, **sections: Any) -> OrgFile:
    """An org file read by `load_org` (so it is validated exactly like a real one).

    `base` is YAML text or a dict (default: one round-robin team `sales` with reps ana,
    ben, chloe and one catch-all rule to it); each keyword replaces a whole top-level
    section (`scoring`, `teams`, `routing`, `sla`, `sources`)."""
    if isinstance(base, str):
        document = yaml.safe_load(base)
    elif base is not None:
        document = copy.deepcopy(base)
    else:
        document = {"scoring": DEFAULT_SCORING, "teams": DEFAULT_TEAMS,
                    "routing": DEFAULT_ROUTING, "sla": DEFAULT_SLA}
    document = {**document, **copy.deepcopy(sections)}
    return load_org(yaml.safe_dump(document, sort_keys=False), "test-org.yaml")


DEMO_ORG = Path(__file__).resolve().parents[1] / "deploy" / "demo" / "org.yaml"


def demo_org_open_all_hours(directory: Path) -> Path:
    """The demo org file with every team set to `outside_hours: assign`: the same rules,
    hours and SLA clocks, but reps stay eligible when their team is closed."""
    document = yaml.safe_load(DEMO_ORG.read_text(encoding="utf-8"))
    for team in document["teams"]:
        team["outside_hours"] = "assign"
    path = directory / "org-open-all-hours.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
