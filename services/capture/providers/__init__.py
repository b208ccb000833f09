"""The lead sources capture takes webhooks from, by their name in `/v1/webhooks/{name}`.

Each source is a module here holding its parse, its verification and the settings it
reads (PROVIDERS.md has each one's contract); `common` and `signing` hold what they share.
Adding a source is a new module and its line below.
"""

from __future__ import annotations

from services.capture.providers import (
    facebook,
    google_ads,
    hubspot,
    linkedin,
    typeform,
    unbounce,
    webflow,
)
from services.capture.providers.common import Provider

PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    facebook.PROVIDER,
    google_ads.PROVIDER,
    linkedin.PROVIDER,
    typeform.PROVIDER,
    hubspot.PROVIDER,
    webflow.PROVIDER,
    unbounce.PROVIDER,
)}

__all__ = ["PROVIDERS", "Provider"]
