"""Capture's answers: each kind's status, body and headers, as senders and tests read them
(a 4xx names the field and why; a 503 says when to come back)."""

from __future__ import annotations

from typing import Any

import pytest

from services.capture import replies
from services.capture.replies import Reply


@pytest.mark.parametrize(("reply", "status", "body", "headers", "outcome"), [
    pytest.param(replies.invalid("contact.email", "not a valid email"), 422,
                 {"error": "invalid lead",
                  "errors": [{"field": "contact.email", "reason": "not a valid email"}]},
                 {}, "invalid", id="invalid"),
    pytest.param(replies.invalid("body", "larger than 10 bytes", status=413), 413,
                 {"error": "invalid lead",
                  "errors": [{"field": "body", "reason": "larger than 10 bytes"}]},
                 {}, "invalid", id="invalid-keyed-413"),
    pytest.param(replies.invalid("challengeCode", "is required", error="invalid request"), 422,
                 {"error": "invalid request",
                  "errors": [{"field": "challengeCode", "reason": "is required"}]},
                 {}, "invalid", id="invalid-request"),
    pytest.param(replies.too_large("body", "larger than 10 bytes"), 413,
                 {"error": "too large",
                  "errors": [{"field": "body", "reason": "larger than 10 bytes"}]},
                 {}, "invalid", id="too-large"),
    pytest.param(replies.unsupported("content-type", "text/xml is not application/json"), 415,
                 {"error": "unsupported media type", "errors": [
                     {"field": "content-type", "reason": "text/xml is not application/json"}]},
                 {}, "invalid", id="unsupported"),
    pytest.param(replies.unauthorized(), 401,
                 {"error": "unauthorized",
                  "reason": "missing or wrong key in Authorization: Bearer <key>"},
                 {"WWW-Authenticate": "Bearer"}, "unauthorized", id="unauthorized-key"),
    pytest.param(replies.unauthorized("bad", field_="signature", bearer=False), 401,
                 {"error": "unauthorized", "errors": [{"field": "signature", "reason": "bad"}]},
                 {}, "unauthorized", id="unauthorized-signature"),
    pytest.param(replies.forbidden("hub.mode must be subscribe"), 403,
                 {"error": "forbidden", "reason": "hub.mode must be subscribe"},
                 {}, "invalid", id="forbidden"),
    pytest.param(replies.not_found("form_id", "no form 'x'"), 404,
                 {"error": "not found", "errors": [{"field": "form_id", "reason": "no form 'x'"}]},
                 {}, "invalid", id="not-found"),
    pytest.param(replies.not_allowed("webflow webhooks are POST only", "POST"), 405,
                 {"error": "method not allowed", "reason": "webflow webhooks are POST only"},
                 {"Allow": "POST"}, None, id="not-allowed"),
    pytest.param(replies.unavailable("broker unavailable; retry later"), 503,
                 {"error": "unavailable", "reason": "broker unavailable; retry later"},
                 {"Retry-After": "5"}, "unavailable", id="unavailable"),
    pytest.param(replies.unavailable("X not set", field_="service", extra={"rows": 2}), 503,
                 {"error": "unavailable", "errors": [{"field": "service", "reason": "X not set"}],
                  "rows": 2}, {"Retry-After": "5"}, "unavailable", id="unavailable-setting"),
    pytest.param(replies.accepted("l-1"), 202, {"lead_id": "l-1", "status": "accepted"}, {},
                 "accepted", id="accepted"),
    pytest.param(replies.duplicate("l-1"), 200, {"lead_id": "l-1", "status": "duplicate"}, {},
                 "duplicate", id="duplicate"),
    pytest.param(replies.internal_error(), 500, {"error": "internal error"}, {}, None,
                 id="internal-error"),
])
def test_each_kind_of_answer_has_one_status_body_and_headers(
        reply: Reply, status: int, body: dict[str, Any], headers: dict[str, str],
        outcome: str | None) -> None:
    assert (reply.status, reply.body, reply.headers, reply.outcome) == (
        status, body, headers, outcome)


def test_a_reply_is_served_as_json_with_its_headers() -> None:
    response = replies.unavailable("database unavailable; retry later").response()

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.body == b'{"error":"unavailable","reason":"database unavailable; retry later"}'
