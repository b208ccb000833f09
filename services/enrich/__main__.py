"""python -m services.enrich: run the enrich service, as `leadflow serve enrich` does."""

import sys

from services.enrich.main import build
from shared.errors import LeadflowError
from shared.service import run_service

try:
    sys.exit(run_service("enrich", build))
except LeadflowError as exc:
    print(f"leadflow: {exc}", file=sys.stderr)
    sys.exit(2)
