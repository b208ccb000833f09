"""CSV imports over HTTP: `POST /v1/imports` (text/csv, or multipart with a `file` part;
bearer API key), each row a lead (`imports` reads the file).

The column mapping is the org file's `sources.imports[source]`, with `column.<header>` and
`default.<field>` from the request on top. Rows go through the shared accept path in
chunks; failing rows are listed by row number and the rest go through. The file is kept
as one delivery its leads name, and sending it again makes no second lead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from services.capture import replies
from services.capture.bodies import media_type, multipart, read_body
from services.capture.imports import (
    BadFileError,
    Row,
    RowError,
    decode_csv,
    read_rows,
    row_submission,
)
from services.capture.mapping import Submission
from services.capture.providers.common import BadDeliveryError
from services.capture.replies import RefusedError, Reply, refused
from services.capture.sources import Outcome, Sources, unavailable
from services.capture.store import Delivery
from shared.auth import bearer_matches
from shared.errors import RetryableError
from shared.org import ImportSource, OrgFile

PROVIDER = "import"
IMPORT_CHUNK = 1000
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "multipart/form-data")


class Imports:
    """The import endpoint over the shared accept path."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.rt = sources.rt
        self.settings = sources.settings

    async def import_csv(self, request: Request) -> Reply:
        try:
            return await self._import(request)
        except RefusedError as refusal:
            return refusal.reply

    async def _import(self, request: Request) -> Reply:
        ctype, body, csv_bytes, params = await self._read(request)
        org = await self.sources.org(PROVIDER)
        layout = self._layout(params, org)
        try:
            header, rows = read_rows(decode_csv(csv_bytes), self.settings.max_import_rows)
        except BadFileError as bad:
            raise refused(PROVIDER, replies.invalid("file", bad.reason)) from None
        now = self.rt.now()
        delivery = Delivery(str(uuid.uuid4()), PROVIDER, now, ctype, body)
        outcome = Outcome(PROVIDER)
        # A column named in the request must exist; the org file's layout may list
        # columns some exports leave out.
        unknown = [k[7:] for k in params if k.startswith("column.") and k[7:] not in header]
        if unknown:
            raise refused(PROVIDER, replies.invalid(
                f"column.{unknown[0]}", f"the file has no column {unknown[0]!r} (it has "
                f"{', '.join(repr(h) for h in header[:20])})"))
        try:
            await self.sources.capture.receipts.add_delivery(delivery)
        except RetryableError:
            raise unavailable(PROVIDER, "database unavailable; retry later") from None
        rows_seen = await self._accept_rows(outcome, rows, layout, delivery.id, now)
        body_out = {"rows": rows_seen, **outcome.counts(), "import": layout.id,
                    "errors": [r for r in outcome.results if r["status"] == "invalid"]}
        if outcome.retry:
            return replies.unavailable(outcome.retry[0], extra={
                "hint": "send the same file again: rows already accepted are answered as "
                        "duplicates", **body_out})
        return Reply(200, body_out)

    async def _read(self, request: Request) -> tuple[str, bytes, bytes, dict[str, str]]:
        """The request's media type, raw body, CSV bytes and parameters (the query, and a
        multipart body's other fields)."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not bearer_matches(headers.get("authorization", ""), self.settings.api_key):
            raise refused(PROVIDER, replies.unauthorized(field_="Authorization"))
        ctype = media_type(headers)
        if ctype not in CSV_TYPES:
            raise refused(PROVIDER, replies.unsupported(
                "content-type",
                f"{ctype or 'none'} is not text/csv (or multipart/form-data with a file part)"))
        body = await read_body(request, self.settings.max_import_bytes, PROVIDER)
        params: dict[str, str] = dict(request.query_params)
        if ctype != "multipart/form-data":
            return ctype, body, body, params
        try:
            form = await multipart(request, max_files=1, max_fields=200)
        except BadDeliveryError as bad:
            raise refused(PROVIDER, replies.invalid(bad.field, bad.reason)) from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise refused(PROVIDER, replies.invalid(
                "file", "a multipart import needs a file part named file"))
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return ctype, body, await upload.read(), params

    async def _accept_rows(self, outcome: Outcome, rows: Iterator[Row | RowError],
                           layout: ImportSource, delivery_id: str, now: datetime) -> int:
        """Accept the rows in chunks until the file ends or capture must defer (the rest
        then waits for the sender's retry); how many rows were read."""
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
                await self.sources.accept(outcome, chunk, lambda _: [layout], None,
                                          delivery_id=delivery_id, columns=True, now=now)
                chunk = []
            if row is None:
                break
        if stopped is not None:
            outcome.invalid("file", "", stopped.reason)
        return rows_seen

    def _layout(self, params: Mapping[str, str], org: OrgFile | None) -> ImportSource:
        """The import's column mapping: the org file's `sources.imports[source]`, with
        `column.<CSV header>=<lead field>` and `default.<field>=<value>` on top."""
        source_id = params.get("source")
        base = None
        if source_id:
            base = org.sources.import_(source_id) if org else None
            if base is None:
                raise refused(PROVIDER, replies.not_found(
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
            if where.startswith("columns"):
                where = "column"
            elif where.startswith("defaults"):
                where = "default"
            raise refused(PROVIDER, replies.invalid(where, reason)) from None


def build_router(api: Imports) -> APIRouter:
    router = APIRouter(tags=["lead sources"])

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
