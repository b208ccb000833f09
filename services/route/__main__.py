"""python -m services.route: run the route service, as `leadflow serve route` does."""

import sys

from services.route.main import build
from shared.errors import LeadflowError
from shared.service import run_service

try:
    sys.exit(run_service("route", build))
except LeadflowError as exc:
    print(f"leadflow: {exc}", file=sys.stderr)
    sys.exit(2)
