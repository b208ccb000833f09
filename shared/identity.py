"""Who a lead is: the normalizations of its identity fields and the person key built from them.

The person key (DESIGN.md section 3) is the record key of every event about a person, so
capture and enrich must compute it alike: the canonical email (syntax only, lower-cased),
the E.164 phone, the ISO country and the cleaned names live here, beside the key, and
both services use them. Pure: no network, no clock, no file reads.

Only libraries capture may load live here (email-validator, phonenumbers, pycountry);
nameparser is imported on the first full name split, so importing capture does not load
it. Company domains, names and titles are enrich's own (services/enrich).
"""

from __future__ import annotations

import gettext
import hashlib
import re
import unicodedata
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import email_validator
import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

if TYPE_CHECKING:
    from nameparser import HumanName
    from nameparser.config import Constants

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
    text = strip_accents(raw).casefold().replace(".", "").replace("'", "").replace("’", "")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())



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
    # Imported here: a full name is the only thing that needs nameparser, and capture,
    # which imports this module, must not load it for every lead that has no full name.
    from nameparser.config import Constants

    constants = Constants()
    constants.titles.add(*_HONORIFICS)
    return constants


def _parse_name(text: str) -> HumanName:
    from nameparser import HumanName

    return HumanName(text, constants=_name_constants())



# --------------------------------------------------------------------------- text


def strip_accents(text: str) -> str:
    """The text with accents dropped (NFKD, combining marks removed): `España` → `Espana`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))
