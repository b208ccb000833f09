"""Capture's answers over HTTP, one function per kind, so every endpoint refuses, defers and
accepts in the same words (DESIGN.md section 5: a 4xx names the field and why, a 503
carries Retry-After, never a stack trace).

An answer about a field lists it: `{"error": ..., "errors": [{"field", "reason"}]}`; an
answer about the request as a whole gives its `reason`: `{"error": ..., "reason": ...}`.
Each answer knows its outcome for `leadflow_leads_received_total`; `counted` adds it.
A step deep in a request refuses the whole of it by raising `refused(...)`, which the
endpoint answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

from shared import metrics
from shared.errors import LeadflowError

RETRY_AFTER_S = "5"
BEARER_REASON = "missing or wrong key in Authorization: Bearer <key>"


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # Its outcome in leadflow_leads_received_total; None: a reply about no lead of its own
    # (a handshake, a delivery whose leads were counted one by one).
    outcome: str | None = None

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def count(provider: str, outcome: str, n: int = 1) -> None:
    if n:
        metrics.LEADS_RECEIVED.labels(provider, outcome).inc(n)


def counted(provider: str, reply: Reply) -> Reply:
    """The reply, counted under its outcome for `provider`."""
    if reply.outcome is not None:
        count(provider, reply.outcome)
    return reply


class RefusedError(LeadflowError):
    """A request refused as a whole: its reply, already counted."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def refused(provider: str, reply: Reply) -> RefusedError:
    """The refusal of a whole request, counted, to raise."""
    return RefusedError(counted(provider, reply))


def _about(error: str, field_: str | None, reason: str) -> dict[str, Any]:
    if field_ is None:
        return {"error": error, "reason": reason}
    return {"error": error, "errors": [{"field": field_, "reason": reason}]}


# --- refusals: the sender must change the request ------------------------------------------

def invalid(field_: str, reason: str, *, status: int = 422, error: str = "invalid lead"
            ) -> Reply:
    """The field the sender must fix and why: 422 (the keyed JSON endpoints answer their
    413 and 415 in these words too)."""
    return Reply(status, _about(error, field_, reason), outcome="invalid")


def invalid_leads(errors: list[dict[str, Any]], extra: Mapping[str, Any]) -> Reply:
    """422 for a delivery with invalid leads, each one's error listed (and counted)."""
    return Reply(422, {"error": "invalid lead", "errors": errors, **extra})


def too_large(field_: str, reason: str) -> Reply:
    return Reply(413, _about("too large", field_, reason), outcome="invalid")


def unsupported(field_: str, reason: str) -> Reply:
    """415: a content type the endpoint does not read."""
    return Reply(415, _about("unsupported media type", field_, reason), outcome="invalid")


def unauthorized(reason: str = BEARER_REASON, *, field_: str | None = None,
                 bearer: bool = True) -> Reply:
    """401: no key, a wrong key (`bearer`: ours, in Authorization) or a bad signature."""
    headers = {"WWW-Authenticate": "Bearer"} if bearer else {}
    return Reply(401, _about("unauthorized", field_, reason), headers, outcome="unauthorized")


def forbidden(reason: str, *, field_: str | None = None) -> Reply:
    return Reply(403, _about("forbidden", field_, reason), outcome="invalid")


def not_found(field_: str, reason: str) -> Reply:
    return Reply(404, _about("not found", field_, reason), outcome="invalid")


def not_allowed(reason: str, allow: str) -> Reply:
    return Reply(405, _about("method not allowed", None, reason), {"Allow": allow})


# --- deferrals and acceptances -------------------------------------------------------------

def unavailable(reason: str, *, field_: str | None = None, retry_after: bool = True,
                extra: Mapping[str, Any] | None = None) -> Reply:
    """503: capture's own dependency (broker, database, a provider's API, a setting) is
    missing; with Retry-After the sender delivers again later and nothing is lost."""
    headers = {"Retry-After": RETRY_AFTER_S} if retry_after else {}
    return Reply(503, {**_about("unavailable", field_, reason), **(extra or {})}, headers,
                 outcome="unavailable")


def accepted(lead_id: str) -> Reply:
    """202: the broker acknowledged the lead's `lead.captured`."""
    return Reply(202, {"lead_id": lead_id, "status": "accepted"}, outcome="accepted")


def duplicate(lead_id: str) -> Reply:
    """200: a lead accepted before; same lead id."""
    return Reply(200, {"lead_id": lead_id, "status": "duplicate"}, outcome="duplicate")


def internal_error() -> Reply:
    """500 for a bug: logged where it happened, never shown to the sender."""
    return Reply(500, {"error": "internal error"})
