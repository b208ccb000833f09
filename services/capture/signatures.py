"""Whether a webhook delivery really comes from its provider. Pure: no I/O; `now` injected.

Each check works on the raw request bytes, as each provider documents (re-serialising
JSON changes key order, spacing and unicode escapes, and so the digest), and compares in
constant time. A failed check raises `BadSignatureError` with a reason naming the header; the
reason never echoes a secret or a digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import unquote

from shared.errors import LeadflowError


class BadSignatureError(LeadflowError):
    """The delivery is not authenticated; `reason` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise BadSignatureError(f"missing {name} header")
    return value


def verify_facebook(headers: Mapping[str, str], body: bytes, app_secret: str) -> None:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`."""
    given = _header(headers, "x-hub-signature-256")
    if not given.startswith("sha256="):
        raise BadSignatureError("x-hub-signature-256 must start with sha256=")
    if not _equal(given[7:].lower(), _hmac(app_secret, body).hex()):
        raise BadSignatureError("x-hub-signature-256 does not match the body")


def verify_linkedin(headers: Mapping[str, str], body: bytes, client_secret: str) -> None:
    """`X-LI-Signature: <hex HMAC-SHA256(client secret, "hmacsha256=" + raw body)>`."""
    given = _header(headers, "x-li-signature")
    if not _equal(given.lower(), _hmac(client_secret, b"hmacsha256=" + body).hex()):
        raise BadSignatureError("x-li-signature does not match the body")


def linkedin_challenge_response(challenge: str, client_secret: str) -> str:
    """The `challengeResponse` LinkedIn's validation GET expects."""
    return _hmac(client_secret, challenge.encode()).hex()


def verify_typeform(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """`Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, raw body)>`."""
    given = _header(headers, "typeform-signature")
    if not given.startswith("sha256="):
        raise BadSignatureError("typeform-signature must start with sha256=")
    expected = base64.b64encode(_hmac(secret, body)).decode()
    if not _equal(given[7:], expected):
        raise BadSignatureError("typeform-signature does not match the body")


def _fresh(timestamp_ms: str, header: str, now: datetime, max_age_s: int) -> None:
    if not (timestamp_ms.isascii() and timestamp_ms.isdigit() and len(timestamp_ms) <= 15):
        raise BadSignatureError(f"{header} must be a Unix time in milliseconds")
    sent = int(timestamp_ms)
    age_ms = now.timestamp() * 1000 - sent
    if age_ms > max_age_s * 1000:
        raise BadSignatureError(f"{header} is more than {max_age_s} s old")
    if age_ms < -max_age_s * 1000:
        raise BadSignatureError(f"{header} is more than {max_age_s} s in the future")


# The characters HubSpot decodes in the request URI before it signs it (its
# "Validating requests" page, v3): the URI is signed with these unescaped.
_HUBSPOT_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A",
                    "%2C", "%3B")


def hubspot_uri(uri: str) -> str:
    """The request URI as HubSpot signs it."""
    for escaped in _HUBSPOT_DECODED:
        uri = uri.replace(escaped, unquote(escaped)).replace(escaped.lower(), unquote(escaped))
    return uri


def verify_hubspot(headers: Mapping[str, str], body: bytes, client_secret: str, *,
                   method: str, uri: str, now: datetime, max_age_s: int) -> None:
    """v3: `X-HubSpot-Signature-v3` = base64 HMAC-SHA256(client secret, method + URI +
    raw body + `X-HubSpot-Request-Timestamp`), the timestamp in ms and at most 5 min old."""
    given = _header(headers, "x-hubspot-signature-v3")
    timestamp = _header(headers, "x-hubspot-request-timestamp")
    _fresh(timestamp, "x-hubspot-request-timestamp", now, max_age_s)
    message = method.upper().encode() + hubspot_uri(uri).encode() + body + timestamp.encode()
    expected = base64.b64encode(_hmac(client_secret, message)).decode()
    if not _equal(given, expected):
        raise BadSignatureError("x-hubspot-signature-v3 does not match the request")


def verify_webflow(headers: Mapping[str, str], body: bytes, secret: str, *,
                   now: datetime, max_age_s: int) -> None:
    """`x-webflow-signature` = hex HMAC-SHA256(secret, timestamp + ":" + raw body), with
    `x-webflow-timestamp` in ms and at most 5 minutes old."""
    given = _header(headers, "x-webflow-signature")
    timestamp = _header(headers, "x-webflow-timestamp")
    _fresh(timestamp, "x-webflow-timestamp", now, max_age_s)
    expected = _hmac(secret, timestamp.encode() + b":" + body).hex()
    if not _equal(given.lower(), expected):
        raise BadSignatureError("x-webflow-signature does not match the body")


def verify_token(given: str | None, expected: str, name: str) -> None:
    """A shared key sent in the body (Google's `google_key`) or the URL (our Unbounce
    `?token=`), compared in constant time."""
    if not given:
        raise BadSignatureError(f"missing {name}")
    if not _equal(given, expected):
        raise BadSignatureError(f"{name} does not match")


def sign_hubspot(client_secret: str, method: str, uri: str, body: bytes,
                 timestamp_ms: int) -> str:
    """The v3 signature for a request (used by tests and `make bench` as the sender)."""
    message = method.upper().encode() + hubspot_uri(uri).encode() + body + \
        str(timestamp_ms).encode()
    return base64.b64encode(_hmac(client_secret, message)).decode()


__all__ = ["BadSignatureError", "hubspot_uri", "linkedin_challenge_response",
           "sign_hubspot", "verify_facebook", "verify_hubspot", "verify_linkedin",
           "verify_token", "verify_typeform", "verify_webflow"]
