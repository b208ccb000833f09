"""python -m services.score: run the score service."""

from shared.cli import main

main(["serve", "score"])
