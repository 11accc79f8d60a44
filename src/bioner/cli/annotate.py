"""`bioner annotate`: tag real text — arguments, files, folders or stdin — in a stream.

One job: wire the command-line options to `bioner.annotation` (input discovery, streaming
batches or worker processes, writers). A bad input costs one error line and the rest still
runs; the command ends with a summary and exit status 1 when anything failed.
"""

from __future__ import annotations

import itertools
import sys
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from bioner.cli.options import (
    check_new_output,
    is_stdout,
    overwrite_option,
    postprocess_option,
    refuse_folder_on_stdout,
)
from bioner.data.document import Document
from bioner.errors import BionerError

_MAX_LISTED_FAILURES = 20


def _check_model(model: str) -> None:
    """A clear error for the bundled default model when none is bundled yet."""
    from bioner.models.registry import bundled_model_names

    if model == "default" and not Path(model).is_dir() and "default" not in bundled_model_names():
        raise BionerError(
            'no bundled model is installed yet ("default"); train one with `bioner train` '
            "and pass its directory with --model PATH"
        )


def _without_new_tokens(
    documents: Iterator[Document],
) -> tuple[Iterator[Document], Callable[[Iterator[Document]], Iterator[Document]]]:
    """Drop the sentences the tagger made, so span-level outputs do not list every token.

    Sentences that came with the input (CoNLL, JSONL with `sentences`) are kept. Every engine
    yields one document per input document, in input order, so a queue of "arrived
    tokenized" flags pairs each output with its input.
    """
    arrived_tokenized: deque[bool] = deque()

    def inputs() -> Iterator[Document]:
        for document in documents:
            arrived_tokenized.append(bool(document.sentences))
            yield document

    def outputs(annotated: Iterator[Document]) -> Iterator[Document]:
        for document in annotated:
            if arrived_tokenized.popleft() or not document.sentences:
                yield document
                continue
            lean = document.with_spans(document.spans)
            lean.sentences = []
            yield lean

    return inputs(), outputs


def annotate_command(
    inputs: list[str] = typer.Argument(
        None,
        metavar="[TEXT|FILE|DIR|-]...",
        help="Text to tag, files, folders (searched recursively) or - for stdin.",
    ),
    model: str = typer.Option("default", "--model", "-m", help="Model directory or bundled name."),
    from_format: str | None = typer.Option(
        None,
        "--from",
        help="Input format: text, pubtator, bioc-xml, bioc-json, jsonl, conll, brat "
        "(default: from each file's suffix, else text; a PubTator first line, and stdin, "
        "by content).",
    ),
    lines: bool = typer.Option(False, "--lines", help="Plain text: one document per line."),
    extensions: list[str] = typer.Option(
        [],
        "--ext",
        help="File endings to pick up in folders (default: .txt .pubtator .xml .json .jsonl).",
    ),
    to: str | None = typer.Option(
        None,
        "--to",
        help="terminal, json, jsonl, pubtator, bioc-xml, bioc-json, brat, conll "
        "(default: from --output's suffix, else terminal on a TTY, else jsonl).",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Output file (BRAT: folder); written atomically; - for stdout."
    ),
    types: list[str] = typer.Option(
        [], "--types", "-t", help="Keep only these entity types (comma-separated or repeated)."
    ),
    batch_size: int = typer.Option(256, "--batch-size", help="Documents per prediction batch."),
    workers: int = typer.Option(
        1, "--workers", "-w", help="Worker processes (each loads the model)."
    ),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local (this machine; --workers processes) or ray (Ray; --workers tasks at once).",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        help="Ray cluster to join (e.g. auto or ray://head:10001); default: start a local Ray.",
    ),
    with_tokens: bool = typer.Option(
        False,
        "--tokens/--no-tokens",
        help="Also write token offsets (JSON/JSONL sentences); CoNLL output always has them.",
    ),
    tokenizer: str | None = typer.Option(
        None,
        help="default, variant (DeepVar) or fine (tmVar-style); default: the model's own.",
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="Torch CPU threads in this process (workers always use 1)."
    ),
    postprocess: list[str] = postprocess_option(),
    overwrite: bool = overwrite_option(),
) -> None:
    """Annotate text with a trained model and write the entities with exact character offsets."""
    from bioner.annotation.output import choose_format, write_output
    from bioner.annotation.pipeline import (
        DEFAULT_EXTENSIONS,
        Failure,
        annotate_stream,
        check_types,
        input_paths,
        iter_documents,
        model_labels,
        resolve_sources,
    )
    from bioner.data.atomic import refuse_inputs
    from bioner.postprocessing import rule_sets_option
    from bioner.text import TOKENIZER_NAMES, make_tokenizer

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if not inputs:
        if sys.stdin.isatty():
            raise BionerError("nothing to annotate: give text, files, folders, or - for stdin")
        inputs = ["-"]
    if batch_size < 1:
        raise BionerError(f"--batch-size must be at least 1, got {batch_size}")
    if workers < 1:
        raise BionerError(f"--workers must be at least 1, got {workers}")
    if threads is not None:
        if threads < 1:
            raise BionerError(f"--threads must be at least 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    if engine not in ("local", "ray"):
        raise BionerError(f"--engine must be local or ray, got {engine!r}")
    if ray_address is not None and engine != "ray":
        raise BionerError("--ray-address needs --engine ray")
    if tokenizer is not None and tokenizer not in TOKENIZER_NAMES:
        names = ", ".join(TOKENIZER_NAMES)
        raise BionerError(f"--tokenizer must be one of {names}, got {tokenizer!r}")
    rules = rule_sets_option(postprocess)
    to_stdout = is_stdout(output)
    if to_stdout:
        output = None
    fmt = choose_format(to, output, sys.stdout.isatty())
    if to_stdout:
        refuse_folder_on_stdout(fmt)
    sources_given = input_paths(inputs)
    if output is not None:
        refuse_inputs(output, sources_given)
        check_new_output(output, overwrite=overwrite)
    _check_model(model)

    failures: list[Failure] = []

    def report(failure: Failure) -> None:
        failures.append(failure)
        err.print(f"[bold red]error:[/] {escape(str(failure))}", markup=True)

    from bioner.tagger import Tagger

    tagger = Tagger.load(model)  # also validates the model before any worker starts
    if rules is not None:
        tagger.postprocess = rules
    labels = model_labels(tagger)
    tokenizer = tokenizer or tagger.config.data.tokenizer
    wanted = check_types(types or None, labels)
    found = resolve_sources(
        inputs, fmt=from_format, extensions=extensions or DEFAULT_EXTENSIONS, on_error=report
    )
    head = list(itertools.islice(found, 2))  # peek: is this one plain-text document?
    single = len(head) == 1 and head[0].fmt == "text" and not lines and not failures
    documents = iter_documents(itertools.chain(head, found), lines=lines, on_error=report)
    tokens = with_tokens or fmt == "conll"
    if not tokens:
        documents, drop_new_tokens = _without_new_tokens(documents)
    # Both remote engines take the same options; their workers load their own model copies.
    remote = {
        "workers": workers,
        "batch_size": batch_size,
        "types": wanted,
        "tokenizer_name": tokenizer,
        "tokens": tokens,
        "postprocess": rules,
    }
    if engine == "ray":
        from bioner.annotation.ray_engine import annotate_ray

        del tagger
        annotated = annotate_ray(model, documents, address=ray_address, **remote)
    elif workers > 1:
        from bioner.annotation.parallel import annotate_parallel

        del tagger
        annotated = annotate_parallel(model, documents, **remote)
    else:
        annotated = annotate_stream(
            tagger,
            documents,
            batch_size=batch_size,
            types=wanted,
            tokenizer=make_tokenizer(tokenizer),
        )
    if not tokens:
        annotated = drop_new_tokens(annotated)
    counts = {"documents": 0, "mentions": 0}

    def counted() -> Iterator[Document]:
        for document in annotated:
            counts["documents"] += 1
            counts["mentions"] += len(document.spans)
            yield document

    write_output(
        counted(),
        fmt,
        output=output,
        stream=sys.stdout,
        inputs=sources_given,
        single=single,
        labels=sorted(wanted) if wanted else labels,
    )
    where = f" → {output}" if output is not None else ""
    err.print(
        f"annotated {counts['documents']} document(s), {counts['mentions']} mention(s){where}",
        style="dim",
        markup=False,
    )
    if failures:
        err.print(f"[bold red]{len(failures)} input(s) failed:[/]", markup=True)
        for failure in failures[:_MAX_LISTED_FAILURES]:
            err.print(f"  {failure}", markup=False)
        if len(failures) > _MAX_LISTED_FAILURES:
            err.print(f"  … and {len(failures) - _MAX_LISTED_FAILURES} more")
        raise typer.Exit(1)
