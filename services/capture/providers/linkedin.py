"""LinkedIn Lead Gen Forms: Lead Sync notifications (PROVIDERS.md section 3).

The GET handshake answers `challengeCode` with its HMAC under the client secret; a POST
is signed with `X-LI-Signature` over `hmacsha256=` + the raw body and names the lead form
response by URN only, so each lead is a `Fetch` resolved through LinkedIn's API (the
response, and its form for each question's `predefinedField`). `DELETED` is no lead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.capture.mapping import ConsentItem, Submission
from services.capture.providers.common import (
    AD_PLATFORM,
    UTM_KEYS,
    BadDeliveryError,
    Fetch,
    Parsed,
    Provider,
    Webhook,
    dict_or_empty,
    list_at,
    load_json,
    object_at,
    parse_time,
)
from services.capture.providers.signing import (
    BadSignatureError,
    digests_match,
    hmac_sha256,
    required_header,
)
from shared.settings import Settings

if TYPE_CHECKING:
    from services.capture.adapters.leadapis import LeadApis

NAME = "linkedin"


def challenge_response(challenge: str, client_secret: str) -> str:
    """The `challengeResponse` LinkedIn's validation GET expects."""
    return hmac_sha256(client_secret, challenge.encode()).hex()


def handshake(query: Mapping[str, str], settings: Settings) -> dict[str, str]:
    challenge = query.get("challengeCode")
    if not challenge:
        raise BadDeliveryError("challengeCode", "is required")
    return {"challengeCode": challenge,
            "challengeResponse": challenge_response(challenge, settings.linkedin_client_secret)}


def verify_signature(headers: Mapping[str, str], body: bytes, client_secret: str) -> None:
    """`X-LI-Signature: <hex HMAC-SHA256(client secret, "hmacsha256=" + raw body)>`."""
    given = required_header(headers, "x-li-signature")
    if not digests_match(given.lower(), hmac_sha256(client_secret, b"hmacsha256=" + body).hex()):
        raise BadSignatureError("x-li-signature does not match the body")


def verify(hook: Webhook, settings: Settings) -> None:
    verify_signature(hook.headers, hook.body, settings.linkedin_client_secret)


def parse(body: bytes) -> Parsed:
    """A `LEAD_ACTION` notification: the response and form URNs; `DELETED` is no lead."""
    doc = object_at(load_json(body), "body")
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
    return Parsed([Fetch(NAME, "", response, ref)])


def urn_id(urn: str) -> str:
    """The id in a URN: `urn:li:leadGenFormResponse:249592fc-...-6` -> `249592fc-...-6`;
    for a versioned form `urn:li:versionedLeadGenForm:(urn:li:leadGenForm:123,4)` -> `123`."""
    inner = re.search(r"urn:li:leadGenForm:([^,)]+)", urn)
    if inner:
        return inner.group(1)
    return urn.rsplit(":", 1)[-1].strip("()")


async def fetch_lead(item: Fetch, apis: LeadApis) -> dict[str, Any]:
    """The lead form response, and its form when the response names one."""
    response = await apis.linkedin_response(item.ref["response"])
    form_urn = response.get("versionedLeadGenFormUrn") or item.ref.get("form")
    form = await apis.linkedin_form(str(form_urn)) if form_urn else None
    return {"response": response, "form": form}


def _questions(content: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(q["questionId"]): q for q in content.get("questions", [])
            if isinstance(q, dict) and q.get("questionId") is not None}


def _consent_texts(content: dict[str, Any]) -> dict[str, str]:
    return {str(c["consentId"]): _localized(c.get("question"))
            for c in content.get("consents", [])
            if isinstance(c, dict) and c.get("consentId") is not None}


def _answers(form_response: dict[str, Any], questions: dict[str, dict[str, Any]]
             ) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for answer in list_at(form_response.get("answers"), "formResponse.answers",
                          required=False):
        if not isinstance(answer, dict):
            continue
        qid = str(answer.get("questionId"))
        question = questions.get(qid, {})
        name = str(question.get("predefinedField") or question.get("name")
                   or f"question_{qid}")
        details = dict_or_empty(answer.get("answerDetails"))
        if isinstance(details.get("textQuestionAnswer"), dict):
            answers[name] = details["textQuestionAnswer"].get("answer")
        elif isinstance(details.get("multipleChoiceAnswer"), dict):
            options = _option_labels(question)
            chosen = details["multipleChoiceAnswer"].get("options") or []
            answers[name] = [options.get(str(o), str(o)) for o in chosen]
        else:
            answers[name] = None
    return answers


def submission(item: Fetch, response: Mapping[str, Any],
               form: Mapping[str, Any] | None) -> Submission:
    """A lead form response and its form (for each question's `predefinedField`)."""
    if not isinstance(form, Mapping) and isinstance(response.get("form"), dict):
        form = response["form"]  # projected into the response by the fetch
    content = dict_or_empty(form.get("content") if isinstance(form, Mapping) else None)
    questions = _questions(content)
    consents = _consent_texts(content)
    form_response = dict_or_empty(response.get("formResponse"))
    answers = _answers(form_response, questions)
    consent = []
    for given in form_response.get("consentResponses") or []:
        if isinstance(given, dict) and given.get("consentId") is not None:
            cid = str(given["consentId"])
            consent.append(ConsentItem(cid, given.get("accepted") is True,
                                       consents.get(cid) or None))
    metadata = response.get("leadMetadata")
    sponsored = metadata.get("sponsoredLeadMetadata") if isinstance(metadata, dict) else None
    campaign = sponsored.get("campaign") if isinstance(sponsored, dict) else None
    form_id = urn_id(str(response.get("versionedLeadGenFormUrn") or item.ref.get("form", "")))
    extra: dict[str, Any] = {k: item.ref[k] for k in ("owner",) if k in item.ref}
    source = {"form_id": form_id} if form_id else {}
    hidden = form.get("hiddenFields") if isinstance(form, Mapping) else None
    for field in hidden if isinstance(hidden, list) else []:
        if isinstance(field, dict) and isinstance(field.get("name"), str) and field.get("value"):
            if field["name"] in UTM_KEYS:
                source[field["name"]] = str(field["value"])
            else:
                extra[field["name"]] = field["value"]
    if isinstance(campaign, str):
        source["campaign_id"] = urn_id(campaign)
    entity = response.get("associatedEntity")
    creative = item.ref.get("creative")
    if isinstance(entity, dict):
        creative = entity.get("associatedCreative") or entity.get("sponsoredCreative") or creative
    if isinstance(creative, str):
        source["ad_id"] = urn_id(creative)
    return Submission(
        provider=NAME, channel=AD_PLATFORM, where=item.where, sender_id=item.sender_id,
        answers=answers, source=source, consent=consent, extra=extra,
        test=response.get("testLead") is True,
        submitted_at=parse_time(response.get("submittedAt"))
        or parse_time(item.ref.get("occurred_at")),
        form_key=form_id or None,
    )


def _localized(value: Any) -> str:
    """LinkedIn's localized text: `{"localized": {"en_US": "..."}}`."""
    if isinstance(value, dict):
        localized = value.get("localized")
        if isinstance(localized, dict) and localized:
            return str(next(iter(localized.values())))
        if isinstance(value.get("text"), str):
            return str(value["text"])
    return value if isinstance(value, str) else ""


def _option_labels(question: Mapping[str, Any]) -> dict[str, str]:
    details = question.get("questionDetails")
    choice = details.get("multipleChoiceQuestionDetails") if isinstance(details, dict) else None
    out = {}
    for option in dict_or_empty(choice).get("options", []):
        if isinstance(option, dict) and option.get("id") is not None:
            out[str(option["id"])] = _localized(option.get("text")) or str(option["id"])
    return out


PROVIDER = Provider(
    NAME, AD_PLATFORM, ("linkedin_client_secret", "linkedin_access_token"),
    verify=verify, parse=lambda hook: parse(hook.body),
    handshake=handshake, handshake_settings=("linkedin_client_secret",),
    fetch=fetch_lead,
    from_fetched=lambda item, got: submission(item, got["response"], got["form"]),
)
