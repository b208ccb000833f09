"""Reading what a lead source sent over HTTP: the media type, the raw body within a size
limit (413 before reading past it), and a form post's fields or multipart parts. The raw
bytes are kept as they came: signatures are checked over them and they are stored for
tracing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from services.capture import replies
from services.capture.providers.common import BadDeliveryError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def is_json(ctype: str) -> bool:
    return ctype in ("", "application/json") or ctype.endswith("+json")


async def read_body(request: Request, limit: int, provider: str) -> bytes:
    """The raw body, refused with 413 past `limit` bytes without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise replies.refused(provider, replies.too_large("body", f"larger than {limit} bytes"))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise replies.refused(provider, replies.too_large("body",
                                                              f"larger than {limit} bytes"))
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # what request.form() reads once the stream is consumed
    return body


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
