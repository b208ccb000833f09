"""Bearer-key checks for the HTTP APIs (`LEADFLOW_API_KEY`, `LEADFLOW_ADMIN_KEY`), and
the lead-id path parameter they share."""

from __future__ import annotations

import hmac
import uuid

from fastapi import HTTPException, Request


def token_matches(token: str, expected: str) -> bool:
    """Constant-time comparison; an unset expected key matches nothing."""
    return bool(token) and bool(expected) and hmac.compare_digest(
        token.strip().encode(), expected.encode())


def bearer_matches(header: str, expected: str) -> bool:
    """An `Authorization` header value carrying `Bearer <expected>`."""
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and token_matches(token, expected)


def bearer_ok(request: Request, expected: str) -> bool:
    return bearer_matches(request.headers.get("authorization", ""), expected)


def lead_id_param(value: str) -> str:
    """A path's lead id as a canonical UUID, or a 422 naming the field."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise HTTPException(422, {"error": "invalid request",
                                  "errors": [{"field": "lead_id", "reason": "not a UUID"}]}
                            ) from None


def require_bearer(request: Request, expected: str) -> None:
    if not bearer_ok(request, expected):
        raise HTTPException(
            status_code=401,
            detail={"error": "unauthorized",
                    "reason": "missing or wrong key in Authorization: Bearer <key>"},
            headers={"WWW-Authenticate": "Bearer"},
        )
