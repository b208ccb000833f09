"""Plain HTML forms over HTTP: `POST /v1/forms/{form_id}` (urlencoded or multipart, from a
page's `<form>` or its script) and the CORS preflight for scripts.

The form is declared in the org file's `sources.forms` (its fields, allowed origins,
honeypot and thank-you page). A browser is sent on with 303 to the thank-you page, or
shown a short page saying what to fix; a script gets JSON. A lead id derives from the
form, the day and the fields (or the page's Idempotency-Key), so a double submit is one
lead.
"""

from __future__ import annotations

import hashlib
import html
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.capture import replies
from services.capture.bodies import FORM_TYPES, form_fields, media_type, read_body
from services.capture.mapping import Submission
from services.capture.providers.common import BadDeliveryError, utm_from_url
from services.capture.replies import RefusedError, Reply, count, refused
from services.capture.sources import Outcome, Sources
from services.capture.store import Delivery
from shared.org import FormSource

log = logging.getLogger("leadflow.capture.sources")


class Forms:
    """The form endpoints over the shared accept path."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.rt = sources.rt
        self.settings = sources.settings

    async def form(self, request: Request, form_id: str) -> Response:
        provider = "form"
        headers = {k.lower(): v for k, v in request.headers.items()}
        browser = wants_html(headers)
        cors: str | None = None
        try:
            org = await self.sources.org(provider)
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
            if ctype not in FORM_TYPES:
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
                return self._form_reply(outcome.reply(), form, browser, cors)
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
            await self.sources.accept(outcome, [sub], lambda _: [form], delivery,
                                      lenient=False, now=now)
            return self._form_reply(outcome.reply(lambda b: Reply(
                202 if b["accepted"] else 200, _single(b))), form, browser, cors)
        except RefusedError as refusal:  # allowed pages can read why (CORS), but not redirected
            return self._form_reply(refusal.reply, None, browser, cors)

    def _form_reply(self, reply: Reply, form: FormSource | None, browser: bool,
                    cors: str | None) -> Response:
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
            org = await self.sources.org("form")
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


def build_router(api: Forms) -> APIRouter:
    router = APIRouter(tags=["lead sources"])

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

    return router
