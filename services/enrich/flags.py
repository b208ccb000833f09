"""Flags a lead's contact raises by itself: a shared inbox, an obvious test."""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- flags

# Addresses of a function, not a person: a lead from one reaches a shared inbox.
ROLE_LOCAL_PARTS = frozenset((
    "info", "sales", "contact", "hello", "hi", "support", "admin", "administrator", "office",
    "marketing", "team", "hr", "jobs", "careers", "billing", "accounts", "accounting",
    "enquiries", "enquiry", "inquiries", "inquiry", "noreply", "no-reply", "webmaster",
    "postmaster", "help", "service", "customerservice", "mail", "email", "general",
    "reception", "press", "media", "legal", "finance", "purchasing", "procurement", "orders",
    "kontakt", "vertrieb", "verkauf", "buero", "büro", "bonjour", "contacto", "ventas",
    "commercial", "comercial", "vendite", "info.de", "team.sales",
))
_TEST_WORDS = frozenset(("test", "testing", "tester", "asdf", "qwerty", "dummy", "fake",
                         "foo", "foobar", "xxx", "abc", "aaa", "sample", "demo"))
_TEST_LOCAL = re.compile(r"(?:test|testing|tester|asdf|qwerty|dummy|fake|foo|foobar|xxx)"
                         r"[\d._+-]*")
_RESERVED_DOMAINS = frozenset(("example.com", "example.net", "example.org"))
_RESERVED_TLDS = frozenset(("example", "test", "invalid", "localhost"))


def is_role_address(email: str | None) -> bool:
    """`info@`, `sales@`, `kontakt@`, ...: a shared inbox rather than a person."""
    if not email or "@" not in email:
        return False
    local = email.rsplit("@", 1)[0].casefold()
    return local in ROLE_LOCAL_PARTS or local.split("+", 1)[0] in ROLE_LOCAL_PARTS


def looks_like_test(email: str | None, first: str | None, last: str | None) -> bool:
    """An obvious test lead: a reserved example domain or TLD, a `test123@`-style
    address, or a name like `Test Test`/`asdf`."""
    if email and "@" in email:
        local, domain = email.casefold().rsplit("@", 1)
        if domain in _RESERVED_DOMAINS or domain.rsplit(".", 1)[-1] in _RESERVED_TLDS:
            return True
        if _TEST_LOCAL.fullmatch(local):
            return True
    names = [n.casefold() for n in (first, last) if n]
    return bool(names) and all(n in _TEST_WORDS for n in names)


