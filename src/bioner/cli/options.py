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


def overwrite_option() -> Any:
    """`--overwrite`: replace an existing output file; without it an existing file is refused."""
    return typer.Option(
        False, "--overwrite", help="Replace an existing output file (default: refuse to)."
    )


def check_new_output(
    path: Path, *, overwrite: bool, option: str = "--output", folder: bool = True
) -> None:
    """Refuse, before any work, an output file that exists, unless `--overwrite` was given.

    An existing file is someone's earlier results: replacing it without a word loses them
    (the write is atomic, so a refused run leaves it as it was). A BRAT output is a folder:
    one that already holds files is refused even with `--overwrite`, since new pairs would
    sit among old ones that reading the folder then mixes in. With `folder=False` (an output
    that is always a file) a folder is left to the writer, which says to give a file name.
    """
    if path.is_dir():
        if folder and any(path.iterdir()):
            raise BionerError(
                f"{option} {path}: the folder is not empty; give a new or empty folder"
            )
        return
    if path.exists() and not overwrite:
        raise BionerError(
            f"{option} {path}: exists already; pass --overwrite to replace it, "
            f"or give another {option}"
        )
