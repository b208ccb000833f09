"""Capture's composition root: HTTP only, no consumer; a task drops old raw bodies."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from services.capture import forms, imports_api, webhooks
from services.capture.adapters.leadapis import LeadApis
from services.capture.api import Capture, FastPath, build_router
from services.capture.sources import Sources
from services.capture.store import PURGE_BATCH
from shared.service import Parts, Runtime, drain_until_stopped

PURGE_EVERY_S = 3600.0


def build(rt: Runtime, apis: LeadApis | None = None) -> Parts:
    capture = Capture(rt)
    apis = apis or LeadApis(rt.settings)
    router = APIRouter()
    router.include_router(build_router(capture))
    sources = Sources(capture)
    router.include_router(webhooks.build_router(webhooks.Webhooks(sources, apis)))
    router.include_router(forms.build_router(forms.Forms(sources)))
    router.include_router(imports_api.build_router(imports_api.Imports(sources)))

    async def purge() -> int:
        return await capture.receipts.purge(rt.now() - rt.settings.delivery_retention_td,
                                            PURGE_BATCH)

    async def keep_retention(stop: asyncio.Event) -> None:
        """Raw bodies and payloads older than LEADFLOW_DELIVERY_RETENTION are dropped:
        hourly, at once again while a pass finds a full batch, sooner after a database
        fault (the shared drain's backoff)."""
        try:
            await drain_until_stopped(stop, "retention purge", PURGE_EVERY_S, purge,
                                      PURGE_BATCH)
        finally:
            await apis.close()

    return Parts(router=router, tasks=[keep_retention],
                 wrap=lambda app: FastPath(app, capture),
                 description="Receives leads from forms, ad platforms and APIs.")
