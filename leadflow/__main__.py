"""python -m leadflow: the `leadflow` command."""

from leadflow.cli import main

main()
