"""Firmographics over HTTP against a local fake provider that answers, is slow, fails and
returns garbage; and enrich's handler keeping each lead within its budget."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from services.enrich.adapters.firmographics import HttpProvider, make_provider
from services.enrich.handlers import handle_lead_captured
from shared import db
from shared.events import make_event
from shared.settings import Settings
from tests.builders import StartRuntime, make_lead, sha256_hex
from tests.provider_kit import serve_fake


@dataclass
class FakeFirmographics:
    """A commercial enrichment API: `GET /v1/companies?domain=...` with a key."""

    companies: dict[str, Any] = field(default_factory=dict)
    mode: str = "ok"  # ok | slow | fail | garbage
    calls: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    url: str = ""

    def app(self) -> Starlette:
        async def find(request: Request) -> Response:
            domain = request.query_params.get("domain", "")
            self.calls.append(domain)
            self.keys.append(request.headers.get("x-api-key", ""))
            if self.mode == "slow":
                await asyncio.sleep(3)
            if self.mode == "fail":
                return JSONResponse({"error": "overloaded"}, status_code=503)
            if self.mode == "garbage":
                return PlainTextResponse("<html>maintenance</html>")
            if domain not in self.companies:
                return JSONResponse({"error": "unknown"}, status_code=404)
            return JSONResponse(self.companies[domain])

        return Starlette(routes=[Route("/v1/companies", find)])


GLOBEX = {"company": {"legalName": "Globex Corporation", "sector": "Software"},
          "metrics": {"employees": 800}, "geo": {"country": "United States"}}


@asynccontextmanager
async def provider(settings: Settings, **overrides: Any
                   ) -> AsyncIterator[tuple[HttpProvider, FakeFirmographics, Settings]]:
    fake = FakeFirmographics(companies={"globex.com": GLOBEX})
    async with serve_fake(fake):
        own = settings.model_copy(update={
            "firmographics_provider": "http",
            "firmographics_url": f"{fake.url}/v1/companies?domain={{domain}}",
            "firmographics_auth_header": "X-Api-Key: k-123",
            "firmographics_fields": "name=company.legalName,industry=company.sector,"
                                    "employees=metrics.employees,country=geo.country",
            "firmographics_timeout_s": 0.3, "firmographics_breaker_failures": 3,
            "firmographics_breaker_cooldown_s": 60, "enrich_budget_s": 1.0, **overrides})
        engine = db.create_engine(own.database_url, pool_size=2)
        chosen = make_provider(own, engine)
        assert isinstance(chosen, HttpProvider)
        try:
            async with db.transaction(engine) as conn:
                await conn.execute(text("DELETE FROM enrich.firmographics_cache"))
            yield chosen, fake, own
        finally:
            await chosen.close()
            await engine.dispose()


def captured(email: str, **company: Any) -> Any:
    """A captured lead from `email` whose company is only what is given."""
    empty = dict.fromkeys(("name", "domain", "industry", "employees", "country"))
    lead = make_lead(lead_id=str(uuid.uuid4()), person_key=sha256_hex(email),
                     contact={"email": email}, company={**empty, **company})
    return make_event("lead.captured", "capture", lead)


def looked_up(outcome: str) -> float:
    return REGISTRY.get_sample_value("leadflow_enrichment_lookups_total",
                                     {"provider": "http", "outcome": outcome}) or 0.0


async def test_answers_are_mapped_cached_and_not_found_is_cached_too(settings: Settings) -> None:
    async with provider(settings) as (http, fake, _):
        first = await http.lookup(["globex.com", "nobody.io"], 1.0)
        assert first["globex.com"].name == "Globex" and first["globex.com"].country == "US"
        assert first["nobody.io"] is None
        assert fake.keys == ["k-123", "k-123"]
        again = await http.lookup(["globex.com", "nobody.io"], 1.0)
        assert again == first and len(fake.calls) == 2  # both from the cache


async def test_a_slow_provider_costs_at_most_the_budget_and_fills_the_cache_later(
        settings: Settings) -> None:
    async with provider(settings, firmographics_timeout_s=5.0) as (http, fake, _):
        fake.mode = "slow"  # 3 s, within the call timeout, past the 1 s budget
        answer = await http.lookup(["globex.com"], 0.5)
        assert answer == {}  # not answered within the budget: the lead goes on, partial
        await asyncio.sleep(3.5)  # the call finishes in the background
        fake.mode = "fail"
        cached = await http.lookup(["globex.com"], 0.5)
        assert cached["globex.com"].employees == 800


async def test_a_failing_provider_is_retried_once_then_the_circuit_opens(
        settings: Settings) -> None:
    async with provider(settings) as (http, fake, _):
        fake.mode = "fail"
        assert await http.lookup(["a.io"], 1.0) == {}
        assert fake.calls == ["a.io", "a.io"]  # the call and one retry
        await http.lookup(["b.io"], 1.0)
        await http.lookup(["c.io"], 1.0)  # a third domain failing in a row: open
        calls = len(fake.calls)
        before = looked_up("circuit_open")
        assert await http.lookup(["d.io", "e.io"], 1.0) == {}
        assert len(fake.calls) == calls  # no call while open
        assert looked_up("circuit_open") == before + 2


async def test_garbage_is_a_failure_and_is_not_cached(settings: Settings) -> None:
    async with provider(settings) as (http, fake, _):
        fake.mode = "garbage"
        before = looked_up("garbage")
        assert await http.lookup(["globex.com"], 1.0) == {}
        assert looked_up("garbage") == before + 1  # garbage is not retried
        fake.mode = "ok"
        assert (await http.lookup(["globex.com"], 1.0))["globex.com"].industry == "software"


async def test_the_handler_marks_a_lead_partial_past_its_budget_and_fills_the_rest(
        settings: Settings, runtime: StartRuntime) -> None:
    async with provider(settings, firmographics_timeout_s=5.0, enrich_budget_s=0.5
                        ) as (http, fake, own):
        rt = await runtime("enrich", own)
        fake.companies["initech.com"] = {"company": {"legalName": "Initech"},
                                         "metrics": {"employees": "51-200"}}
        known = captured("peter@initech.com")
        await http.lookup(["initech.com"], 1.0)  # in the cache from now on
        fake.mode = "slow"
        slow = captured("bill@globex.com", name="Globex")
        free = captured("sam@gmail.com")
        out = await handle_lead_captured([known, slow, free], rt, http)
        by_email = {o.event.data["contact"]["email"]: o.event.data for o in out}
        initech = by_email["peter@initech.com"]
        assert initech["enrichment"]["status"] == "complete"
        assert initech["company"]["employees"] == 51
        assert initech["enrichment"]["filled"] == ["name", "employees"]
        globex = by_email["bill@globex.com"]
        assert globex["enrichment"]["status"] == "partial"
        assert "within 0.5 s" in globex["enrichment"]["reason"]
        assert by_email["sam@gmail.com"]["enrichment"]["status"] == "complete"


async def test_accounts_match_by_subdomain_country_domain_and_name_after_an_import(
        runtime: StartRuntime) -> None:
    from services.enrich.store import AccountNames, parse_accounts_csv, upsert_accounts

    suffix = uuid.uuid4().hex[:6]
    accounts = parse_accounts_csv(
        "id,name,domains,owner_rep_id,segment,country\n"
        f"a-{suffix},Brightline {suffix} Incorporated,https://www.Brightline-{suffix}.com/;"
        f"brightline-{suffix}.co.uk,ana,enterprise,US\n"
        f"b-{suffix},Brightline {suffix} Labs,,ben,smb,US\n")
    assert accounts[0]["domains"] == [f"brightline-{suffix}.com", f"brightline-{suffix}.co.uk"]
    rt = await runtime("enrich")
    async with db.transaction(rt.engine) as conn:
        await upsert_accounts(conn, accounts)
    names = AccountNames()
    leads = [captured(f"ana@eu.brightline-{suffix}.com"),
             captured(f"ana@brightline-{suffix}.co.uk"),
             captured("ana@gmail.com", name=f"Brightline {suffix}, Inc."),
             captured("ben@gmail.com", name=f"brightline {suffix} labs")]
    out = await handle_lead_captured(leads, rt, None, names)
    matched = [(o.event.data["account"] or {}).get("id") for o in out]
    methods = [(o.event.data["account"] or {}).get("match") for o in out]
    assert matched == [f"a-{suffix}", f"a-{suffix}", f"a-{suffix}", f"b-{suffix}"]
    assert methods == ["domain", "domain", "name", "name"]
