"""`bioner evaluate GOLD PRED`: span-level scores of predictions against a gold corpus.

The command only reads documents, calls `bioner.evaluation.evaluate_documents` and shows
or writes the result, so another source of predictions (e.g. `--model M --corpus C`, a
trained model run over a corpus) only has to produce a second list of documents.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bioner.cli.options import check_new_output, overwrite_option, postprocess_option
from bioner.data.document import Document
from bioner.data.labels import absent_types, parse_label_map
from bioner.errors import BionerError
from bioner.evaluation.alignment import Alignment
from bioner.evaluation.evaluator import EvaluationResult, evaluate_documents
from bioner.evaluation.matching import MatchMode
from bioner.evaluation.report import render

log = logging.getLogger(__name__)


def decoding_options(
    path: Path, fmt: str | None, *, lenient: bool, scheme: str | None = None
) -> dict[str, object]:
    """Reader options for `--lenient` and `--scheme`, for tag-based (CoNLL) input only.

    Strict IOB2 decoding is the readers' default (= seqeval strict mode). An IOB1 file read
    as IOB2 loses every mention that starts with `I-X`, and a BIOES file is refused, hence
    `--scheme`. The other formats hold spans, not tags, so both options leave them as they
    are instead of failing on a CoNLL gold scored against PubTator predictions.
    """
    from bioner.data.formats import guess_format, normalize_format

    if not lenient and scheme is None:
        return {}
    if (normalize_format(fmt) if fmt else guess_format(path)) != "conll":
        return {}
    options: dict[str, object] = {"strict": False} if lenient else {}
    return options | ({"scheme": scheme} if scheme else {})


def read_corpus(
    path: Path, fmt: str | None, *, lenient: bool = False, scheme: str | None = None
) -> list[Document]:
    """All documents of `path` via the corpus readers (format guessed when `fmt` is None)."""
    from bioner.data.formats import read_documents

    if not path.exists():
        raise BionerError(f"{path}: no such file or folder")
    options = decoding_options(path, fmt, lenient=lenient, scheme=scheme)
    documents = list(read_documents(path, fmt, **options))
    if not documents:
        # Scoring against nothing prints a table of zeros that looks like a real result.
        raise BionerError(f"{path}: no documents (an empty file?)")
    return documents


def read_corpus_split(
    corpus: Path, split: str, fmt: str | None, *, lenient: bool, scheme: str | None = None
) -> list[Document]:
    """The `split` documents of a corpus folder, decoded like the positional files."""
    from bioner.data.corpus import load_corpus

    folder = load_corpus(corpus, fmt)
    if split in folder.files:
        folder.options = decoding_options(folder.files[split], fmt, lenient=lenient, scheme=scheme)
    return list(folder.documents(split))


def check_types(
    types: Iterable[str],
    label_map: dict[str, str],
    gold_docs: Sequence[Document],
    pred_docs: Sequence[Document],
) -> None:
    """Refuse a `--type` that names no gold mention (after `--map`).

    Such a type (a typo, a name before mapping) would silently print a table of zeros, or
    drop out of the table, instead of the scores that were asked for — also when only the
    predictions have it (the gold standard's name for it is another: `--map` is missing),
    since with no gold mention there is nothing to find and recall is undefined.
    """
    unknown, present = absent_types(types, [*gold_docs, *pred_docs], label_map)
    if unknown:
        raise BionerError(
            f"--type {', '.join(unknown)}: no gold or predicted mention has this type "
            f"(after --map); types present: {present}"
        )
    predicted_only, gold_types = absent_types(types, gold_docs, label_map)
    if predicted_only:
        raise BionerError(
            f"--type {', '.join(predicted_only)}: only the predictions have this type, no gold "
            f"mention (after --map), so recall is undefined; gold types: {gold_types} "
            "(map the names onto one with --map OLD=NEW)"
        )


def warn_if_no_shared_type(
    label_map: dict[str, str],
    gold_docs: Sequence[Document],
    pred_docs: Sequence[Document],
) -> None:
    """Say so when typed scoring cannot find anything: no predicted type is a gold type.

    Typically the corpus and the model name one class differently (SpecificDisease vs
    Disease, GGP vs GENE); every typed score is then 0 for a reason the table does not show.
    """

    def types(documents: Sequence[Document]) -> set[str]:
        return {label_map.get(s.label, s.label) for d in documents for s in d.spans}

    gold, predicted = types(gold_docs), types(pred_docs)
    if gold and predicted and not gold & predicted:
        log.warning(
            "no predicted type is a gold type (gold: %s; predicted: %s), so every "
            "typed score is 0: map the names onto one with --map OLD=NEW, or use --untyped",
            ", ".join(sorted(gold)),
            ", ".join(sorted(predicted)),
        )


def check_label_map(label_map: dict[str, str], documents: Iterable[Document]) -> None:
    """Refuse a `--map OLD=NEW` whose OLD names no gold or predicted mention.

    Such a mapping (a typo, a type of another corpus) would silently change nothing.
    """
    unknown, present = absent_types(label_map, documents)
    if unknown:
        raise BionerError(
            f"--map {', '.join(unknown)}: no gold or predicted mention has this type; "
            f"types present: {present}"
        )


def write_json(result: EvaluationResult, path: Path, inputs: Iterable[Path]) -> None:
    """Write the result as JSON, atomically, never over one of the inputs."""
    from bioner.data.atomic import atomic_write

    with atomic_write(path, inputs=list(inputs), newline=None) as stream:
        stream.write(result.model_dump_json(indent=2) + "\n")


def _model_predictions(
    model: str, gold_docs: list[Document], heads: list[str] | None, postprocess: list[str]
) -> tuple[list[Document], list[Document]]:
    """Gold documents (tokenized if they came as raw text) and the model's predictions."""
    from bioner.postprocessing import rule_sets_option
    from bioner.tagger import Tagger
    from bioner.text import make_tokenizer
    from bioner.training.data import ensure_tokenized

    tagger = Tagger.load(model)
    rules = rule_sets_option(postprocess)
    if rules is not None:
        tagger.postprocess = rules
    gold_docs = ensure_tokenized(gold_docs, make_tokenizer(tagger.config.data.tokenizer))
    return gold_docs, tagger.predict_documents(gold_docs, heads or None)


def evaluate_command(
    gold: Annotated[
        Path | None, typer.Argument(help="Gold corpus file or folder (with --corpus: PRED).")
    ] = None,
    pred: Annotated[
        Path | None,
        typer.Argument(help="Predicted corpus: same documents and text (or use --model)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Tag the gold documents with this model.")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="Corpus folder whose --split is the gold standard.")
    ] = None,
    split: Annotated[str, typer.Option(help="Split of --corpus: train, devel or test.")] = "test",
    head: Annotated[
        list[str] | None, typer.Option(help="Decoder head(s) of --model to use (default: all).")
    ] = None,
    mode: Annotated[
        MatchMode,
        typer.Option(help="Span matching: exact, right (boundary), left (boundary), overlap."),
    ] = MatchMode.EXACT,
    untyped: Annotated[bool, typer.Option("--untyped", help="Ignore entity types.")] = False,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Input format of both files (default: guessed)."),
    ] = None,
    pred_format: Annotated[
        str | None, typer.Option(help="Format of PRED when it differs from --format.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full result as JSON here.")
    ] = None,
    errors: Annotated[
        bool, typer.Option("--errors", help="Error analysis: boundary, type, missing, spurious.")
    ] = False,
    examples: Annotated[
        int, typer.Option(min=0, help="Error examples per category to show (and keep in JSON).")
    ] = 5,
    train: Annotated[
        list[Path] | None,
        typer.Option(help="Training corpus for recall on seen vs unseen mentions (repeatable)."),
    ] = None,
    lowercase_seen: Annotated[
        bool, typer.Option(help="Compare mention texts lower-cased for seen/unseen.")
    ] = False,
    label_map: Annotated[
        list[str] | None,
        typer.Option("--map", help="Rename a type on both sides, OLD=NEW (repeatable)."),
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", help="Evaluate only this type, after --map (repeatable)."),
    ] = None,
    lenient: Annotated[
        bool,
        typer.Option(help="Decode ill-formed tags leniently (conlleval) instead of strictly."),
    ] = False,
    scheme: Annotated[
        str | None,
        typer.Option(help="Tag scheme of CoNLL inputs: IOB1, IOB2 (default) or BIOES."),
    ] = None,
    align: Annotated[
        str, typer.Option(help="Pair documents by 'id', by 'order', or 'auto'.")
    ] = "auto",
    documents: Annotated[
        Path | None,
        typer.Option(
            help="Put sentence-per-document gold (and PRED) back into this file's documents "
            "(e.g. the corpus's PubTator release) before tagging and scoring, so that "
            "document-level rules see whole abstracts."
        ),
    ] = None,
    postprocess: list[str] = postprocess_option(),
    overwrite: bool = overwrite_option(),
) -> None:
    """Score predicted entity spans against gold spans (P/R/F1 micro, macro, per type)."""
    if align not in ("auto", "id", "order"):
        raise BionerError(f"--align {align!r}: use auto, id or order")
    if json_out is not None:
        check_new_output(json_out, overwrite=overwrite, option="--json", folder=False)
    alignment: Alignment = align  # type: ignore[assignment]
    if scheme is not None:
        from bioner.data.tagging import TagScheme

        try:
            scheme = TagScheme.parse(scheme).value
        except ValueError as error:
            raise BionerError(f"--scheme: {error}") from None
    if corpus is not None:
        # The gold standard is the corpus's split, so a single positional argument is PRED.
        if pred is not None:
            raise BionerError("with --corpus give only PRED: the gold standard is --split")
        gold, pred = None, gold
        gold_docs = read_corpus_split(corpus, split, fmt, lenient=lenient, scheme=scheme)
    elif gold is not None:
        gold_docs = read_corpus(gold, fmt, lenient=lenient, scheme=scheme)
    else:
        raise BionerError("give GOLD (a file or folder) or --corpus")
    references = read_corpus(documents, None) if documents is not None else None
    if references is not None:
        from bioner.data.regroup import regroup

        gold_docs = regroup(gold_docs, references)
    if model is not None:
        if pred is not None:
            raise BionerError(f"give either PRED ({pred}) or --model, not both")
        gold_docs, pred_docs = _model_predictions(model, gold_docs, head, postprocess)
    elif pred is not None:
        pred_docs = read_corpus(pred, pred_format or fmt, lenient=lenient, scheme=scheme)
        if references is not None:
            pred_docs = regroup(pred_docs, references)
    else:
        raise BionerError("give PRED (a file or folder of predictions) or --model")
    train_docs = (
        [d for path in train for d in read_corpus(path, fmt, lenient=lenient, scheme=scheme)]
        if train
        else None
    )
    mapping = parse_label_map(label_map or [])
    check_label_map(mapping, [*gold_docs, *pred_docs])
    if types:
        check_types(types, mapping, gold_docs, pred_docs)
    elif not untyped:
        warn_if_no_shared_type(mapping, gold_docs, pred_docs)
    result = evaluate_documents(
        gold_docs,
        pred_docs,
        mode=mode,
        typed=not untyped,
        label_map=mapping,
        types=types or None,
        align=alignment,
        errors=errors,
        max_examples=examples,
        train_docs=train_docs,
        lowercase_seen=lowercase_seen,
    )
    Console().print(render(result, examples=examples))
    if json_out is not None:
        inputs = [p for p in (gold, pred, corpus, documents) if p is not None]
        write_json(result, json_out, [*inputs, *(train or [])])
