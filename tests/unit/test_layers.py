"""The layers hold at run time too: a service loads only what it needs."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Enrich's libraries: company domains, names and legal forms. Capture computes the person
# key from shared.identity and must not pay for them (memory, start-up) in every replica.
ENRICH_ONLY = ("tldextract", "nameparser", "cleanco")


def loaded_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after running `code`."""
    probe = f"import sys; {code}; print(*{{m.split('.')[0] for m in sys.modules}})"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True, timeout=60)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["services.capture.main", "services.capture.api",
                                    "services.capture.webhooks", "services.capture.forms",
                                    "services.capture.imports_api"])
def test_importing_capture_does_not_load_enrich_libraries(module: str) -> None:
    loaded = loaded_after(f"import {module}")
    assert "services" in loaded  # the probe did import the module
    assert not loaded & set(ENRICH_ONLY), sorted(loaded & set(ENRICH_ONLY))


def test_importing_enrich_loads_them() -> None:
    # The probe itself can see these libraries: it is not blind.
    assert {"tldextract", "cleanco"} <= loaded_after("import services.enrich.enrichment")
    assert "nameparser" in loaded_after(
        "from shared.identity import split_full_name; split_full_name('Ana Berg')")


def test_capture_splits_a_full_name_as_enrich_does() -> None:
    from datetime import UTC, datetime

    from services.capture.intake import lead_from_payload
    from services.enrich.enrichment import enrich_lead

    lead = lead_from_payload({"email": "ana@acme.com", "full_name": "Dr. Ana van der Berg"},
                             provider="api", channel="api",
                             now=datetime(2026, 3, 10, tzinfo=UTC))
    assert (lead.contact.first_name, lead.contact.last_name) == ("Ana", "van der Berg")
    enriched = enrich_lead(lead.model_dump(mode="json"))
    assert enriched["contact"]["first_name"] == "Ana"
    assert enriched["contact"]["last_name"] == "van der Berg"
