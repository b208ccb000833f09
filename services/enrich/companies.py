"""Company names: the name without its legal form, and the key two spellings share."""

from __future__ import annotations

import re
from functools import lru_cache

from cleanco import basename

from shared.identity import MEMO_SIZE, strip_accents

# --------------------------------------------------------------------------- company names


_OPEN_PAREN = re.compile(r"\s*\([^)]*$")
_PARENS = re.compile(r"\([^)]*\)")


@lru_cache(maxsize=MEMO_SIZE)
def clean_company_name(raw: str | None) -> str | None:
    """A company name without its legal form (cleanco: `Acme Inc.` and `ACME
    Incorporated` → `Acme`/`ACME`, `Kontor GmbH` → `Kontor`, `Vela S.A.` → `Vela`), spaces
    collapsed; the name as given when nothing else would be left."""
    if not isinstance(raw, str):
        return None
    text = " ".join(raw.split())
    if not text:
        return None
    cleaned = basename(text).strip(" ,.-&") if len(text) < 300 else text
    cleaned = _OPEN_PAREN.sub("", cleaned).strip(" ,.-&")  # `Acme (UK` from `Acme (UK) Ltd`
    return cleaned or text


@lru_cache(maxsize=MEMO_SIZE)
def company_key(name: str | None) -> str | None:
    """What two spellings of one company have in common, for matching: the cleaned name
    without parentheses or a leading article, accents dropped, case folded, `&` as `and`,
    punctuation gone (`ACME Incorporated`, `Acme, Inc.` and `The Acme Company` → `acme`)."""
    if not isinstance(name, str):
        return None
    cleaned = clean_company_name(_PARENS.sub(" ", name))
    if cleaned is None:
        return None
    text = strip_accents(cleaned).casefold().replace("&", " and ")
    words = re.sub(r"[^\w]+", " ", text).split()
    if len(words) > 1 and words[0] in ("the", "die", "der", "la", "le", "les", "el", "los"):
        words = words[1:]
    return " ".join(words) or None


