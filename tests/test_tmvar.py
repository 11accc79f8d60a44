"""tmVar with the DeepVar presets: the 20 % hold-out is deterministic and by document, and a
variant model's predictions keep exact offsets through a PubTator write/read round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bioner.config import load_config
from bioner.data.document import Document
from bioner.data.formats import read_documents, write_documents
from bioner.tagger import Tagger
from bioner.text import Tokenizer, VariantTokenizer
from bioner.training.data import ensure_tokenized, load_splits
from bioner.training.trainer import Trainer

TYPES = {"DNAMutation", "ProteinMutation", "SNP"}


@pytest.fixture(scope="module")
def tmvar(corpora_dir: Path) -> Path:
    path = corpora_dir / "tmVar"
    if not (path / "train.PubTator.txt").is_file():
        pytest.skip(f"tmVar not staged at {path}")
    return path


def _splits(tmvar: Path, seed: int = 0):
    config = load_config("deepvar", [f"data.split_seed={seed}"])
    config.data.corpus = str(tmvar)
    return load_splits(config.data)


def test_hold_out_is_by_document_and_deterministic(tmvar: Path) -> None:
    first, again, other = _splits(tmvar), _splits(tmvar), _splits(tmvar, seed=1)
    train_ids = [d.id for d in first.train]
    dev_ids = [d.id for d in first.dev]
    # The release's counts as they are: 334 training abstracts, 166 test abstracts.
    assert len(train_ids) + len(dev_ids) == 334
    assert len(dev_ids) == round(0.2 * 334)
    assert len(first.test) == 166
    assert not set(train_ids) & set(dev_ids)
    assert len(set(train_ids) | set(dev_ids)) == 334
    assert dev_ids == [d.id for d in again.dev]
    assert train_ids == [d.id for d in again.train]
    assert set(dev_ids) != {d.id for d in other.dev}
    # Whole documents move: every held-out document keeps all its mentions and sentences.
    assert all(d.sentences for d in first.dev)
    assert {s.label for d in first.train + first.dev + first.test for s in d.spans} == TYPES
    # Tokens come from the variant-aware tokenizer the preset names.
    document = first.train[0]
    expected = VariantTokenizer().tokenize(
        document.text, boundaries=[p.end for p in document.passages]
    )
    assert [(t.start, t.end) for s in document.sentences for t in s.tokens] == [
        (t.start, t.end) for s in expected for t in s.tokens
    ]


def test_deepvar_fine_trains_on_fine_tokens_with_every_mention_reachable(tmvar: Path) -> None:
    config = load_config("deepvar-fine")
    config.data.corpus = str(tmvar)
    splits = load_splits(config.data)
    assert [d.id for d in splits.dev] == [d.id for d in _splits(tmvar).dev]  # same hold-out
    fine = Tokenizer(fine_grained=True)
    document = splits.train[0]
    expected = fine.tokenize(document.text, boundaries=[p.end for p in document.passages])
    assert [(t.start, t.end) for s in document.sentences for t in s.tokens] == [
        (t.start, t.end) for s in expected for t in s.tokens
    ]
    # Every test mention starts and ends on a token edge (the exact-match ceiling is 100 %).
    for document in splits.test:
        starts = {t.start for s in document.sentences for t in s.tokens}
        ends = {t.end for s in document.sentences for t in s.tokens}
        assert all(s.start in starts and s.end in ends for s in document.spans), document.id


def _tiny_variant_model(documents: list[Document], tmp_path: Path) -> Tagger:
    config = load_config(
        "deepvar",
        [
            "model.embedder.word.dim=24",
            "model.embedder.char.filters=[24]",
            "model.embedder.dropout=0.0",
            "model.embedder.char.dropout=0.0",
            "model.encoder.units=1",
            "model.encoder.hidden=24",
            "model.encoder.hidden_layer=24",
            "model.encoder.output_dropout=0.0",
            "model.encoder.hidden_dropout=0.0",
            "training.learning_rate=0.01",
            "training.epochs=12",
            "training.batch_size=8",
            "training.num_threads=1",
            "training.early_stopping_patience=12",
        ],
    )
    torch.manual_seed(0)
    tagger = Tagger.build(config, {"default": documents})
    Trainer(
        tagger,
        {"default": documents},
        {"default": documents},
        tmp_path / "run",
        show_progress=False,
    ).train()
    return Tagger.load(tmp_path / "run" / "model")


def test_variant_model_pubtator_round_trip(tmvar: Path, tmp_path: Path) -> None:
    """Read tmVar PubTator, train briefly, predict raw text, write PubTator, read it back."""
    raw = [d for d, _ in zip(read_documents(tmvar / "train.PubTator.txt"), range(5), strict=False)]
    documents = ensure_tokenized(
        [Document(id=d.id, text=d.text, spans=d.spans, passages=d.passages) for d in raw],
        VariantTokenizer(),
    )
    tagger = _tiny_variant_model(documents, tmp_path)
    assert tagger.config.data.tokenizer == "variant"

    # Raw text in, as a user would annotate it: the model tokenizes it as it was trained.
    annotated = tagger.annotate([Document(id=d.id, text=d.text, passages=d.passages) for d in raw])
    tokens = {(t.start, t.end) for d in annotated for s in d.sentences for t in s.tokens}
    expected = {(t.start, t.end) for d in documents for s in d.sentences for t in s.tokens}
    assert tokens == expected  # the variant-aware tokens, not the general ones
    predicted = [s for d in annotated for s in d.spans]
    assert predicted, "the overfitted model should find mentions in its own training text"
    assert {s.label for s in predicted} <= TYPES
    gold = {(d.id, s.start, s.end, s.label) for d in raw for s in d.spans}
    found = {(d.id, s.start, s.end, s.label) for d in annotated for s in d.spans}
    assert len(found & gold) >= len(gold) // 2  # it learned these documents' variants

    out = tmp_path / "predicted.pubtator"
    write_documents(annotated, out, "pubtator")
    reread = list(read_documents(out))  # the reader checks each mention column against text
    assert [d.id for d in reread] == [d.id for d in raw]
    for original, back, pred in zip(raw, reread, annotated, strict=True):
        assert back.text == original.text
        assert [(s.start, s.end, s.label) for s in back.spans] == [
            (s.start, s.end, s.label) for s in sorted(pred.spans, key=lambda s: s.start)
        ]
        for span in back.spans:
            mention = back.text[span.start : span.end]
            assert mention == mention.strip() and mention


def test_gold_tmvar_round_trips_through_pubtator(tmvar: Path, tmp_path: Path) -> None:
    raw = [d for d, _ in zip(read_documents(tmvar / "test.PubTator.txt"), range(20), strict=False)]
    out = tmp_path / "gold.pubtator"
    write_documents(raw, out, "pubtator")
    back = list(read_documents(out))
    assert [(d.id, d.text) for d in back] == [(d.id, d.text) for d in raw]
    assert [[(s.start, s.end, s.label) for s in d.spans] for d in back] == [
        [(s.start, s.end, s.label) for s in d.spans] for d in raw
    ]
