"""Command-line options that several `bioner` subcommands take with the same meaning."""

from __future__ import annotations

from typing import Any

import typer


def postprocess_option() -> Any:
    """`--postprocess NAME` (repeatable) or `--postprocess none`; unset: the model's own rules."""
    return typer.Option(
        [],
        "--postprocess",
        help="Rule set to run on the predictions (variants, abbreviations, "
        "abbreviations-keep, repeats; HEAD:name for one head's spans), repeatable, or none; "
        "default: the model's own.",
    )
