"""`bioner predict`: tag a corpus file (any reader format) with a trained model, or vote.

Given `--model` several times, every model tags the documents and a span is kept when at
least `--min-votes` of them (default: a strict majority) predict it (`bioner.ensemble`).
Post-processing rule sets (`bioner.postprocessing`) run as `Tagger` runs them (per head) for
one model, and once on the voted spans for several, not inside each voter (a `HEAD:name`
entry then on that head's types).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from bioner.cli.options import (
    check_new_output,
    is_stdout,
    overwrite_option,
    postprocess_option,
    refuse_folder_on_stdout,
)
from bioner.data.atomic import refuse_inputs

console = Console(stderr=True)


def predict_command(
    input_path: Path = typer.Argument(
        ..., metavar="INPUT", help="File (or BRAT folder) to tag, or - for stdin."
    ),
    model: list[str] = typer.Option(
        ..., "--model", "-m", help="Model directory or bundled name; repeat to vote."
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="Where to write the tagged documents (BRAT: a folder), or - for stdout.",
    ),
    from_format: str | None = typer.Option(
        None, "--from", help="Input format (guessed from the name, else the first line, if unset)."
    ),
    to_format: str | None = typer.Option(
        None,
        "--to",
        help="conll, pubtator, bioc-xml, bioc-json, brat, jsonl (default: from --output's "
        "suffix; no suffix: a BRAT folder; stdout: jsonl).",
    ),
    head: list[str] = typer.Option([], "--head", help="Decoder head(s) to use (default: all)."),
    tokenizer: str | None = typer.Option(
        None,
        help="default, variant or fine, for raw-text inputs (default: as the model was trained).",
    ),
    min_votes: int | None = typer.Option(
        None, "--min-votes", help="With several models: votes a span needs (default: majority)."
    ),
    postprocess: list[str] = postprocess_option(),
    overwrite: bool = overwrite_option(),
) -> None:
    """Replace the input's annotations with the model's predictions and write them out."""
    from bioner.annotation.pipeline import STDIN, read_stdin
    from bioner.data.formats import read_documents, write_documents, write_stream
    from bioner.ensemble import vote_spans
    from bioner.errors import BionerError
    from bioner.postprocessing import apply_rule_sets, split_entry
    from bioner.tagger import Tagger
    from bioner.text import make_tokenizer
    from bioner.training.data import ensure_tokenized

    if min_votes is not None and not 1 <= min_votes <= len(model):
        raise BionerError(f"--min-votes must be between 1 and {len(model)}, got {min_votes}")
    to_stdout = is_stdout(output)
    to_format = _output_format(to_format, None if to_stdout else output)
    if to_stdout:
        refuse_folder_on_stdout(to_format)
    else:
        refuse_inputs(output, [] if str(input_path) == STDIN else [input_path])  # precise message
        check_new_output(output, overwrite=overwrite)
    taggers = [Tagger.load(name) for name in model]
    rules = _rule_sets(postprocess, [t.postprocess for t in taggers])
    for tagger in taggers:  # one model runs the rules itself, per head; voters leave them
        tagger.postprocess = rules if len(taggers) == 1 else []
    trained_with = {t.config.data.tokenizer for t in taggers}
    if tokenizer is None and len(trained_with) > 1:
        names = ", ".join(sorted(trained_with))
        raise BionerError(
            f"the models were trained with different tokenizers ({names}); choose --tokenizer"
        )
    if str(input_path) == STDIN:
        read = read_stdin(from_format)
    else:
        read = read_documents(input_path, from_format)
    documents = ensure_tokenized(list(read), make_tokenizer(tokenizer or trained_with.pop()))
    predictions = [t.predict_documents(documents, head or None) for t in taggers]
    if len(taggers) == 1:
        predicted = predictions[0]
    else:
        predicted = vote_spans(predictions, min_votes)
        for entry in rules:  # HEAD:name entries run on the labels of that head only
            scope = split_entry(entry)[0]
            if scope is not None and scope not in (head or taggers[0].tags):
                continue
            heads = [scope] if scope is not None else head or None
            labels = {
                label
                for t in taggers
                if heads is None or set(heads) <= set(t.tags)
                for label in t.labels(heads)
            }
            predicted = apply_rule_sets(predicted, [entry], labels, scope)
    if to_stdout:
        count = write_stream(predicted, sys.stdout, to_format)
    else:
        count = write_documents(predicted, output, to_format, inputs=[input_path])
    spans = sum(len(d.spans) for d in predicted)
    where = "" if to_stdout else f" → {output}"
    console.print(f"tagged {count} documents, {spans} mentions{where}", markup=False)


def _output_format(to: str | None, output: Path | None) -> str:
    """`--to`, else the format `--output`'s suffix names (none: a BRAT folder), else JSONL.

    JSON Lines written into `tagged.pubtator` because `--to` was left out is never what was
    meant; a suffix that names no format asks for `--to` instead of guessing.
    """
    from bioner.annotation.output import format_of_output_name
    from bioner.data.formats import SUFFIX_FORMATS, normalize_format

    if to is not None:
        return normalize_format(to)
    if output is None:
        return "jsonl"
    return format_of_output_name(output, SUFFIX_FORMATS)


def _rule_sets(asked: list[str], models: list[list[str]]) -> list[str]:
    """The rule sets to run: `--postprocess` if given (`none` for no rules), else the models'."""
    from bioner.errors import BionerError
    from bioner.postprocessing import rule_sets_option

    chosen = rule_sets_option(asked)
    if chosen is not None:
        return chosen
    if any(rules != models[0] for rules in models):
        raise BionerError(
            "the models post-process differently; choose with --postprocess (or none)"
        )
    return models[0]
