"""The ad platforms' APIs a lead's answers are fetched from: Meta's Graph API and
LinkedIn's lead form responses. Webhooks from those two carry ids only.

Each call has a timeout and is retried with a short backoff on a timeout, a connection
error, 429 or 5xx. What cannot be fetched raises `FetchError`: `retry` True means the
sender should deliver again later (capture answers 503: Meta and LinkedIn retry), False
that the provider says the lead does not exist (422 naming it). Access tokens travel in
headers, never in URLs that could be logged.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from services.capture.providers.linkedin import urn_id
from shared.errors import LeadflowError
from shared.settings import Settings

GRAPH_LEAD_FIELDS = ("id,created_time,field_data,custom_disclaimer_responses,ad_id,adset_id,"
                     "campaign_id,form_id,is_organic,platform")
# Meta's Graph errors that mean "wait and retry" (rate limits, temporary issues, token
# problems an operator must fix) rather than "this lead does not exist".
_GRAPH_RETRY_CODES = frozenset((1, 2, 4, 17, 32, 102, 190, 341, 368, 613, 80004))
FORM_CACHE_S = 600.0
LINKEDIN_RESPONSE_FIELDS = ("ownerInfo,associatedEntityInfo,leadMetadataInfo,owner,leadType,"
                            "versionedLeadGenFormUrn,id,submittedAt,testLead,formResponse,"
                            "form:(hiddenFields,creationLocale,name,id,content)")


class FetchError(LeadflowError):
    """A lead the provider's API did not give: `retry` says whether to deliver again."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class LeadApis:
    """One HTTP client for the lead APIs; `transport` lets tests use httpx's fakes."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.provider_timeout_s),
            transport=transport, follow_redirects=False,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))
        self._forms: dict[str, tuple[float, dict[str, Any]]] = {}

    async def close(self) -> None:
        await self.client.aclose()

    async def facebook_lead(self, leadgen_id: str) -> dict[str, Any]:
        """`GET {graph}/{leadgen_id}?fields=...`: the lead's answers and consent."""
        url = f"{self.settings.facebook_graph_url.rstrip('/')}/{quote(leadgen_id, safe='')}"
        return await self._get(
            "Graph API", url, params={"fields": GRAPH_LEAD_FIELDS},
            headers={"Authorization": f"Bearer {self.settings.facebook_access_token}"},
            what=f"lead {leadgen_id}")

    async def linkedin_response(self, response_urn: str) -> dict[str, Any]:
        """`GET /rest/leadFormResponses/{id}` with the form (questions, hidden fields)
        projected in, as LinkedIn's Lead Sync collection fetches a lead."""
        return await self._get(
            "LinkedIn API", f"{self._linkedin()}/rest/leadFormResponses/"
            f"{quote(_linkedin_key(response_urn), safe='')}",
            params={"fields": LINKEDIN_RESPONSE_FIELDS},
            headers=self._linkedin_headers(), what=f"lead form response {response_urn}")

    async def linkedin_form(self, form_urn: str) -> dict[str, Any]:
        """`GET /rest/leadForms/{id}` (cached: a form's questions change rarely and each
        version has its own URN)."""
        cached = self._forms.get(form_urn)
        if cached is not None and time.monotonic() - cached[0] < FORM_CACHE_S:
            return cached[1]
        form = await self._get(
            "LinkedIn API", f"{self._linkedin()}/rest/leadForms/"
            f"{quote(_linkedin_key(form_urn), safe='')}",
            headers=self._linkedin_headers(), what=f"lead form {form_urn}")
        self._forms[form_urn] = (time.monotonic(), form)
        return form

    def _linkedin(self) -> str:
        return self.settings.linkedin_api_url.rstrip("/")

    def _linkedin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.linkedin_access_token}",
                "LinkedIn-Version": self.settings.linkedin_version,
                "X-Restli-Protocol-Version": "2.0.0"}

    async def _get(self, api: str, url: str, *, headers: dict[str, str], what: str,
                   params: dict[str, str] | None = None) -> dict[str, Any]:
        attempts = self.settings.provider_retries + 1
        last = "no answer"
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))
            try:
                response = await self.client.get(url, params=params, headers=headers)
            except httpx.TimeoutException:
                last = f"{api} did not answer within {self.settings.provider_timeout_s} s"
                continue
            except httpx.HTTPError as exc:
                last = f"{api} unreachable: {type(exc).__name__}"
                continue
            status = response.status_code
            body = _json(response.content)
            if status == 200:
                if not isinstance(body, dict):
                    last = f"{api} answered 200 with a body that is not a JSON object"
                    continue
                return body
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            if status == 429 or status >= 500 or code in _GRAPH_RETRY_CODES:
                last = f"{api} answered {status}" + (f" (error code {code})" if code else "")
                continue
            if status in (401, 403):
                raise FetchError(f"{api} refused the access token ({status}); check the "
                                 "provider's access token setting", retry=True)
            raise FetchError(f"{api} has no {what} ({status})", retry=False)
        raise FetchError(f"{last} after {attempts} attempt(s)", retry=True)


def _json(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _linkedin_key(urn: str) -> str:
    """The path key of a LinkedIn entity: the bare id of `urn:li:leadGenFormResponse:<id>`,
    the numeric form id of `urn:li:versionedLeadGenForm:(urn:li:leadGenForm:<id>,<v>)`."""
    return urn_id(urn)
