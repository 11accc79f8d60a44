"""Command-line options that several `bioner` subcommands take with the same meaning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bioner.errors import BionerError


def postprocess_option() -> Any:
    """`--postprocess NAME` (repeatable) or `--postprocess none`; unset: the model's own rules."""
    return typer.Option(
        [],
        "--postprocess",
        help="Rule set to run on the predictions (variants, abbreviations, "
        "abbreviations-keep, repeats; HEAD:name for one head's spans), repeatable, or none; "
        "default: the model's own.",
    )


def is_stdout(output: Path | None) -> bool:
    """Whether `--output -` asks for standard output (as `-` means stdin for an input).

    Commands check this before using `output` as a path, or they write a file named `-`.
    """
    from bioner.annotation.pipeline import STDIN

    return output is not None and str(output) == STDIN


def refuse_folder_on_stdout(fmt: str) -> None:
    """Refuse `--output -` for BRAT, a folder of files: one clear line, before any model loads."""
    if fmt == "brat":
        raise BionerError("--output -: BRAT output is a folder of files, it cannot go to stdout")
