"""The shape of a `leadflow` subcommand, so each service contributes its own commands
from its own `commands.py` while the command line (the `leadflow` package, above the
services) owns parsing, settings and error reporting.

A command is `run(args, settings) -> exit code`. Before it runs, the command line fills
the broker and database in from a running `leadflow up` where the environment names
neither, and refuses with a clear message when the command needs one that is missing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

from shared.settings import Settings

Run: TypeAlias = Callable[[argparse.Namespace, Settings], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def command(parser: argparse.ArgumentParser, run: Run, *, kafka: bool = False,
            database: bool = False, stack: bool = True) -> None:
    """Make `parser` run `run`. `kafka` / `database`: the connections it needs.
    `stack=False`: take the settings exactly as the environment gives them (`serve` and
    `up` decide for themselves what a missing connection means)."""
    parser.set_defaults(run=run, needs_kafka=kafka, needs_database=database, stack=stack)
