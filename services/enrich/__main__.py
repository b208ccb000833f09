"""python -m services.enrich: run the enrich service."""

from shared.cli import main

main(["serve", "enrich"])
