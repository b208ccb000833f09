"""Capture's lead sources over HTTP: provider webhooks, plain HTML forms, CSV imports.

Each request is verified (signature, key or origin), read into submissions
(`providers`, `imports`), mapped (`mapping`), validated (`intake`) and accepted through
`Capture` (receipt with the raw body, publish, acknowledgement), then answered the way
its sender counts as success: exactly 200 for Webflow, `{}` for Google, 303 to the
thank-you page for a browser. Anything the sender's bytes can cause is a 4xx; a 503
(with Retry-After) means "deliver again later" and is only ever about capture's own
dependencies: the broker, the database, a provider's API, or a secret not yet set.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import ValidationError
from python_multipart.exceptions import MultipartParseError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from services.capture import replies
from services.capture.adapters.leadapis import FetchError, LeadApis
from services.capture.api import Capture
from services.capture.imports import BadFileError, RowError, decode_csv, read_rows, row_submission
from services.capture.intake import InvalidLeadError, derive_lead_id, lead_from_payload
from services.capture.mapping import Mapping_, Submission, mappings_for, payload_from_submission
from services.capture.providers import PROVIDERS, Provider
from services.capture.providers.common import BadDeliveryError, Fetch, Webhook, utm_from_url
from services.capture.providers.signing import BadSignatureError
from services.capture.replies import Reply, count, counted
from services.capture.store import Delivery
from shared.auth import bearer_matches
from shared.errors import LeadflowError, RetryableError
from shared.lead import Lead
from shared.org import ImportSource, OrgFile

log = logging.getLogger("leadflow.capture.sources")

IMPORT_CHUNK = 1000
FETCH_CONCURRENCY = 8
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RefusedError(LeadflowError):
    """A request refused as a whole: its reply, already counted."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def refused(provider: str, reply: Reply) -> RefusedError:
    """The refusal of a whole request, counted."""
    return RefusedError(counted(provider, reply))


def unavailable(provider: str, reason: str) -> RefusedError:
    return refused(provider, replies.unavailable(reason, field_="service"))


def media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def is_json(ctype: str) -> bool:
    return ctype in ("", "application/json") or ctype.endswith("+json")


async def read_body(request: Request, limit: int, provider: str) -> bytes:
    """The raw body, refused with 413 past `limit` bytes without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise refused(provider, replies.too_large("body", f"larger than {limit} bytes"))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise refused(provider, replies.too_large("body", f"larger than {limit} bytes"))
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body
    return body


class Outcome:
    """Per-lead results of one request, and the reply they add up to."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.results: list[dict[str, Any]] = []
        self.errors: list[dict[str, str]] = []
        self.retry: list[str] = []
        self.ignored = 0

    def invalid(self, where: str, field_: str, reason: str, **extra: Any) -> None:
        count(self.provider, "invalid")
        path = f"{where}.{field_}" if where and field_ else (where or field_)
        error = {"field": path, "reason": reason, **extra}
        self.errors.append(error)
        self.results.append({"status": "invalid", **error})

    def unavailable(self, where: str, reason: str, *, counted: bool = False) -> None:
        if not counted:
            count(self.provider, "unavailable")
        self.retry.append(f"{where}: {reason}" if where else reason)
        self.results.append({"status": "unavailable", "field": where, "reason": reason})

    def accepted(self, where: str, reply: Reply) -> None:
        """A lead `Capture.accept_leads` answered (and counted): accepted, duplicate, 503."""
        if reply.status == 503:
            self.unavailable(where, str(reply.body.get("reason")), counted=True)
        else:
            self.results.append({**({"field": where} if where else {}), **reply.body})

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r["status"] == s)
                for s in ("accepted", "duplicate", "invalid", "unavailable")}

    def reply(self, success: Callable[[dict[str, Any]], Reply] | None = None, *,
              invalid_is_success: bool = False) -> Reply:
        body: dict[str, Any] = {"results": self.results, **self.counts()}
        if self.ignored:
            body["ignored"] = self.ignored
        if self.retry:
            return replies.unavailable("; ".join(self.retry[:5]), extra=body)
        if self.errors and not invalid_is_success:
            return replies.invalid_leads(self.errors, body)
        return success(body) if success else Reply(200, body)


class SourcesApi:
    """The webhook, form and import endpoints over one `Capture`."""

    def __init__(self, capture: Capture, apis: LeadApis) -> None:
        self.capture = capture
        self.rt = capture.rt
        self.settings = capture.rt.settings
        self.apis = apis

    # -- shared steps -----------------------------------------------------------------

    async def org(self, provider: str) -> OrgFile | None:
        try:
            return await self.rt.org.current()
        except RetryableError as exc:
            if "no org file" in str(exc):
                return None
            raise unavailable(provider, "database unavailable; retry later") from None

    async def accept(self, outcome: Outcome, subs: list[Submission],
                     mappings: Callable[[Submission], list[Mapping_]],
                     delivery: Delivery | None, *, delivery_id: str | None = None,
                     columns: bool = False, lenient: bool = True,
                     now: datetime | None = None) -> None:
        """Map (the org file's `mappings` for each submission), validate and accept
        submissions, adding each one's result to `outcome`. Webhooks and imports are
        `lenient`: their senders cannot correct a lead, so an unparseable phone beside a
        good email is kept, not fatal; a person at a form can, and is told."""
        now = now or self.rt.now()
        leads: list[Lead] = []
        payloads: list[bytes] = []
        ids: list[str | None] = []
        wheres: list[str] = []
        for sub in subs:
            payload, origin = payload_from_submission(sub, mappings(sub), columns=columns)
            payload["source"].setdefault("provider", sub.provider)
            payload["source"].setdefault("channel", sub.channel)
            try:
                lead = lead_from_payload(payload, provider=sub.provider, channel=sub.channel,
                                         now=now, sender_id=sub.sender_id, lenient=lenient)
            except InvalidLeadError as bad:
                name = origin.get(bad.field) or origin.get(
                    bad.field.removeprefix("contact."))
                extra = {"row": int(sub.where[4:])} if sub.where.startswith("row ") else {}
                outcome.invalid(sub.where, name or bad.field, bad.reason, **extra)
                continue
            leads.append(lead)
            payloads.append(orjson.dumps(payload))
            ids.append(sub.sender_id)
            wheres.append(sub.where)
        if not leads:
            return
        replies = await self.capture.accept_leads(
            leads, outcome.provider, payloads=payloads, sender_ids=ids, delivery=delivery,
            delivery_id=delivery_id)
        for where, reply in zip(wheres, replies, strict=True):
            outcome.accepted(where, reply)

    # -- webhooks ---------------------------------------------------------------------

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
        org = await self.org(name)
        subs, fetched = await self._resolve(outcome, parsed.items)
        delivery = Delivery(str(uuid.uuid4()), name, now, ctype or None,
                            provider.redact(body, self.settings),
                            orjson.dumps(fetched) if fetched else None)
        await self.accept(outcome, subs,
                          lambda sub: mappings_for(org.sources, sub) if org else [],
                          delivery, now=now)
        if provider.empty_success:
            return outcome.reply(lambda _: Reply(200, {}))
        return outcome.reply(invalid_is_success=provider.non_leads_succeed)

    def _public_uri(self, request: Request) -> str:
        """The URL the sender called, as it signed it (HubSpot v3)."""
        scope = request.scope
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
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

    # -- plain HTML forms -------------------------------------------------------------

    async def form(self, request: Request, form_id: str) -> Response:
        provider = "form"
        headers = {k.lower(): v for k, v in request.headers.items()}
        browser = wants_html(headers)
        cors: str | None = None
        try:
            org = await self.org(provider)
            form = org.sources.form(form_id) if org else None
            if form is None:
                raise refused(provider, replies.not_found(
                    "form_id", f"no form {form_id!r} in the org file's sources.forms"))
            origin = headers.get("origin")
            cors = allowed_origin(form.allowed_origins, origin)
            if origin and form.allowed_origins and cors is None:
                raise refused(provider, replies.forbidden(
                    f"{origin} may not post to this form", field_="origin"))
            ctype = media_type(headers)
            if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
                raise refused(provider, replies.unsupported(
                    "content-type", f"{ctype or 'none'} is not a form post "
                    "(application/x-www-form-urlencoded or multipart/form-data)"))
            body = await read_body(request, self.settings.max_body_bytes, provider)
            try:
                fields = await form_fields(request, body, ctype)
            except BadDeliveryError as bad:
                raise refused(provider, replies.invalid(bad.field, bad.reason)) from None
            now = self.rt.now()
            outcome = Outcome(provider)
            if form.honeypot and str(fields.get(form.honeypot) or "").strip():
                # A bot filled the field people never see: tell it "thanks", keep nothing.
                count(provider, "invalid")
                log.info("form %s: honeypot field filled; submission dropped", form_id)
                outcome.results.append({"status": "accepted"})
                return self._form_reply(outcome.reply(), form, browser, cors, headers)
            fields.pop(form.honeypot or "", None)
            referer = headers.get("referer")
            source = {"form_id": form_id}
            if referer:
                source["landing_page"] = referer
                source.update(utm_from_url(referer))
            key = headers.get("idempotency-key", "").strip()
            if len(key) > 255 or not key.isprintable():
                raise refused(provider, replies.invalid(
                    "Idempotency-Key", "at most 255 characters, no control characters"))
            digest = orjson.dumps([form_id, now.date().isoformat(), fields],
                                  option=orjson.OPT_SORT_KEYS)
            sub = Submission(provider=provider, channel="web_form", where="",
                             sender_id=f"{form_id}:key:{key}" if key else
                             f"{form_id}:{hashlib.sha256(digest).hexdigest()}",
                             answers=fields, source=source, form_key=form_id)
            delivery = Delivery(str(uuid.uuid4()), provider, now, ctype, body)
            await self.accept(outcome, [sub], lambda _: [form], delivery, lenient=False,
                              now=now)
            return self._form_reply(outcome.reply(lambda b: Reply(
                202 if b["accepted"] else 200, _single(b))), form, browser, cors, headers)
        except RefusedError as refusal:  # allowed pages can read why (CORS), but not redirected
            return self._form_reply(refusal.reply, None, browser, cors, headers)

    def _form_reply(self, reply: Reply, form: Any, browser: bool, cors: str | None,
                    headers: Mapping[str, str]) -> Response:
        extra = dict(reply.headers)
        if cors:
            extra.update({"Access-Control-Allow-Origin": cors, "Vary": "Origin"})
        if not browser:
            return Reply(reply.status, reply.body, extra).response()
        if reply.status < 300 and form is not None and form.thank_you:
            return Response(status_code=303, headers={**extra, "Location": form.thank_you})
        return HTMLResponse(_page(reply), status_code=reply.status, headers=extra)

    async def form_preflight(self, request: Request, form_id: str) -> Response:
        """CORS preflight for pages that post to the form with JavaScript."""
        origin = request.headers.get("origin")
        try:
            org = await self.org("form")
        except RefusedError as refusal:
            return refusal.reply.response()
        form = org.sources.form(form_id) if org else None
        if form is None:
            return replies.not_found("form_id", f"no form {form_id!r}").response()
        allowed = allowed_origin(form.allowed_origins, origin)
        if allowed is None:
            return replies.forbidden(f"{origin or 'no origin'} may not post here",
                                     field_="origin").response()
        return Response(status_code=204, headers={
            "Access-Control-Allow-Origin": allowed, "Vary": "Origin",
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Accept, Idempotency-Key",
            "Access-Control-Max-Age": "600"})

    # -- CSV imports ------------------------------------------------------------------

    async def import_csv(self, request: Request) -> Reply:
        provider = "import"
        try:
            return await self._import(request, provider)
        except RefusedError as refusal:
            return refusal.reply

    async def _import(self, request: Request, provider: str) -> Reply:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not bearer_matches(headers.get("authorization", ""), self.settings.api_key):
            raise refused(provider, replies.unauthorized(field_="Authorization"))
        ctype = media_type(headers)
        if ctype not in ("text/csv", "application/csv", "text/plain", "multipart/form-data"):
            raise refused(provider, replies.unsupported(
                "content-type",
                f"{ctype or 'none'} is not text/csv (or multipart/form-data with a file part)"))
        body = await read_body(request, self.settings.max_import_bytes, provider)
        params: dict[str, str] = dict(request.query_params)
        csv_bytes = body
        if ctype == "multipart/form-data":
            try:
                form = await multipart(request, max_files=1, max_fields=200)
            except BadDeliveryError as bad:
                raise refused(provider, replies.invalid(bad.field, bad.reason)) from None
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise refused(provider, replies.invalid(
                    "file", "a multipart import needs a file part named file"))
            csv_bytes = await upload.read()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        org = await self.org(provider)
        layout = self._layout(params, org)
        try:
            header, rows = read_rows(decode_csv(csv_bytes), self.settings.max_import_rows)
        except BadFileError as bad:
            raise refused(provider, replies.invalid("file", bad.reason)) from None
        now = self.rt.now()
        delivery = Delivery(str(uuid.uuid4()), provider, now, ctype, body)
        outcome = Outcome(provider)
        # A column named in the request must exist; the org file's layout may list
        # columns some exports leave out.
        unknown = [k[7:] for k in params if k.startswith("column.") and k[7:] not in header]
        if unknown:
            raise refused(provider, replies.invalid(
                f"column.{unknown[0]}", f"the file has no column {unknown[0]!r} (it has "
                f"{', '.join(repr(h) for h in header[:20])})"))
        try:
            await self.capture.receipts.add_delivery(delivery)
        except RetryableError:
            raise unavailable(provider, "database unavailable; retry later") from None
        chunk: list[Submission] = []
        rows_seen = 0
        stopped: BadFileError | None = None
        while not outcome.retry:
            try:
                row = next(rows, None)
            except BadFileError as bad:  # past the row limit: what was read still goes through
                stopped = bad
                row = None
            if row is not None:
                rows_seen += 1
                if isinstance(row, RowError):
                    outcome.invalid(f"row {row.number}", "", row.reason, row=row.number)
                else:
                    chunk.append(row_submission(row, source_id=layout.id,
                                                channel=layout.channel))
            if chunk and (row is None or len(chunk) >= IMPORT_CHUNK):
                await self.accept(outcome, chunk, lambda _: [layout], None,
                                  delivery_id=delivery.id,
                                  columns=True, now=now)
                chunk = []
            if row is None:
                break
        if stopped is not None:
            outcome.invalid("file", "", stopped.reason)
        counts = outcome.counts()
        body_out = {"rows": rows_seen, **counts, "import": layout.id,
                    "errors": [r for r in outcome.results if r["status"] == "invalid"]}
        if outcome.retry:
            return replies.unavailable(outcome.retry[0], extra={
                "hint": "send the same file again: rows already accepted are answered as "
                        "duplicates", **body_out})
        return Reply(200, body_out)

    def _layout(self, params: Mapping[str, str], org: OrgFile | None) -> ImportSource:
        """The import's column mapping: the org file's `sources.imports[source]`, with
        `column.<CSV header>=<lead field>` and `default.<field>=<value>` on top."""
        source_id = params.get("source")
        base = None
        if source_id:
            base = org.sources.import_(source_id) if org else None
            if base is None:
                raise refused("import", replies.not_found(
                    "source", f"no import {source_id!r} in the org file's sources.imports"))
        columns = dict(base.columns) if base else {}
        defaults = dict(base.defaults) if base else {}
        for key, value in params.items():
            if key.startswith("column."):
                columns[key[7:]] = value.strip()
            elif key.startswith("default."):
                defaults[key[8:]] = value
        channel = params.get("channel") or (base.channel if base else "import")
        try:
            return ImportSource.model_validate({
                "id": base.id if base else (source_id or "api"), "columns": columns,
                "defaults": defaults, "channel": channel,
                "consent_text": base.consent_text if base else None})
        except ValidationError as exc:
            errors = exc.errors()
            first = errors[0] if errors else {"loc": ("mapping",), "msg": str(exc)}
            where = ".".join(str(x) for x in first.get("loc", ()))
            reason = str(first.get("msg", "invalid")).removeprefix("Value error, ")
            if where == "channel":
                where = "channel"
            elif where.startswith("columns"):
                where = "column"
            elif where.startswith("defaults"):
                where = "default"
            raise refused("import", replies.invalid(where, reason)) from None


# --- helpers -----------------------------------------------------------------------------

async def form_fields(request: Request, body: bytes, ctype: str) -> dict[str, Any]:
    """A form post's fields: repeated names become lists; file parts are not kept."""
    out: dict[str, Any] = {}
    if ctype == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=1000, errors="strict")
        except UnicodeDecodeError:
            raise BadDeliveryError("body", "a form post must be UTF-8 (percent-escapes "
                                "included)") from None
        except ValueError:
            raise BadDeliveryError("body", "more than 1000 fields") from None
    else:
        form = await multipart(request, max_files=10, max_fields=1000)
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    for name, value in pairs:
        if name in out:
            out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name],
                                                                                 value]
        else:
            out[name] = value
    return out


async def multipart(request: Request, *, max_files: int, max_fields: int) -> FormData:
    """A multipart body's parts, or BadDeliveryError saying why it cannot be read."""
    try:
        return await request.form(max_files=max_files, max_fields=max_fields)
    except (MultiPartException, MultipartParseError, HTTPException, ValueError,
            KeyError) as exc:
        reason = getattr(exc, "detail", None) or getattr(exc, "message", None) or exc
        raise BadDeliveryError("body", f"not a valid multipart form: {reason}") from None


def wants_html(headers: Mapping[str, str]) -> bool:
    """A browser submitting a form (navigate), not a script asking for JSON."""
    accept = headers.get("accept", "")
    if headers.get("sec-fetch-mode") == "navigate":
        return True
    if "application/json" in accept or headers.get("x-requested-with"):
        return False
    return "text/html" in accept


def allowed_origin(allowed: list[str], origin: str | None) -> str | None:
    if not origin:
        return None
    if "*" in allowed:
        return origin
    return origin if origin.lower().rstrip("/") in allowed else None


def _single(body: dict[str, Any]) -> dict[str, Any]:
    result = body["results"][0] if body["results"] else {"status": "accepted"}
    return {k: v for k, v in result.items() if k in ("lead_id", "status")}


def unknown_provider(provider: str) -> Reply:
    return replies.not_found("provider", f"unknown provider {provider[:64]!r}; one of "
                             f"{', '.join(PROVIDERS)}")


def _page(reply: Reply) -> str:
    if reply.status < 300:
        title, text = "Thank you", "Your submission was received."
    elif reply.status == 503:
        title, text = "Please try again", "We could not take your submission just now."
    else:
        title = "Please check the form"
        problems = reply.body.get("errors") or []
        text = "; ".join(f"{e.get('field')}: {e.get('reason')}" for e in problems) or \
            str(reply.body.get("error", "invalid"))
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
            "<p><a href='javascript:history.back()'>Back</a></p></body></html>")


def build_router(api: SourcesApi) -> APIRouter:
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

    @router.post("/v1/forms/{form_id}", summary="A plain HTML form's post",
                 description="urlencoded or multipart; 303 to the form's thank-you page for "
                             "browsers, JSON for scripts (Accept: application/json).",
                 responses={202: {}, 303: {}, 403: {}, 404: {}, 413: {}, 415: {}, 422: {},
                            503: {}})
    async def form(form_id: str, request: Request) -> Response:
        return await api.form(request, form_id)

    @router.options("/v1/forms/{form_id}", include_in_schema=False)
    async def preflight(form_id: str, request: Request) -> Response:
        return await api.form_preflight(request, form_id)

    @router.post("/v1/imports", summary="Import leads from a CSV file",
                 description="Body: text/csv (or multipart with a `file` part). Query: "
                             "`source` (an import in the org file's sources.imports), "
                             "`column.<CSV header>=<lead field>`, `default.<field>=<value>`, "
                             "`channel`. Each row is a lead; failing rows are listed by row "
                             "number and the rest go through. Bearer API key.",
                 responses={200: {}, 401: {}, 404: {}, 413: {}, 415: {}, 422: {}, 503: {}})
    async def imports(request: Request) -> Response:
        return (await api.import_csv(request)).response()

    return router


__all__ = ["SourcesApi", "build_router"]
