"""Training on a researcher's own corpus: what BIO tags cannot hold is reported, and an
empty split file is an error naming it rather than a split silently skipped."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bioner.config import DataConfig, load_config
from bioner.data.document import Document, Span
from bioner.data.formats import write_documents
from bioner.errors import BionerError
from bioner.tagger import Tagger
from bioner.text.tokenizer import make_tokenizer
from bioner.training.data import ensure_tokenized, load_splits

TEXT = "Patients with breast cancer had BRCA1-mutant tumours and Ca2+ overload ."


def _document() -> Document:
    """Nested (cancer in breast cancer), crossing, in-token (Ca of Ca2+) and discontinuous."""
    start = TEXT.index("breast cancer")
    cancer = TEXT.index("cancer")
    ca = TEXT.index("Ca2+")
    tumours = TEXT.index("tumours")
    spans = [
        Span(start, start + len("breast cancer"), "Disease"),
        Span(cancer, cancer + len("cancer"), "Disease"),  # nested: left out
        Span(cancer, TEXT.index(" had") + 4, "Disease"),  # crossing: left out
        Span(ca, ca + 2, "Chemical"),  # widened to the token Ca2+
        Span(
            TEXT.index("BRCA1"),
            tumours + len("tumours"),
            "Disease",
            extra=(
                f"fragments={TEXT.index('BRCA1')} {TEXT.index('BRCA1') + 5};"
                f"{tumours} {tumours + 7}",
            ),
        ),
    ]
    document = Document(id="d1", text=TEXT, spans=spans)
    return ensure_tokenized([document], make_tokenizer(DataConfig().tokenizer))[0]


def test_training_tags_report_what_they_cannot_hold(caplog: pytest.LogCaptureFixture) -> None:
    document = _document()
    tagger = Tagger.build(load_config("saber-baseline", []), {"default": [document]})
    with caplog.at_level(logging.WARNING):
        tagger.encode([document], "default")
    messages = [r.getMessage() for r in caplog.records if "cannot hold" in r.getMessage()]
    assert len(messages) == 1
    assert messages[0].startswith("training tags (head 'default') cannot hold 4 of 5 spans")
    assert "2 overlap another span (left out)" in messages[0]
    assert "1 do not start and end on token boundaries" in messages[0]
    assert "1 are discontinuous" in messages[0]


def test_prediction_encoding_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    document = _document()
    tagger = Tagger.build(load_config("saber-baseline", []), {"default": [document]})
    with caplog.at_level(logging.WARNING):
        tagger.encode([document])
    assert not [r for r in caplog.records if "cannot hold" in r.getMessage()]


@pytest.mark.parametrize("empty", ["train.tsv", "devel.tsv", "test.tsv"])
def test_empty_split_file_is_an_error_naming_it(tmp_path: Path, empty: str) -> None:
    document = Document.from_tokens("s", [["Aspirin", "helps", "."]], [["B-Chem", "O", "O"]])
    for name in ("train.tsv", "devel.tsv", "test.tsv"):
        path = tmp_path / name
        if name == empty:
            path.write_text("")
        else:
            write_documents([document], path, "conll")
    with pytest.raises(BionerError, match=rf"{empty}: the \w+ split holds no documents"):
        load_splits(DataConfig(corpus=str(tmp_path)))


def test_types_only_dev_or_test_hold_are_named_before_training(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A type the training split lacks was only ever an F1 of 0 in the scores."""
    chemical = Document.from_tokens("c", [["Aspirin", "helps", "."]], [["B-Chem", "O", "O"]])
    gene = Document.from_tokens("g", [["TP53", "rose", "."]], [["B-Gene", "O", "O"]])
    write_documents([chemical], tmp_path / "train.tsv", "conll")
    write_documents([chemical], tmp_path / "devel.tsv", "conll")
    write_documents([chemical, gene, gene], tmp_path / "test.tsv", "conll")
    with caplog.at_level(logging.WARNING, logger="bioner.training.data"):
        load_splits(DataConfig(corpus=str(tmp_path)))
    assert [r.getMessage() for r in caplog.records] == [
        "the test split has mentions of types the training split lacks, which the model "
        "cannot learn and which count as misses: Gene (2)"
    ]
