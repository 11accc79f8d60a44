"""`bioner corpus stats|convert`: look at a corpus and move it between formats.

The work is done by `bioner.data.corpus` and `bioner.data.formats`; this module only parses
options and renders results (a rich table, or JSON for scripts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bioner.data.atomic import refuse_inputs
from bioner.data.corpus import Corpus, SplitStats, corpus_stats, load_corpus
from bioner.data.formats import (
    FORMATS,
    guess_format,
    normalize_format,
    read_documents,
    write_documents,
)
from bioner.errors import BionerError

app = typer.Typer(help="Corpus statistics and format conversion.", no_args_is_help=True)


def _report(corpus: Corpus, splits: dict[str, SplitStats]) -> dict[str, Any]:
    return {
        "corpus": corpus.name,
        "files": {split: str(corpus.files[split]) for split in corpus.splits},
        "splits": {split: stats.as_dict() for split, stats in splits.items()},
    }


def stats_report(path: Path, fmt: str | None = None, **options: Any) -> dict[str, Any]:
    """The figures `corpus stats` prints, as plain data (what `--json` writes)."""
    corpus = load_corpus(path, fmt, **options)
    return _report(corpus, corpus_stats(corpus))


def _table(name: str, splits: dict[str, SplitStats]) -> Table:
    labels = sorted({label for stats in splits.values() for label in stats.mentions})
    table = Table(title=f"{name}")
    table.add_column("split")
    for column in ("documents", "sentences", "tokens", *labels, "mentions"):
        table.add_column(column, justify="right")
    for split, stats in splits.items():
        table.add_row(
            split,
            f"{stats.documents:,}",
            f"{stats.sentences:,}" if stats.sentences else "–",
            f"{stats.tokens:,}" if stats.tokens else "–",
            *(f"{stats.mentions[label]:,}" for label in labels),
            f"{stats.total_mentions:,}",
        )
    return table


@app.command("stats")
def stats_command(
    path: Annotated[
        Path, typer.Argument(help="A corpus folder (train/devel/test files) or a file.")
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", "--from", help=f"One of {', '.join(FORMATS)}.")
    ] = None,
    scheme: Annotated[str | None, typer.Option(help="CoNLL tag scheme: IOB1, IOB2, BIOES.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Documents, sentences, tokens and mentions per type, per split."""
    options = {"scheme": scheme} if scheme else {}
    corpus = load_corpus(path, fmt, **options)
    splits = corpus_stats(corpus)
    if as_json:
        typer.echo(json.dumps(_report(corpus, splits), indent=2))
        return
    console = Console()
    console.print(_table(corpus.name, splits))
    for kind in ("overlapping", "discontinuous"):
        counts = {split: getattr(stats, kind) for split, stats in splits.items()}
        if any(counts.values()):
            listed = ", ".join(f"{split} {count:,}" for split, count in counts.items())
            console.print(
                f"{kind} mentions (BIO tags cannot hold them all; training warns): {listed}",
                highlight=False,
            )


def _check_target(source: Path, target: Path, target_format: str) -> None:
    """Refuse an existing output: a file was replaced without a word, and BRAT pairs were
    written among another corpus's pairs, which reading the folder then mixes in."""
    refuse_inputs(target, [source])  # the more precise message when it is the input
    if target_format == "brat":
        if target.is_dir() and any(target.iterdir()):
            raise BionerError(
                f"{target}: the folder is not empty; give a new or empty folder for BRAT output"
            )
    elif target.is_file():  # a folder is refused by the writer
        raise BionerError(f"{target}: exists already; remove it or give another TARGET")


@app.command("convert")
def convert_command(
    source: Annotated[Path, typer.Argument(help="Input file (or BRAT folder).")],
    target: Annotated[Path, typer.Argument(help="Output file (or folder for BRAT).")],
    to: Annotated[str, typer.Option("--to", help=f"Output format: {', '.join(FORMATS)}.")],
    from_: Annotated[
        str | None, typer.Option("--from", help="Input format (guessed when omitted).")
    ] = None,
    scheme: Annotated[
        str, typer.Option(help="Tag scheme for CoNLL input and output: IOB1, IOB2, BIOES.")
    ] = "IOB2",
    lenient: Annotated[
        bool, typer.Option(help="Decode ill-formed CoNLL tags leniently (conlleval rule).")
    ] = False,
) -> None:
    """Convert a corpus file between formats (never overwrites the input or an existing output)."""
    if str(target) == "-":  # a file or BRAT folder literally named "-" is never what was meant
        raise BionerError("TARGET -: convert cannot write to stdout; give a file (BRAT: a folder)")
    source_format = normalize_format(from_) if from_ else guess_format(source)
    target_format = normalize_format(to)
    _check_target(source, target, target_format)
    read_options: dict[str, Any] = {}
    if source_format == "conll":
        read_options = {"scheme": scheme, "strict": not lenient}
    write_options: dict[str, Any] = {}
    if target_format == "conll":
        write_options = {"scheme": scheme}
    documents = read_documents(source, source_format, **read_options)
    try:
        count = write_documents(documents, target, target_format, inputs=[source], **write_options)
    except ValueError as error:
        raise BionerError(f"cannot convert {source}: {error}") from None
    typer.echo(f"wrote {count} documents to {target} ({target_format})", err=True)
