"""python -m services.capture: run the capture service."""

from shared.cli import main

main(["serve", "capture"])
