"""python -m services.route: run the route service."""

from shared.cli import main

main(["serve", "route"])
