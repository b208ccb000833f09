"""Capture's composition root: HTTP only, no consumer."""

from __future__ import annotations

from services.capture.api import Capture, FastPath, build_router
from shared.service import Parts, Runtime


def build(rt: Runtime) -> Parts:
    capture = Capture(rt)
    return Parts(router=build_router(rt, capture),
                 wrap=lambda app: FastPath(app, capture),
                 description="Receives leads from forms, ad platforms and APIs.")
