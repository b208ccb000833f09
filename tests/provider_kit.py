"""What tests need to act as a lead source: the providers' documented sample payloads,
signatures computed the way each provider computes them, and a local fake of the two APIs
leads are fetched from (Meta's Graph API, LinkedIn's lead form responses), served over
real HTTP so capture reaches it through its URL settings."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from services.capture.providers.hubspot import signed_uri

FIXTURES = Path(__file__).parent / "fixtures" / "providers"

SECRETS = {
    "facebook_app_secret": "fb-app-secret",
    "facebook_verify_token": "fb-verify-token",
    "facebook_access_token": "fb-page-token",
    "google_ads_key": "xfdgdgsgfchgvhgfchg",  # the key in Google's own samples
    "linkedin_client_secret": "li-client-secret",
    "linkedin_access_token": "li-token",
    "typeform_secret": "tf-secret",
    "hubspot_client_secret": "hs-client-secret",
    "webflow_secret": "wf-secret",
    "unbounce_token": "ub-token",
}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def facebook_headers(body: bytes, secret: str = SECRETS["facebook_app_secret"]) -> dict[str, str]:
    return {"content-type": "application/json",
            "x-hub-signature-256": "sha256=" + _hmac(secret, body).hex()}


def linkedin_headers(body: bytes, secret: str = SECRETS["linkedin_client_secret"]
                     ) -> dict[str, str]:
    return {"content-type": "application/json",
            "x-li-signature": _hmac(secret, b"hmacsha256=" + body).hex()}


def typeform_headers(body: bytes, secret: str = SECRETS["typeform_secret"]) -> dict[str, str]:
    return {"content-type": "application/json",
            "typeform-signature": "sha256=" + base64.b64encode(_hmac(secret, body)).decode()}


def sign_hubspot(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    """HubSpot's v3 signature: base64 HMAC-SHA256 of method + the URI as HubSpot signs it
    + body + timestamp (ms)."""
    message = (method.upper().encode() + signed_uri(uri).encode() + body
               + str(timestamp_ms).encode())
    return base64.b64encode(_hmac(secret, message)).decode()


def hubspot_headers(body: bytes, uri: str, timestamp_ms: int,
                    secret: str = SECRETS["hubspot_client_secret"]) -> dict[str, str]:
    return {"content-type": "application/json",
            "x-hubspot-request-timestamp": str(timestamp_ms),
            "x-hubspot-signature-v3": sign_hubspot(secret, "POST", uri, body, timestamp_ms)}


def webflow_headers(body: bytes, timestamp_ms: int, secret: str = SECRETS["webflow_secret"]
                    ) -> dict[str, str]:
    return {"content-type": "application/json", "x-webflow-timestamp": str(timestamp_ms),
            "x-webflow-signature": _hmac(secret, f"{timestamp_ms}:".encode() + body).hex()}


@dataclass
class FakeLeadApis:
    """Meta's Graph API and LinkedIn's lead APIs, as far as capture uses them."""

    graph_leads: dict[str, Any] = field(default_factory=dict)
    linkedin_responses: dict[str, Any] = field(default_factory=dict)
    linkedin_forms: dict[str, Any] = field(default_factory=dict)
    mode: str = "ok"  # ok | fail | slow | garbage
    calls: list[str] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    url: str = ""

    def app(self) -> Starlette:
        async def graph(request: Request) -> Response:
            return await self._answer(request, self.graph_leads,
                                      request.path_params["lead_id"], graph_error=True)

        async def response(request: Request) -> Response:
            return await self._answer(request, self.linkedin_responses,
                                      request.path_params["rid"])

        async def form(request: Request) -> Response:
            return await self._answer(request, self.linkedin_forms,
                                      request.path_params["fid"])

        return Starlette(routes=[
            Route("/v25.0/{lead_id}", graph),
            Route("/rest/leadFormResponses/{rid}", response),
            Route("/rest/leadForms/{fid}", form),
        ])

    async def _answer(self, request: Request, table: dict[str, Any], key: str,
                      graph_error: bool = False) -> Response:
        self.calls.append(request.url.path)
        self.auth.append(request.headers.get("authorization", ""))
        if self.mode == "fail":
            return JSONResponse({"error": {"message": "temporarily down", "code": 2}},
                                status_code=500)
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "garbage":
            return PlainTextResponse("<html>oops</html>", status_code=200)
        if key not in table:
            if graph_error:  # Graph: "Unsupported get request. Object ... does not exist"
                return JSONResponse({"error": {"message": "does not exist", "code": 100,
                                               "type": "GraphMethodException"}},
                                    status_code=400)
            return JSONResponse({"status": 404, "message": "Not Found"}, status_code=404)
        return JSONResponse(table[key])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve_fake(fake: Any) -> AsyncIterator[Any]:
    """Serve a fake's `app()` over real HTTP on a free port; sets `fake.url`."""
    port = free_port()
    config = uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, it has no event
        await asyncio.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
