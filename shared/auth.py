"""Bearer-key checks for the HTTP APIs (`LEADFLOW_API_KEY`, `LEADFLOW_ADMIN_KEY`)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def bearer_ok(request: Request, expected: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or not expected:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def require_bearer(request: Request, expected: str) -> None:
    if not bearer_ok(request, expected):
        raise HTTPException(
            status_code=401,
            detail={"error": "unauthorized",
                    "reason": "missing or wrong key in Authorization: Bearer <key>"},
            headers={"WWW-Authenticate": "Bearer"},
        )
