"""`bioner predict`: tag a corpus file (any reader format) with a trained model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def predict_command(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="File (or BRAT folder) to tag."),
    model: str = typer.Option(..., "--model", "-m", help="Model directory or bundled name."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the tagged documents."),
    from_format: str | None = typer.Option(None, "--from", help="Input format (guessed if unset)."),
    to_format: str = typer.Option(
        "jsonl", "--to", help="conll, pubtator, bioc-xml, bioc-json, brat, jsonl."
    ),
    head: list[str] = typer.Option([], "--head", help="Decoder head(s) to use (default: all)."),
    tokenizer: str | None = typer.Option(
        None,
        help="default, variant or fine, for raw-text inputs (default: as the model was trained).",
    ),
) -> None:
    """Replace the input's annotations with the model's predictions and write them out."""
    from bioner.data.formats import read_documents, write_documents
    from bioner.tagger import Tagger
    from bioner.text import make_tokenizer
    from bioner.training.data import ensure_tokenized

    tagger = Tagger.load(model)
    documents = ensure_tokenized(
        list(read_documents(input_path, from_format)),
        make_tokenizer(tokenizer or tagger.config.data.tokenizer),
    )
    predicted = tagger.predict_documents(documents, head or None)
    count = write_documents(predicted, output, to_format, inputs=[input_path])
    spans = sum(len(d.spans) for d in predicted)
    console.print(f"tagged {count} documents, {spans} mentions → {output}")
