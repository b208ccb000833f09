"""The seniority and department a job title implies, read by the rules in title_rules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from services.enrich.title_rules import (
    ASSISTANT_TO,
    CODE_LIKE,
    DEPARTMENT_RULES,
    EMAIL_LIKE,
    FORMER,
    NO_TITLE,
    NOT_SENIORITY,
    SENIORITY_RULES,
)
from shared.identity import MEMO_SIZE, strip_accents
from shared.lead import Seniority


@lru_cache(maxsize=MEMO_SIZE)
def classify_title(raw: str | None) -> tuple[Seniority, str | None]:
    """(seniority, department) a job title implies, by keywords.

    Seniority is the highest level named (`Co-founder & CTO` → c_level, `Sr. Director`
    → director); a title naming none is `individual`, an empty one `unknown` with no
    department. Departments are tried in a fixed order (sales, marketing, hr, finance,
    legal, it, engineering, operations, executive) so `Sales Engineer` is sales and `IT
    Operations` is it; a title naming none is `other`. Case, accents and punctuation do
    not matter; English, German, French, Spanish, Italian, Portuguese, Dutch, Polish and
    the Nordic languages' common words are known. Coordinators are individual
    contributors; a one-word code (`abc123`) is no title.
    """
    text = _title_text(raw)
    if not text.strip():
        return "unknown", None
    if isinstance(raw, str) and EMAIL_LIKE.search(raw):
        return "unknown", "other"  # an address typed into the title field
    return _seniority(text), _department(text)


def _seniority(text: str) -> Seniority:
    if (text.strip() in NO_TITLE or FORMER.match(text) or CODE_LIKE.match(text)
            or not re.search(r"[a-z]{2}", text)):
        return "unknown"
    if ASSISTANT_TO.search(text):
        return "individual"
    for seniority, words, stems in SENIORITY_RULES:
        if _mentions(text, words, stems):
            return seniority
    return "individual"


def _department(text: str) -> str:
    for department, words, stems in DEPARTMENT_RULES:
        if _mentions(text, words, stems):
            return department
    return "other"


def _mentions(text: str, words: Iterable[str], stems: Iterable[str]) -> bool:
    return any(f" {word} " in text for word in words) or any(stem in text for stem in stems)


def _title_text(raw: str | None) -> str:
    """Lower-case ASCII words separated by single spaces, padded with a space each side:
    `Sr. VP, Sales & Marketing` → ` sr vp sales and marketing `."""
    if not isinstance(raw, str):
        return " "
    text = strip_accents(raw).casefold().translate(_UNDECOMPOSED).replace("&", " and ")
    text = text.replace(".", "")  # v.p. → vp, sr. → sr
    text = " " + " ".join(re.sub(r"[\W_]+", " ", text).split()) + " "
    for phrase, replacement in NOT_SENIORITY.items():
        text = text.replace(phrase, replacement)
    return text


# Letters NFKD does not split into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ß": "ss", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe",
                               "đ": "d", "ð": "d", "þ": "th", "ı": "i"})

