"""The `bioner` command line. Subcommands live one per module in this package."""

from bioner.cli.app import app, main

__all__ = ["app", "main"]
