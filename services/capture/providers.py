"""What each lead source sends, read into `Submission`s. Pure: no I/O, no secrets.

One reader per provider, each built to that provider's documented payload (the summary
is in the README's "Lead sources"): Meta Lead Ads and LinkedIn Lead Sync send ids only,
so their readers return `Fetch`es that the capture API resolves through the provider's
API and hands back to `facebook_submission` / `linkedin_submission`. Every id is kept as
a string (ad platforms' ids exceed 2^53). A body that cannot be read raises
`BadDeliveryError` naming the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from services.capture.mapping import ConsentItem, Submission, truthy
from shared.errors import InvalidInputError

AD_PLATFORM = "ad_platform"
WEB_FORM = "web_form"
_BIG_INT = re.compile(rb"\d{20,}")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_ITEMS = 1000  # Meta batches up to 1000 updates per notification


class BadDeliveryError(InvalidInputError):
    """A delivery capture cannot read: 422 naming `field`."""


@dataclass
class Fetch:
    """A lead whose answers the provider's API holds (Meta, LinkedIn)."""

    provider: str
    where: str
    sender_id: str
    ref: dict[str, str] = field(default_factory=dict)


@dataclass
class Parsed:
    items: list[Submission | Fetch]
    ignored: int = 0  # notifications that are not new leads (deletions, partials, ...)


# --- reading bodies ----------------------------------------------------------------------

def load_json(body: bytes, where: str = "body") -> Any:
    """JSON as senders send it: strict UTF-8, no NaN, bounded depth (orjson), and integers
    of any size kept exact (orjson turns those beyond 64 bits into floats)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadDeliveryError(where, f"not valid JSON: {exc}") from None
    if _BIG_INT.search(body):
        try:
            value = json.loads(body, parse_int=_exact_int)
        except (ValueError, RecursionError):
            raise BadDeliveryError(where, "not valid JSON") from None
    return value


def _exact_int(digits: str) -> int | str:
    number = int(digits)
    return number if abs(number) < 2**63 else digits


def text_id(value: Any, where: str, *, required: bool = True) -> str | None:
    """An id as a string, whether sent as a JSON string or number."""
    if value is None or value == "":
        if required:
            raise BadDeliveryError(where, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadDeliveryError(where, "must be a string or an integer id")
    out = str(value).strip()
    if not out or len(out) > 255:
        raise BadDeliveryError(where, "must be 1-255 characters")
    if not out.isprintable():
        raise BadDeliveryError(where, "must not hold control characters")
    return out


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadDeliveryError(where, "must be an object")
    return value


def _list(value: Any, where: str, *, required: bool = True) -> list[Any]:
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise BadDeliveryError(where, "must be a list")
    if len(value) > MAX_ITEMS:
        raise BadDeliveryError(where, f"more than {MAX_ITEMS} items")
    return value


def parse_time(value: Any) -> datetime | None:
    """A sender's timestamp: ISO 8601 (with `+0000` or `Z`), or Unix seconds or ms."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            number = float(value)
            if number > 1e11:  # milliseconds
                number /= 1000
            return datetime.fromtimestamp(number, UTC)
        if isinstance(value, str):
            text = value.strip().replace(" ", "T", 1)
            if re.search(r"[+-]\d{4}$", text):
                text = f"{text[:-2]}:{text[-2:]}"
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def utm_from_url(url: Any) -> dict[str, str]:
    """The `utm_*` parameters of a landing page URL."""
    if not isinstance(url, str):
        return {}
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    return {k: v for k, v in parse_qsl(query) if k in UTM_KEYS and v}


def _value(answer: Any) -> Any:
    """A field's value: the first of Meta's `values`, Unbounce's lists, ..."""
    if isinstance(answer, list):
        return answer[0] if len(answer) == 1 else answer
    return answer


# --- Meta (Facebook / Instagram) Lead Ads -----------------------------------------------

def parse_facebook(body: bytes) -> Parsed:
    """A Page `leadgen` notification: every entry's every change, ids only."""
    doc = _obj(load_json(body), "body")
    entries = _list(doc.get("entry"), "entry")
    items: list[Submission | Fetch] = []
    ignored = 0
    for i, entry in enumerate(entries):
        entry = _obj(entry, f"entry[{i}]")
        for j, change in enumerate(_list(entry.get("changes"), f"entry[{i}].changes")):
            where = f"entry[{i}].changes[{j}]"
            change = _obj(change, where)
            if change.get("field") != "leadgen":
                ignored += 1
                continue
            value = _obj(change.get("value"), f"{where}.value")
            leadgen_id = text_id(value.get("leadgen_id"), f"{where}.value.leadgen_id")
            assert leadgen_id is not None
            ref = {k: s for k in ("form_id", "ad_id", "adgroup_id", "page_id", "created_time")
                   if (s := text_id(value.get(k), f"{where}.value.{k}", required=False))}
            items.append(Fetch("facebook", where, leadgen_id, ref))
    if len(items) > MAX_ITEMS:
        raise BadDeliveryError("entry", f"more than {MAX_ITEMS} leads in one notification")
    return Parsed(items, ignored)


def facebook_submission(fetch: Fetch, lead: Mapping[str, Any]) -> Submission:
    """A Graph API lead (`GET /{leadgen_id}`) and its notification, as a submission."""
    answers: dict[str, Any] = {}
    for k, item in enumerate(_list(lead.get("field_data"), "field_data", required=False)):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadDeliveryError(f"{fetch.where}: field_data[{k}]",
                              "the Graph API returned a field without a name")
        answers[item["name"]] = _value(item.get("values"))
    consent = []
    for item in _list(lead.get("custom_disclaimer_responses"), "custom_disclaimer_responses",
                      required=False):
        if isinstance(item, dict) and item.get("checkbox_key") is not None:
            # Meta sends is_checked as the string "1" (checked) or "" (not checked).
            consent.append(ConsentItem(str(item["checkbox_key"]), truthy(item.get("is_checked"))))
    ids = {**fetch.ref, **{k: str(v) for k in ("form_id", "ad_id", "adset_id", "campaign_id")
                           if (v := lead.get(k)) not in (None, "")}}
    extra = {k: ids[k] for k in ("page_id", "adgroup_id", "adset_id") if k in ids}
    if lead.get("is_organic") is not None:
        extra["is_organic"] = bool(lead["is_organic"])
    if lead.get("platform"):
        extra["platform"] = str(lead["platform"])
    return Submission(
        provider="facebook", channel=AD_PLATFORM, where=fetch.where, sender_id=fetch.sender_id,
        answers=answers,
        source={k: ids[k] for k in ("form_id", "campaign_id", "ad_id") if k in ids},
        consent=consent, extra=extra,
        submitted_at=parse_time(lead.get("created_time")) or parse_time(
            fetch.ref.get("created_time")),
        form_key=ids.get("form_id"),
    )


# --- Google Ads lead form webhooks -------------------------------------------------------

def google_key(doc: Mapping[str, Any]) -> str | None:
    """The key the advertiser typed into the form's webhook setup (Google's own test
    samples spell it `Google_key`)."""
    key = doc.get("google_key", doc.get("Google_key"))
    return key if isinstance(key, str) else None


def parse_google_ads(doc: Mapping[str, Any]) -> Parsed:
    lead_id = text_id(doc.get("lead_id"), "lead_id")
    answers: dict[str, Any] = {}
    for k, col in enumerate(_list(doc.get("user_column_data"), "user_column_data")):
        where = f"user_column_data[{k}]"
        col = _obj(col, where)
        column_id = col.get("column_id")
        if not isinstance(column_id, str) or not column_id:
            raise BadDeliveryError(f"{where}.column_id", "is required")
        value = col.get("string_value")
        if value is not None and not isinstance(value, str | int | float):
            raise BadDeliveryError(f"{where}.string_value", "must be a string")
        answers[column_id] = value
    ids = {k: s for k in ("form_id", "campaign_id", "adgroup_id", "creative_id",
                          "asset_group_id", "gcl_id")
           if (s := text_id(doc.get(k), k, required=False)) and s != "0"}
    extra = {k: ids[k] for k in ("adgroup_id", "creative_id", "asset_group_id") if k in ids}
    if "gcl_id" in ids:
        extra["gclid"] = ids["gcl_id"]
    for key in ("lead_stage", "api_version"):
        if isinstance(doc.get(key), str):
            extra[key] = doc[key]
    sub = Submission(
        provider="google_ads", channel=AD_PLATFORM, where="", sender_id=lead_id,
        answers=answers,
        source={k: ids[k] for k in ("form_id", "campaign_id") if k in ids}
        | ({"ad_id": ids["creative_id"]} if "creative_id" in ids else {}),
        extra=extra, test=doc.get("is_test") is True,
        submitted_at=parse_time(doc.get("lead_submit_time")), form_key=ids.get("form_id"),
    )
    return Parsed([sub])


# --- LinkedIn Lead Sync ------------------------------------------------------------------

def parse_linkedin(body: bytes) -> Parsed:
    """A `LEAD_ACTION` notification: the response and form URNs; `DELETED` is no lead."""
    doc = _obj(load_json(body), "body")
    if doc.get("type") not in (None, "LEAD_ACTION"):
        return Parsed([], ignored=1)
    action = doc.get("leadAction", "CREATED")
    if action != "CREATED":
        return Parsed([], ignored=1)
    response = doc.get("leadGenFormResponse")
    if not isinstance(response, str) or not response.startswith("urn:li:"):
        raise BadDeliveryError("leadGenFormResponse", "must be a lead form response URN")
    form = doc.get("leadGenForm")
    ref = {"response": response}
    if isinstance(form, str):
        ref["form"] = form
    owner = doc.get("owner")
    if isinstance(owner, dict):
        for key in ("sponsoredAccount", "organization"):
            if isinstance(owner.get(key), str):
                ref["owner"] = owner[key]
    entity = doc.get("associatedEntity")
    if isinstance(entity, dict):  # the key's name in notifications is not documented
        for key in ("sponsoredCreative", "associatedCreative"):
            if isinstance(entity.get(key), str):
                ref["creative"] = entity[key]
    if doc.get("occurredAt") is not None:
        ref["occurred_at"] = str(doc["occurredAt"])
    # The response URN is the lead's id; one response is one lead.
    return Parsed([Fetch("linkedin", "", response, ref)])


def urn_id(urn: str) -> str:
    """The id in a URN: `urn:li:leadGenFormResponse:249592fc-...-6` -> `249592fc-...-6`;
    for a versioned form `urn:li:versionedLeadGenForm:(urn:li:leadGenForm:123,4)` -> `123`."""
    inner = re.search(r"urn:li:leadGenForm:([^,)]+)", urn)
    if inner:
        return inner.group(1)
    return urn.rsplit(":", 1)[-1].strip("()")


def linkedin_submission(fetch: Fetch, response: Mapping[str, Any],
                        form: Mapping[str, Any] | None) -> Submission:
    """A lead form response and its form (for each question's `predefinedField`)."""
    if not isinstance(form, Mapping) and isinstance(response.get("form"), dict):
        form = response["form"]  # projected into the response by the fetch
    questions: dict[str, dict[str, Any]] = {}
    content = (form or {}).get("content") if isinstance(form, Mapping) else None
    for q in (content or {}).get("questions", []) if isinstance(content, dict) else []:
        if isinstance(q, dict) and q.get("questionId") is not None:
            questions[str(q["questionId"])] = q
    consents: dict[str, str] = {}
    for c in (content or {}).get("consents", []) if isinstance(content, dict) else []:
        if isinstance(c, dict) and c.get("consentId") is not None:
            consents[str(c["consentId"])] = _localized(c.get("question"))
    form_response = response.get("formResponse")
    form_response = form_response if isinstance(form_response, dict) else {}
    answers: dict[str, Any] = {}
    for k, answer in enumerate(_list(form_response.get("answers"), "formResponse.answers",
                                     required=False)):
        if not isinstance(answer, dict):
            continue
        qid = str(answer.get("questionId"))
        question = questions.get(qid, {})
        name = question.get("predefinedField") or question.get("name") or f"question_{qid}"
        details = answer.get("answerDetails")
        details = details if isinstance(details, dict) else {}
        if isinstance(details.get("textQuestionAnswer"), dict):
            answers[str(name)] = details["textQuestionAnswer"].get("answer")
        elif isinstance(details.get("multipleChoiceAnswer"), dict):
            options = _option_labels(question)
            chosen = details["multipleChoiceAnswer"].get("options") or []
            answers[str(name)] = [options.get(str(o), str(o)) for o in chosen]
        else:
            answers[str(name)] = None
    consent = []
    for item in form_response.get("consentResponses") or []:
        if isinstance(item, dict) and item.get("consentId") is not None:
            cid = str(item["consentId"])
            consent.append(ConsentItem(cid, item.get("accepted") is True,
                                       consents.get(cid) or None))
    metadata = response.get("leadMetadata")
    sponsored = metadata.get("sponsoredLeadMetadata") if isinstance(metadata, dict) else None
    campaign = sponsored.get("campaign") if isinstance(sponsored, dict) else None
    form_id = urn_id(str(response.get("versionedLeadGenFormUrn") or fetch.ref.get("form", "")))
    extra: dict[str, Any] = {k: fetch.ref[k] for k in ("owner",) if k in fetch.ref}
    source = {"form_id": form_id} if form_id else {}
    hidden = form.get("hiddenFields") if isinstance(form, Mapping) else None
    for item in hidden if isinstance(hidden, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item.get("value"):
            if item["name"] in UTM_KEYS:
                source[item["name"]] = str(item["value"])
            else:
                extra[item["name"]] = item["value"]
    if isinstance(campaign, str):
        source["campaign_id"] = urn_id(campaign)
    entity = response.get("associatedEntity")
    creative = fetch.ref.get("creative")
    if isinstance(entity, dict):
        creative = entity.get("associatedCreative") or entity.get("sponsoredCreative") or creative
    if isinstance(creative, str):
        source["ad_id"] = urn_id(creative)
    return Submission(
        provider="linkedin", channel=AD_PLATFORM, where=fetch.where, sender_id=fetch.sender_id,
        answers=answers, source=source, consent=consent, extra=extra,
        test=response.get("testLead") is True,
        submitted_at=parse_time(response.get("submittedAt"))
        or parse_time(fetch.ref.get("occurred_at")),
        form_key=form_id or None,
    )


def _localized(value: Any) -> str:
    """LinkedIn's localized text: `{"localized": {"en_US": "..."}}`."""
    if isinstance(value, dict):
        localized = value.get("localized")
        if isinstance(localized, dict) and localized:
            return str(next(iter(localized.values())))
        if isinstance(value.get("text"), str):
            return value["text"]
    return value if isinstance(value, str) else ""


def _option_labels(question: Mapping[str, Any]) -> dict[str, str]:
    details = question.get("questionDetails")
    choice = details.get("multipleChoiceQuestionDetails") if isinstance(details, dict) else None
    out = {}
    for option in (choice or {}).get("options", []) if isinstance(choice, dict) else []:
        if isinstance(option, dict) and option.get("id") is not None:
            out[str(option["id"])] = _localized(option.get("text")) or str(option["id"])
    return out


# --- Typeform ---------------------------------------------------------------------------

_TYPEFORM_VALUE = ("text", "email", "phone_number", "number", "boolean", "date", "url",
                   "file_url")


def parse_typeform(body: bytes) -> Parsed:
    doc = _obj(load_json(body), "body")
    if doc.get("event_type") not in (None, "form_response"):
        return Parsed([], ignored=1)  # form_response_partial: not a finished lead
    response = _obj(doc.get("form_response"), "form_response")
    token = text_id(response.get("token"), "form_response.token")
    definition = response.get("definition") if isinstance(response.get("definition"),
                                                          dict) else {}
    fields = [f for f in definition.get("fields") or [] if isinstance(f, dict)]
    titles = {f.get("id"): f.get("title") for f in fields}
    refs = {f.get("id"): f.get("ref") for f in fields}
    answers: dict[str, Any] = {}
    hints: dict[str, str] = {}
    consent = []
    for k, answer in enumerate(_list(response.get("answers"), "form_response.answers",
                                     required=False)):
        where = f"form_response.answers[{k}]"
        answer = _obj(answer, where)
        fld = _obj(answer.get("field"), f"{where}.field")
        name = fld.get("ref") or refs.get(fld.get("id")) or fld.get("id")
        if not isinstance(name, str) or not name:
            raise BadDeliveryError(f"{where}.field.ref", "is required")
        kind = answer.get("type")
        if fld.get("type") == "legal":
            consent.append(ConsentItem(name, answer.get("boolean") is True,
                                       titles.get(fld.get("id")) or None))
            continue
        if kind in _TYPEFORM_VALUE:
            value = answer.get(kind)
        elif kind == "choice":
            choice = answer.get("choice") or {}
            value = choice.get("label") or choice.get("other") if isinstance(choice,
                                                                             dict) else None
        elif kind == "choices":
            choices = answer.get("choices") or {}
            value = list(choices.get("labels") or []) if isinstance(choices, dict) else None
            if isinstance(choices, dict) and choices.get("other"):
                value = [*(value or []), choices["other"]]
        else:
            value = answer.get(kind) if isinstance(kind, str) else None
        answers[name] = value
        if kind == "email":
            hints[name] = "email"
        elif kind == "phone_number":
            hints[name] = "phone"
    hidden = response.get("hidden") if isinstance(response.get("hidden"), dict) else {}
    source = {k: str(v) for k, v in hidden.items() if k in UTM_KEYS and v}
    extra: dict[str, Any] = {k: v for k, v in hidden.items() if k not in UTM_KEYS}
    calculated = response.get("calculated")
    if isinstance(calculated, dict) and calculated.get("score") is not None:
        extra["typeform_score"] = calculated["score"]
    form_id = text_id(response.get("form_id"), "form_response.form_id", required=False)
    if form_id:
        source["form_id"] = form_id
    sub = Submission(
        provider="typeform", channel=WEB_FORM, where="", sender_id=token, answers=answers,
        source=source, consent=consent, extra=extra,
        submitted_at=parse_time(response.get("submitted_at")), form_key=form_id, hints=hints,
    )
    return Parsed([sub])


# --- HubSpot workflow webhooks -----------------------------------------------------------

_HUBSPOT_KEEP = ("hs_analytics_source", "hs_analytics_source_data_1",
                 "hs_analytics_source_data_2", "hs_lead_status", "lifecyclestage")


def parse_hubspot(body: bytes) -> Parsed:
    """A workflow's contact (legacy contact profile), or Webhooks API events."""
    doc = load_json(body)
    if isinstance(doc, list):  # Webhooks API subscriptions: events with ids only
        raise BadDeliveryError("body", "Webhooks API events carry no lead data; send contacts "
                          "from a workflow's Send a webhook action")
    doc = _obj(doc, "body")
    props = doc.get("properties")
    if not isinstance(props, dict):
        raise BadDeliveryError("properties", "must be an object of contact properties")
    answers: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, prop in props.items():
        value = prop.get("value") if isinstance(prop, dict) else prop
        if name.startswith("hs_") or name in ("lastmodifieddate", "createdate"):
            if name in _HUBSPOT_KEEP and value not in (None, ""):
                extra[name] = value
            continue
        answers[name] = value
    vid = text_id(doc.get("vid", doc.get("canonical-vid", doc.get("objectId"))), "vid",
                  required=False)
    submissions = [s for s in _list(doc.get("form-submissions"), "form-submissions",
                                    required=False) if isinstance(s, dict)]
    latest = max(submissions, key=lambda s: s.get("timestamp") or 0, default=None)
    source: dict[str, str] = {}
    submitted = None
    sender_id = None
    if latest is not None:
        conversion = text_id(latest.get("conversion-id"), "form-submissions[].conversion-id",
                             required=False)
        if vid and conversion:
            sender_id = f"{vid}:{conversion}"
        if latest.get("form-id"):
            source["form_id"] = str(latest["form-id"])
        page = latest.get("page-url")
        if isinstance(page, str) and page:
            source["landing_page"] = page
            source.update(utm_from_url(page))
        submitted = parse_time(latest.get("timestamp"))
    elif doc.get("eventId") is not None:
        sender_id = f"event:{doc['eventId']}"
    first_url = props.get("hs_analytics_first_url")
    if isinstance(first_url, dict):
        for k, v in utm_from_url(first_url.get("value")).items():
            source.setdefault(k, v)
    if vid:
        extra["hubspot_contact_id"] = vid
    sub = Submission(provider="hubspot", channel=WEB_FORM, where="", sender_id=sender_id,
                     answers=answers, source=source, extra=extra, submitted_at=submitted,
                     form_key=source.get("form_id"))
    return Parsed([sub])


# --- Webflow ----------------------------------------------------------------------------

def parse_webflow(body: bytes) -> Parsed:
    doc = _obj(load_json(body), "body")
    if doc.get("triggerType") not in (None, "form_submission"):
        return Parsed([], ignored=1)
    payload = _obj(doc.get("payload"), "payload")
    submission_id = text_id(payload.get("id"), "payload.id")
    data = _obj(payload.get("data", {}), "payload.data")
    hints = {}
    for k, item in enumerate(_list(payload.get("schema"), "payload.schema", required=False)):
        if isinstance(item, dict) and isinstance(item.get("fieldName"), str):
            kind = str(item.get("fieldType", "")).lower()
            if "email" in kind:
                hints[item["fieldName"]] = "email"
            elif "phone" in kind or kind == "tel":
                hints[item["fieldName"]] = "phone"
    answers = {}
    source = {}
    for name, value in data.items():
        if name in UTM_KEYS and value:
            source[name] = str(value)
        else:
            # Values may be JSON numbers (a phone number, say): text from here on.
            answers[name] = str(value) if isinstance(value, int | float) and not isinstance(
                value, bool) else value
    form_id = text_id(payload.get("formId"), "payload.formId", required=False)
    if form_id:
        source["form_id"] = form_id
    extra = {k: payload[k] for k in ("name", "siteId", "formElementId") if
             isinstance(payload.get(k), str)}
    if "name" in extra:
        extra["form_name"] = extra.pop("name")
    sub = Submission(provider="webflow", channel=WEB_FORM, where="", sender_id=submission_id,
                     answers=answers, source=source, extra=extra,
                     submitted_at=parse_time(payload.get("submittedAt")), form_key=form_id,
                     hints=hints)
    return Parsed([sub])


# --- Unbounce ---------------------------------------------------------------------------

_UNBOUNCE_META = ("ip_address", "page_uuid", "variant", "time_submitted", "date_submitted",
                  "page_url", "page_name", "page_id")


def parse_unbounce(fields: Mapping[str, Any]) -> Parsed:
    """The form post (its top-level fields, `data.json` a JSON string) or a JSON body."""
    raw = fields.get("data.json")
    if isinstance(raw, str):
        data = load_json(raw.encode("utf-8", "surrogatepass"), "data.json")
    elif isinstance(raw, dict):
        data = raw
    else:
        raise BadDeliveryError("data.json", "is required")
    if not isinstance(data, dict):
        raise BadDeliveryError("data.json", "must be a JSON object")
    meta = {k: _value(data.get(k)) for k in _UNBOUNCE_META if data.get(k) not in (None, [])}
    page_id = fields.get("page_id") or meta.get("page_uuid") or meta.get("page_id")
    variant = fields.get("variant") or meta.get("variant")
    page_url = fields.get("page_url") or meta.get("page_url")
    answers = {k: v for k, v in data.items() if k not in _UNBOUNCE_META}
    source: dict[str, str] = {}
    for key in UTM_KEYS:
        if key in answers:
            value = _value(answers.pop(key))
            if value:
                source[key] = str(value)
    if isinstance(page_url, str) and page_url:
        source["landing_page"] = page_url
        for k, v in utm_from_url(page_url).items():
            source.setdefault(k, v)
    if page_id:
        source["form_id"] = str(page_id)
    # Unbounce sends no lead id: the page, the variant and the whole submission (which
    # holds its date and minute) identify it, so a retried post is the same lead.
    digest = hashlib.sha256(orjson.dumps([str(page_id), str(variant), data],
                                         option=orjson.OPT_SORT_KEYS)).hexdigest()
    submitted = None
    if meta.get("date_submitted") and meta.get("time_submitted"):
        submitted = _unbounce_time(str(meta["date_submitted"]), str(meta["time_submitted"]))
    extra = {k: str(v) for k, v in (("page_name", fields.get("page_name") or
                                     meta.get("page_name")), ("variant", variant),
                                    ("ip_address", meta.get("ip_address"))) if v}
    sub = Submission(provider="unbounce", channel=WEB_FORM, where="",
                     sender_id=f"content:{digest}", answers=answers, source=source,
                     extra=extra, submitted_at=submitted,
                     form_key=str(page_id) if page_id else None)
    return Parsed([sub])


def _unbounce_time(day: str, clock: str) -> datetime | None:
    """`2024-03-05` and `04:17 PM UTC`."""
    try:
        stamp = datetime.strptime(f"{day} {clock.replace(' UTC', '')}", "%Y-%m-%d %I:%M %p")
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC)
