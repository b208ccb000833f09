"""Capture's composition root: HTTP only, no consumer."""

from __future__ import annotations

from services.capture.api import Capture, build_router
from shared.service import Parts, Runtime


def build(rt: Runtime) -> Parts:
    return Parts(router=build_router(rt, Capture(rt)),
                 description="Receives leads from forms, ad platforms and APIs.")
