"""`read_documents` / `write_documents` as a script uses them, and `types` across the API.

Checks that can fail: misuse of the format calls is a TypeError naming the argument (it was
an AttributeError from inside a writer, "not iterable", or pathlib's message); a CoNLL file
written from documents of several sentences reads back as the same documents (each sentence
came back as a document of its own) and what the tags cannot hold is named in one warning
(cut and widened spans were silent, and "outside" spans were reported as overlaps); an empty
`types` is the same BionerError everywhere (it kept no types in `predict_documents` and every
type in `annotate_stream`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from bioner.annotation.pipeline import annotate_stream, check_types, tokenized
from bioner.data.document import Document, Span
from bioner.data.formats import read_documents, write_documents, write_stream
from bioner.data.formats.conll import write_conll
from bioner.errors import BionerError
from bioner.tagger import Tagger
from bioner.text import make_tokenizer
from model_fixture import EXAMPLE

pytest_plugins = ["conftest_model"]

FORMATS = ("conll", "pubtator", "bioc-xml", "bioc-json", "jsonl", "brat")


@pytest.fixture(scope="module")
def tagger(tiny_model: Path) -> Iterator[Tagger]:
    """The tiny model on one torch thread (tiny tensors: one is faster than two on 2 cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Tagger.load(tiny_model)
    torch.set_num_threads(threads)


def sentence_mentions(document: Document) -> list[tuple[int, int, int, str]]:
    """(sentence, first token, end token, type) of each span on token boundaries."""
    found = []
    for index, sentence in enumerate(document.sentences):
        starts = {token.start: n for n, token in enumerate(sentence.tokens)}
        ends = {token.end: n + 1 for n, token in enumerate(sentence.tokens)}
        found.extend(
            (index, starts[span.start], ends[span.end], span.label)
            for span in document.spans
            if span.start in starts and span.end in ends
        )
    return sorted(found)


def words(document: Document) -> list[list[str]]:
    return [sentence.words for sentence in document.sentences]


def conll_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bioner.data.formats.conll" and r.levelno == logging.WARNING
    ]


# ---------------------------------------------------------------------- 1: misuse
@pytest.mark.parametrize("fmt", FORMATS)
def test_write_documents_refuses_strings_naming_the_item(tmp_path: Path, fmt: str) -> None:
    # Was AttributeError "'str' object has no attribute 'spans'" (jsonl), 'metadata' (conll)...
    target = tmp_path / "out"
    with pytest.raises(TypeError, match=r"^write_documents: item 0 is str; expected a Document"):
        write_documents(["Aspirin helps."], target, fmt)  # type: ignore[list-item]
    assert list(tmp_path.iterdir()) == []  # the atomic write left nothing behind


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        (Document(id="d1", text="Aspirin helps."), "not one Document: pass a list"),
        ("Aspirin helps.", "not one str: pass a list"),
        (None, "; got NoneType"),
        (
            {"d1": Document(id="d1", text="x")},
            r"not a dict \(iterating it gives its keys\): pass its values",
        ),
    ],
)
def test_write_documents_refuses_what_is_not_an_iterable_of_documents(
    tmp_path: Path, documents: object, message: str
) -> None:
    # A single Document was "'Document' object is not iterable" from inside jsonl.py.
    with pytest.raises(
        TypeError, match=f"^write_documents takes an iterable of Documents.*{message}$"
    ):
        write_documents(documents, tmp_path / "out.jsonl", "jsonl")  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=f"^write_stream takes an iterable of Documents.*{message}$"
    ):
        write_stream(documents, io.StringIO(), "jsonl")  # type: ignore[arg-type]


def test_a_bad_item_later_in_a_generator_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    def documents() -> Iterator[object]:
        yield Document(id="d1", text="Aspirin helps.")
        yield b"raw bytes"

    with pytest.raises(TypeError, match=r"item 1 is bytes, not text"):
        write_documents(documents(), tmp_path / "out.jsonl", "jsonl")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_paths_formats_and_inputs_must_be_what_they_say(tmp_path: Path) -> None:
    documents = [Document(id="d1", text="Aspirin helps.")]
    # Was pathlib's "expected str, bytes or os.PathLike object, not NoneType".
    with pytest.raises(
        TypeError, match=r"^read_documents: path must be a str or os.PathLike; got NoneType"
    ):
        read_documents(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^write_documents: path must be a str or os.PathLike"):
        write_documents(documents, None, "jsonl")  # type: ignore[arg-type]
    # Was AttributeError "'NoneType' object has no attribute 'strip'".
    with pytest.raises(TypeError, match=r"a format is a name such as 'conll'.*got NoneType"):
        write_documents(documents, tmp_path / "out.jsonl", None)  # type: ignore[arg-type]
    # A bare path was iterated character by character: "." refused every output beside it.
    with pytest.raises(TypeError, match=r"inputs must be a list of paths, e.g. \['in.tsv'\]"):
        write_documents(documents, tmp_path / "out.jsonl", "jsonl", inputs="in.tsv")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- 2: CoNLL round trip
def abstracts() -> list[Document]:
    """Documents of several sentences with token-aligned spans, as a tagger returns them."""
    tokenizer = make_tokenizer("default")
    texts = [
        "Famotidine-associated delirium. A series of six cases. Famotidine is an H2 blocker.",
        "Lidocaine caused seizures. No arrhythmia was seen.",
        "One sentence with aspirin.",
    ]
    documents = []
    for number, text in enumerate(texts, 1):
        document = tokenized(Document(id=f"pmid{number}", text=text), tokenizer)
        spans = [
            Span(token.start, token.end, "Chemical" if token.text[0].isupper() else "Disease")
            for token in document.tokens
            if token.text in {"Famotidine", "delirium", "Lidocaine", "seizures", "aspirin"}
        ]
        documents.append(document.with_spans(spans))
    documents.append(Document(id="empty", text=""))
    return documents


def test_conll_round_trip_keeps_documents_tokens_and_mentions(tmp_path: Path) -> None:
    # Written without -DOCSTART- lines, every sentence came back as a document (6, the
    # empty document lost), not the 4 documents.
    documents = abstracts()
    target = tmp_path / "out.conll"
    assert write_documents(documents, target, "conll") == 4
    back = list(read_documents(target))
    assert len(back) == len(documents)
    assert [words(d) for d in back] == [words(d) for d in documents]
    assert [sentence_mentions(d) for d in back] == [sentence_mentions(d) for d in documents]
    assert [len(d.spans) for d in back] == [3, 2, 1, 0]


def test_sentences_read_without_boundaries_stay_so_until_a_boundary_is_written(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    """A marker-less file writes back as it was; a document after a boundary needs its own."""
    plain = list(read_documents(fixtures_dir / "formats" / "plain.tsv"))
    mixed = [plain[0], abstracts()[0], plain[1]]
    target = tmp_path / "mixed.conll"
    write_documents(mixed, target, "conll")
    text = target.read_text(encoding="utf-8")
    assert not text.startswith("-DOCSTART-") and text.count("-DOCSTART-\tO\n") == 2
    back = list(read_documents(target))
    assert [words(d) for d in back] == [words(d) for d in mixed]
    assert [sentence_mentions(d) for d in back] == [sentence_mentions(d) for d in mixed]


def test_annotated_documents_round_trip(tagger: Tagger, tmp_path: Path) -> None:
    """The reported case: a tagger's documents, written as CoNLL and read back."""
    texts = [f"{EXAMPLE} Patients with asthma show no KRAS. {EXAMPLE}", EXAMPLE]
    annotated = tagger.annotate(texts)
    assert len(annotated[0].sentences) == 3 and all(d.spans for d in annotated)
    write_documents(annotated, tmp_path / "tagged.tsv", "conll")
    back = list(read_documents(tmp_path / "tagged.tsv"))
    assert [len(d.spans) for d in back] == [len(d.spans) for d in annotated]
    assert [sentence_mentions(d) for d in back] == [sentence_mentions(d) for d in annotated]


def test_what_the_tags_cannot_hold_is_one_warning_by_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = Document.from_tokens("d1", [["Ca2", "influx"], ["in", "renal", "failure"]])
    # text: "Ca2 influx\nin renal failure"
    spans = [
        Span(0, 2, "Chemical"),  # "Ca" inside the token "Ca2": widened
        Span(4, 13, "Process"),  # "influx\nin" runs into the next sentence: cut
        Span(14, 27, "Disease"),  # "renal failure"
        Span(20, 27, "Disease"),  # "failure", inside the one before: overlap
        Span(10, 11, "Noise"),  # the newline between the sentences: outside
    ]
    out = io.StringIO()
    with caplog.at_level(logging.WARNING):
        write_conll([document.with_spans(spans)], out)
    (warning,) = conll_warnings(caplog)
    assert warning.startswith("CoNLL tags cannot hold 4 of 5 spans as they are: ")
    for part in (
        "1 overlap another span (left out) (first in document d1)",
        "1 start outside every sentence (left out)",
        "1 run past the end of their sentence (cut at it)",
        "1 do not start and end on token boundaries (widened to whole tokens)",
    ):
        assert part in warning
    assert out.getvalue().split("\n")[:2] == ["-DOCSTART-\tO", ""]


def test_aligned_spans_write_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        write_conll(abstracts(), io.StringIO())
    assert conll_warnings(caplog) == []


def test_docstart_false_warns_that_documents_will_split(caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    with caplog.at_level(logging.WARNING):
        write_conll(abstracts(), out, docstart=False)
    assert "-DOCSTART-" not in out.getvalue()
    (warning,) = conll_warnings(caplog)
    assert warning.startswith("3 document(s) with no or several sentences were written without")


@pytest.mark.parametrize("token", ["-DOCSTART-", "###MEDLINE:123"])
def test_a_token_that_reads_back_as_a_boundary_is_an_error(token: str) -> None:
    document = Document.from_tokens("d1", [["before", token, "after"]])
    with pytest.raises(BionerError, match=f"document d1: token '{token}' would be read back as"):
        write_conll([document], io.StringIO())


def test_bc5cdr_abstracts_round_trip(
    corpora_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """BC5CDR test abstracts (PubTator), tokenized: 500 documents back, not 4,791 sentences."""
    tokenizer = make_tokenizer("default")
    source = corpora_dir / "BC5CDR" / "original" / "CDR_TestSet.PubTator.txt"
    documents = [tokenized(d, tokenizer) for d in read_documents(source)]
    target = tmp_path / "test.conll"
    with caplog.at_level(logging.WARNING):
        write_documents(documents, target, "conll")
    back = list(read_documents(target))
    assert len(back) == len(documents) == 500
    assert [words(d) for d in back] == [words(d) for d in documents]
    assert [len(d.spans) for d in back] == [len(d.spans) for d in documents]
    for before, after in zip(documents, back, strict=True):
        assert set(sentence_mentions(before)) <= set(sentence_mentions(after)), before.id
    # Five gold mentions end inside a token ("Ca" of "Ca2"): widened, and said so.
    (warning,) = conll_warnings(caplog)
    assert "5 of 9809 spans" in warning and "5 do not start and end on token boundaries" in warning


# ---------------------------------------------------------------------- 3: empty types
@pytest.mark.parametrize("types", [[], [" "], [","]])
def test_an_empty_types_filter_is_one_error_everywhere(tagger: Tagger, types: list[str]) -> None:
    """`[]` kept no types in predict_documents but every type in annotate_stream."""
    document = tagger.annotate(EXAMPLE)
    labels = ", ".join(tagger.labels())
    expected = (
        f"^types: name at least one entity type \\({labels}\\), or leave 'types' out for all$"
    )
    with pytest.raises(BionerError, match=expected):
        tagger.predict_documents([document], types=types)
    with pytest.raises(BionerError, match=expected):
        annotate_stream(tagger, [EXAMPLE], types=types)
    with pytest.raises(BionerError, match=expected):
        check_types(types, tagger.labels())


def test_none_keeps_every_type_and_a_name_filters(tagger: Tagger) -> None:
    document = tagger.annotate(EXAMPLE)
    assert tagger.predict_documents([document], types=None)[0].spans == document.spans
    kept = tagger.predict_documents([document], types=["Disease"])[0].spans
    assert kept and {span.label for span in kept} == {"Disease"}
    streamed = next(annotate_stream(tagger, [EXAMPLE], types=["Disease"])).spans
    assert [span.key for span in streamed] == [span.key for span in kept]


def test_a_type_name_that_is_not_a_string_is_named() -> None:
    # Was AttributeError "'int' object has no attribute 'split'".
    with pytest.raises(TypeError, match=r"^types: item 1 is int; expected an entity type name"):
        check_types(["Disease", 1], ["Disease"])  # type: ignore[list-item]


def test_document_checks_live_below_every_caller() -> None:
    """The formats and the shared item checks import nothing above bioner.data."""
    import subprocess
    import sys

    code = (
        "import sys, bioner.data.formats, bioner.data.inputs; "
        "print(sorted(m for m in sys.modules if m.startswith('bioner.') and "
        "not m.startswith(('bioner.data', 'bioner.errors'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
