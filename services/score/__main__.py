"""python -m services.score: run the score service, as `leadflow serve score` does."""

import sys

from services.score.main import build
from shared.errors import LeadflowError
from shared.service import run_service

try:
    sys.exit(run_service("score", build))
except LeadflowError as exc:
    print(f"leadflow: {exc}", file=sys.stderr)
    sys.exit(2)
