"""python -m services.capture: run the capture service, as `leadflow serve capture` does."""

import sys

from services.capture.main import build
from shared.errors import LeadflowError
from shared.service import run_service

try:
    sys.exit(run_service("capture", build))
except LeadflowError as exc:
    print(f"leadflow: {exc}", file=sys.stderr)
    sys.exit(2)
