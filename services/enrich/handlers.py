"""Enrich's handler: normalize each captured lead, link it to its person, match its
account, and emit `lead.enriched`. One query loads the batch's persons, one its accounts,
one transaction writes them.
"""

from __future__ import annotations

from typing import Any

from services.enrich import store
from services.enrich.enrichment import enrich_lead
from services.enrich.linking import Person, link_person, match_account
from shared import db, topics
from shared.events import Event, Outgoing, derived_id, make_event
from shared.lead import check_lead
from shared.service import Runtime

SERVICE = "enrich"
PROVIDER = "local"


async def handle_lead_captured(batch: list[Event], rt: Runtime) -> list[Outgoing]:
    now = rt.now()
    leads: list[dict[str, Any]] = []
    for event in batch:
        if event.type != "lead.captured":
            continue
        leads.append(enrich_lead(check_lead(event.data)))
    if not leads:
        return []
    keys = sorted({lead["person_key"] for lead in leads})
    domains = sorted({d for lead in leads if (d := (lead.get("company") or {}).get("domain"))})
    async with db.transaction(rt.engine) as conn:
        persons = await store.load_persons(conn, keys)
        accounts = await store.load_accounts_by_domain(conn, domains)
        changed: dict[str, Person] = {}
        links = []
        for lead in leads:
            person = link_person(lead, persons.get(lead["person_key"]), now)
            persons[person.person_key] = changed[person.person_key] = person
            links.append((lead["lead_id"], person.person_key, now))
            lead["account"] = match_account(lead, accounts)
            lead["enrichment"] = {"status": "complete", "provider": PROVIDER,
                                  "at": now.isoformat()}
            lead.setdefault("timings", {})["enriched_at"] = now.isoformat()
        await store.save_persons(conn, list(changed.values()), links)
    return [
        Outgoing(topics.ENRICHED, lead["person_key"], make_event(
            "lead.enriched", SERVICE, lead, event_id=derived_id(lead["lead_id"], "enriched"),
            at=now))
        for lead in leads
    ]
