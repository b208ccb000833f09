"""Enrich's handler: normalize each captured lead, look up its company's firmographics
(within the lead's budget), link it to its person, match its account, and emit
`lead.enriched`. One lookup call for the batch's domains, one query loads the batch's
persons, one its accounts, one transaction writes them.
"""

from __future__ import annotations

import time
from typing import Any

from services.enrich import store
from services.enrich.adapters.firmographics import NoProvider, Provider
from services.enrich.enrichment import enrich_lead
from services.enrich.firmographics import apply_firmographics
from services.enrich.linking import Person, link_person, match_account
from shared import db, metrics, topics
from shared.events import Event, Outgoing, derived_id, make_event
from shared.lead import LeadData, check_lead
from shared.service import Runtime

SERVICE = "enrich"
_COMPANY_FIELDS = ("name", "industry", "employees")


def _needs_lookup(lead: LeadData) -> str | None:
    """The company domain to look up, when the lead lacks something a provider knows."""
    company = lead.get("company") or {}
    flags = lead.get("flags") or {}
    domain = company.get("domain")
    if not domain or flags.get("free_email") or flags.get("disposable_email"):
        return None
    return domain if any(company.get(f) in (None, "") for f in _COMPANY_FIELDS) else None


async def handle_lead_captured(batch: list[Event], rt: Runtime,
                               provider: Provider | None = None,
                               names: store.AccountNames | None = None) -> list[Outgoing]:
    started = time.monotonic()
    provider = provider or NoProvider()
    now = rt.now()
    leads: list[LeadData] = []
    for event in batch:
        if event.type != "lead.captured":
            continue
        leads.append(enrich_lead(check_lead(event.data)))
    if not leads:
        return []
    wanted = {lead["lead_id"]: d for lead in leads if (d := _needs_lookup(lead))}
    budget = rt.settings.enrich_budget_s - (time.monotonic() - started)
    found = await provider.lookup(sorted(set(wanted.values())), max(0.0, budget)) \
        if wanted else {}
    for lead in leads:
        domain = wanted.get(lead["lead_id"])
        record: dict[str, Any] = {"status": "complete", "provider": provider.name,
                                  "at": now.isoformat()}
        if domain is not None and domain not in found:
            record.update(status="partial", reason=f"{provider.name} gave no answer for "
                          f"{domain} within {rt.settings.enrich_budget_s:g} s")
        elif domain is not None and (answer := found[domain]) is not None:
            filled = apply_firmographics(lead, answer)
            if filled:
                record["filled"] = filled
        lead["enrichment"] = record
        metrics.ENRICHMENT_STATUS.labels(record["status"]).inc()
    keys = sorted({lead["person_key"] for lead in leads})
    domains = sorted({d for lead in leads if (d := (lead.get("company") or {}).get("domain"))})
    async with db.transaction(rt.engine) as conn:
        persons, accounts, version = await store.load_batch(conn, keys, domains)
        by_name = await names.current(conn, version) if names is not None else None
        changed: dict[str, Person] = {}
        links = []
        for lead in leads:
            person = link_person(lead, persons.get(lead["person_key"]), now)
            persons[person.person_key] = changed[person.person_key] = person
            links.append((lead["lead_id"], person.person_key, now))
            lead["account"] = match_account(lead, accounts, by_name)
            lead.setdefault("timings", {})["enriched_at"] = now.isoformat()
        await store.save_persons(conn, list(changed.values()), links)
    return [
        Outgoing(topics.ENRICHED, lead["person_key"], make_event(
            "lead.enriched", SERVICE, lead, event_id=derived_id(lead["lead_id"], "enriched"),
            at=now))
        for lead in leads
    ]
