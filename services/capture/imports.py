"""CSV imports (trade-show badge scans, webinar attendees): rows into submissions. Pure.

The file is UTF-8 (a byte-order mark is fine) or, failing that, Windows-1252, which is
what spreadsheet exports from badge scanners often are. The delimiter is sniffed among
comma, semicolon and tab. The first row names the columns. Rows are numbered as a
spreadsheet shows them: the header is row 1, the first lead row 2.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from services.capture.mapping import Submission
from shared.errors import InvalidInputError

MAX_COLUMNS = 200


class BadFileError(InvalidInputError):
    """A file capture cannot read as CSV (or past its limits): 422 naming the file."""

    def __init__(self, reason: str) -> None:
        super().__init__("file", reason)


@dataclass
class Row:
    number: int
    values: dict[str, str]


@dataclass
class RowError:
    """A row the CSV reader could not read (a field over the size limit, a bad quote)."""

    number: int
    reason: str


MAX_ROW_ERRORS = 1000


def decode_csv(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def read_rows(text: str, max_rows: int) -> tuple[list[str], Iterator[Row | RowError]]:
    """The header and the rows; BadFileError when there is no usable header, and from the rows
    when there are more than `max_rows` or too many unreadable ones to go on."""
    if "\x00" in text:
        raise BadFileError("not a CSV file (it holds NUL bytes)")
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise BadFileError(f"row 1: {exc}") from None
    header = [h.strip() for h in header or []]
    if not any(header):
        raise BadFileError("the first row must name the columns (email, phone, first_name, ...)")
    if len(header) > MAX_COLUMNS:
        raise BadFileError(f"more than {MAX_COLUMNS} columns")
    seen = set()
    for name in header:
        if name and name in seen:
            raise BadFileError(f"column {name!r} appears twice in the header")
        seen.add(name)

    def rows() -> Iterator[Row | RowError]:
        number = 1
        errors = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                errors += 1
                if errors > MAX_ROW_ERRORS:
                    raise BadFileError(f"more than {MAX_ROW_ERRORS} unreadable rows; is this "
                                  "a CSV file?") from None
                yield RowError(number, f"cannot be read: {exc}")
                continue
            number += 1
            if number - 1 > max_rows:
                raise BadFileError(f"more than {max_rows} rows; split the file")
            if not any(v.strip() for v in values):
                continue
            yield Row(number, {name: value.strip() for name, value in zip(header, values,
                                                                         strict=False)
                               if name})

    return header, rows()


def row_submission(row: Row, *, source_id: str, channel: str) -> Submission:
    """A row as a submission; its lead id derives from the import and the row's content,
    so uploading the same file again creates no second lead."""
    digest = hashlib.sha256(orjson.dumps(row.values, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Submission(provider="import", channel=channel, where=f"row {row.number}",
                      sender_id=f"{source_id}:{digest}",
                      answers=dict(row.values), form_key=source_id)
