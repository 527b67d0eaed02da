"""Allows ``python -m scanner``."""

from scanner.cli.console import main

main()
