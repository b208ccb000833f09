"""Provider webhooks over HTTP: `GET /v1/webhooks/{provider}` (a provider's subscription
handshake) and `POST /v1/webhooks/{provider}` (its leads).

The provider's module (`providers`) verifies the raw bytes and reads them; leads that Meta
and LinkedIn name by id only are fetched from their APIs (`adapters.leadapis`); every lead
goes through the shared accept path (`sources`), and the delivery is answered the way its
provider counts as success: exactly 200 for Webflow, `{}` for Google.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from services.capture import replies
from services.capture.adapters.leadapis import FetchError, LeadApis
from services.capture.bodies import FORM_TYPES, form_fields, is_json, media_type, read_body
from services.capture.intake import derive_lead_id
from services.capture.mapping import Submission, mappings_for
from services.capture.providers import PROVIDERS, Provider
from services.capture.providers.common import BadDeliveryError, Fetch, Webhook
from services.capture.providers.signing import BadSignatureError
from services.capture.replies import RefusedError, Reply, count, counted, refused
from services.capture.sources import Outcome, Sources, unavailable
from services.capture.store import Delivery
from shared.errors import RetryableError

log = logging.getLogger("leadflow.capture.sources")

FETCH_CONCURRENCY = 8


def unknown_provider(provider: str) -> Reply:
    return replies.not_found("provider", f"unknown provider {provider[:64]!r}; one of "
                             f"{', '.join(PROVIDERS)}")


class Webhooks:
    """The webhook endpoints over the shared accept path and the providers' APIs."""

    def __init__(self, sources: Sources, apis: LeadApis) -> None:
        self.sources = sources
        self.capture = sources.capture
        self.rt = sources.rt
        self.settings = sources.settings
        self.apis = apis

    async def handshake(self, name: str, query: Mapping[str, str]) -> Response:
        """The GET a provider makes to check the URL before it sends leads."""
        provider = PROVIDERS.get(name)
        if provider is None:
            return unknown_provider(name).response()
        if provider.handshake is None:
            return replies.not_allowed(f"{name} webhooks are POST only", "POST").response()
        missing = provider.missing(self.settings, provider.handshake_settings)
        if missing:
            return replies.unavailable(f"{', '.join(missing)} is not set",
                                       retry_after=False).response()
        try:
            answer = provider.handshake(query, self.settings)
        except BadSignatureError as bad:
            return replies.forbidden(bad.reason).response()
        except BadDeliveryError as bad:
            return replies.invalid(bad.field, bad.reason, error="invalid request").response()
        if isinstance(answer, str):
            # Meta expects the challenge back as it sent it, as plain text.
            return PlainTextResponse(answer)
        return Reply(200, answer).response()

    async def webhook(self, request: Request, name: str) -> Reply:
        provider = PROVIDERS.get(name)
        if provider is None:
            return counted("unknown", unknown_provider(name))
        try:
            return await self._webhook(request, provider)
        except RefusedError as refusal:
            return refusal.reply

    async def _webhook(self, request: Request, provider: Provider) -> Reply:
        name = provider.name
        missing = provider.missing(self.settings)
        if missing:
            # Senders retry a 503 while an operator sets it; a 404 would make Typeform
            # disable the webhook for good.
            raise unavailable(name, f"{', '.join(missing)} not set on this server")
        headers = {k.lower(): v for k, v in request.headers.items()}
        ctype = media_type(headers)
        if not provider.forms and not is_json(ctype):
            raise refused(name, replies.unsupported("content-type",
                                                    f"{ctype} is not application/json"))
        if provider.forms and not (is_json(ctype) or ctype in FORM_TYPES):
            raise refused(name, replies.unsupported(
                "content-type", f"{ctype} is not a form post or application/json"))
        body = await read_body(request, self.settings.max_body_bytes, name)
        now = self.rt.now()
        hook = Webhook(headers, body, ctype, request.query_params, self._public_uri(request),
                       now)
        try:
            provider.verify(hook, self.settings)
            if provider.forms and not is_json(ctype):
                hook = replace(hook, fields=await form_fields(request, body, ctype))
            parsed = provider.parse(hook)
        except BadSignatureError as bad:
            raise refused(name, replies.unauthorized(
                bad.reason, field_="signature", bearer=False)) from None
        except BadDeliveryError as bad:
            raise refused(name, replies.invalid(bad.field, bad.reason)) from None
        except (TypeError, AttributeError, KeyError, ValueError, RecursionError) as exc:
            # A shape the reader did not expect (a list where the provider documents an
            # object, ...): the sender's bytes, so a 422, never a 500.
            log.info("%s: unreadable delivery: %s: %s", name, type(exc).__name__, exc)
            raise refused(name, replies.invalid(
                "body", f"a value has an unexpected type or shape ({type(exc).__name__})"
            )) from None
        outcome = Outcome(name)
        outcome.ignored = parsed.ignored
        org = await self.sources.org(name)
        subs, fetched = await self._resolve(outcome, parsed.items)
        delivery = Delivery(str(uuid.uuid4()), name, now, ctype or None,
                            provider.redact(body, self.settings),
                            orjson.dumps(fetched) if fetched else None)
        await self.sources.accept(outcome, subs,
                                  lambda sub: mappings_for(org.sources, sub) if org else [],
                                  delivery, now=now)
        if provider.empty_success:
            return outcome.reply(lambda _: Reply(200, {}))
        return outcome.reply(invalid_is_success=provider.non_leads_succeed)

    def _public_uri(self, request: Request) -> str:
        """The URL the sender called, as it signed it (HubSpot v3)."""
        scope = request.scope
        path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string") or b""
        base = self.settings.public_url.rstrip("/") or \
            f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
        return base + path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")

    async def _resolve(self, outcome: Outcome, items: list[Submission | Fetch]
                       ) -> tuple[list[Submission], dict[str, Any]]:
        """Fetch what Meta and LinkedIn only name by id, skipping leads already published;
        the submissions, and what each provider's API answered (kept with the delivery)."""
        fetches = [i for i in items if isinstance(i, Fetch)]
        subs = [i for i in items if isinstance(i, Submission)]
        fetched: dict[str, Any] = {}
        if not fetches:
            return subs, fetched
        ids = {f.sender_id: derive_lead_id(f.provider, f.sender_id, {}) for f in fetches}
        try:
            done = await self.capture.receipts.published(list(ids.values()))
        except RetryableError:
            raise unavailable(outcome.provider, "database unavailable; retry later") from None
        gate = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def one(item: Fetch) -> Submission | None:
            provider = PROVIDERS[item.provider]
            assert provider.fetch is not None and provider.from_fetched is not None
            async with gate:
                try:
                    fetched[item.sender_id] = got = await provider.fetch(item, self.apis)
                    return provider.from_fetched(item, got)
                except FetchError as exc:
                    if exc.retry:
                        log.warning("%s: %s", outcome.provider, exc.reason)
                        outcome.unavailable(item.where, exc.reason)
                    else:
                        outcome.invalid(item.where, "", exc.reason)
                except BadDeliveryError as bad:
                    outcome.invalid(item.where, bad.field, bad.reason)
                except (TypeError, AttributeError, KeyError, ValueError) as exc:
                    outcome.invalid(item.where, "", f"the provider's API answered a lead "
                                    f"of an unexpected shape ({type(exc).__name__})")
                return None

        todo = []
        for item in fetches:
            if ids[item.sender_id] in done:
                count(outcome.provider, "duplicate")
                outcome.results.append({"field": item.where, "lead_id": ids[item.sender_id],
                                        "status": "duplicate"})
            else:
                todo.append(item)
        resolved = await asyncio.gather(*(one(f) for f in todo))
        return subs + [s for s in resolved if s is not None], fetched


def build_router(api: Webhooks) -> APIRouter:
    router = APIRouter(tags=["lead sources"])
    webhook_doc = ("Verified as the provider documents (see the README's Lead sources); "
                   "answers what the provider counts as success.")

    @router.get("/v1/webhooks/{provider}", summary="A provider's subscription handshake",
                description="Meta: hub.mode, hub.verify_token, hub.challenge. "
                            "LinkedIn: challengeCode.",
                responses={403: {}, 404: {}, 405: {}, 503: {}})
    async def handshake(provider: str, request: Request) -> Response:
        return await api.handshake(provider, request.query_params)

    @router.post("/v1/webhooks/{provider}", summary="A provider's lead webhook",
                 description=webhook_doc,
                 responses={200: {}, 401: {}, 404: {}, 413: {}, 415: {}, 422: {}, 503: {}})
    async def webhook(provider: str, request: Request) -> Response:
        return (await api.webhook(request, provider)).response()

    return router
