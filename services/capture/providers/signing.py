"""The checks every provider's verification is built from. Pure: no I/O; `now` injected.

Each check works on the raw request bytes, as each provider documents (re-serialising
JSON changes key order, spacing and unicode escapes, and so the digest), and compares in
constant time. A failed check raises `BadSignatureError` with a reason naming the header;
the reason never echoes a secret or a digest.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from shared.errors import LeadflowError


class BadSignatureError(LeadflowError):
    """The delivery is not authenticated; `reason` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def digests_match(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def required_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise BadSignatureError(f"missing {name} header")
    return value


def check_fresh(timestamp_ms: str, header: str, now: datetime, max_age_s: int) -> None:
    """A signed timestamp (Unix ms) at most `max_age_s` from `now`, either way."""
    if not (timestamp_ms.isascii() and timestamp_ms.isdigit() and len(timestamp_ms) <= 15):
        raise BadSignatureError(f"{header} must be a Unix time in milliseconds")
    sent = int(timestamp_ms)
    age_ms = now.timestamp() * 1000 - sent
    if age_ms > max_age_s * 1000:
        raise BadSignatureError(f"{header} is more than {max_age_s} s old")
    if age_ms < -max_age_s * 1000:
        raise BadSignatureError(f"{header} is more than {max_age_s} s in the future")


def verify_token(given: str | None, expected: str, name: str) -> None:
    """A shared key sent in the body (Google's `google_key`) or the URL (our Unbounce
    `?token=`), compared in constant time."""
    if not given:
        raise BadSignatureError(f"missing {name}")
    if not digests_match(given, expected):
        raise BadSignatureError(f"{name} does not match")
