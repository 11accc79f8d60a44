"""Multi-task learning: corpus schedules (sequential / proportional / temperature), a two-corpus
model that learns both entity types and tags both at once, and `bioner train` with two corpora."""

from __future__ import annotations

import importlib
import json
import random
from collections import Counter
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from bioner.data.document import Document
from bioner.data.formats import write_documents
from bioner.errors import BionerError
from bioner.evaluation import evaluate_documents
from bioner.tagger import Tagger
from bioner.training.multitask import multitask_schedule, sampling_weights
from bioner.training.trainer import Trainer
from test_tagger import small_config

GENES = ["BRCA1", "TP53", "IL-2", "EGFR", "KRAS"]
DISEASES = ["asthma", "diabetes", "melanoma", "gout"]
FILLER = ["the", "patients", "with", "show", "levels", "of", "in", "and", "no", "were"]


def one_type_corpus(
    label: str, pool: list[str], count: int, seed: int, untagged: list[str] = ()
) -> list[Document]:
    """Sentences of filler words with one-token mentions of a single entity type.

    `untagged` words join the filler: another type's names that this corpus leaves
    unannotated, as a gene corpus leaves disease names (so its head learns they are O).
    """
    rng = random.Random(seed)
    filler = FILLER + list(untagged)
    documents = []
    for index in range(count):
        words, tags = [], []
        for _ in range(rng.randint(1, 3)):
            for _ in range(rng.randint(1, 3)):
                words.append(rng.choice(filler))
                tags.append("O")
            words.append(rng.choice(pool))
            tags.append(f"B-{label}")
        documents.append(Document.from_tokens(f"{label}{seed}-{index}", [words], [tags]))
    return documents


def test_sampling_weights_follow_size_to_the_one_over_t() -> None:
    weights = sampling_weights({"a": 100, "b": 25}, 1.0)
    assert weights == pytest.approx({"a": 0.8, "b": 0.2})
    weights = sampling_weights({"a": 100, "b": 25}, 2.0)  # sqrt: 10 vs 5
    assert weights == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert sampling_weights({"a": 100, "b": 25}, 1e6)["a"] == pytest.approx(0.5, abs=1e-4)
    with pytest.raises(ValueError):
        sampling_weights({"a": 1}, 0.0)


def test_temperature_schedule_draws_corpora_in_those_proportions() -> None:
    sizes = {"big": 900, "small": 100}
    steps = multitask_schedule(sizes, "temperature", random.Random(0), temperature=2.0)
    assert len(steps) == 1000
    share = Counter(steps)["big"] / len(steps)
    assert share == pytest.approx(30 / 40, abs=0.04)  # sqrt(900) : sqrt(100) = 3 : 1
    again = multitask_schedule(sizes, "temperature", random.Random(0), temperature=2.0)
    assert steps == again  # deterministic for a seeded generator


def test_sequential_and_proportional_schedules_visit_each_batch_once() -> None:
    sizes = {"a": 3, "b": 2}
    assert multitask_schedule(sizes, "sequential", random.Random(1), order=["b", "a"]) == [
        "b",
        "b",
        "a",
        "a",
        "a",
    ]
    mixed = multitask_schedule(sizes, "proportional", random.Random(1))
    assert Counter(mixed) == Counter(sizes)


@pytest.fixture(scope="module")
def corpora() -> dict[str, list[Document]]:
    return {
        "genes": one_type_corpus("Gene", GENES, 14, 1, untagged=DISEASES),
        "diseases": one_type_corpus("Disease", DISEASES, 14, 2, untagged=GENES),
    }


def test_two_corpus_model_learns_both_types_and_tags_both_at_once(
    corpora: dict[str, list[Document]], tmp_path: Path
) -> None:
    torch.manual_seed(0)
    config = small_config(epochs=8, eval_every_epochs=4, num_threads=1)
    tagger = Tagger.build(config, corpora)
    assert set(tagger.tags) == {"genes", "diseases"}
    result = Trainer(tagger, corpora, corpora, tmp_path, show_progress=False).train()
    assert set(result.history[-1]["dev_f1_per_corpus"]) == {"genes", "diseases"}
    best = Tagger.load(tmp_path / "model")
    for head, documents in corpora.items():
        scores = evaluate_documents(documents, best.predict_documents(documents, [head]))
        assert scores.micro.f1 > 0.9, (head, scores.micro)
    both = Document.from_tokens(
        "mixed", [["patients", "with", "asthma", "and", "BRCA1"]], [["O"] * 5]
    )
    tagged = best.predict_documents([both])[0]  # every head; overlaps resolved by confidence
    assert {(tagged.span_text(s), s.label) for s in tagged.spans} == {
        ("asthma", "Disease"),
        ("BRCA1", "Gene"),
    }
    only_genes = best.predict_documents([both], ["genes"])[0]
    assert {s.label for s in only_genes.spans} == {"Gene"}


def test_wanted_types_are_chosen_before_heads_compete(
    corpora: dict[str, list[Document]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asking for genes must not lose a gene to an unwanted, more confident disease span."""
    from bioner.annotation.pipeline import annotate_stream

    tagger = Tagger.build(small_config(), corpora)
    confidence = {"genes": 0.6, "diseases": 0.9}
    asked: list[list[str]] = []

    def both_heads_tag_the_first_token(batch, heads=None, with_marginals=True):
        asked.append(list(heads or tagger.tags))
        found = {}
        for name in heads or tagger.tags:
            names = tagger.tags[name]
            label = next(t for t in names if t != "O" and t[0] in "BS")  # B-/S- of its type
            paths = torch.full(batch.mask.shape, names.index("O"))
            paths[:, 0] = names.index(label)
            found[name] = (paths, torch.full(batch.mask.shape, confidence[name]))
        return found

    monkeypatch.setattr(tagger.model, "predict", both_heads_tag_the_first_token)
    text = "BRCA1 was found in all patients."
    everything = next(annotate_stream(tagger, [text]))
    assert [(everything.span_text(s), s.label) for s in everything.spans] == [("BRCA1", "Disease")]
    genes = next(annotate_stream(tagger, [text], types=["Gene"]))
    assert [(genes.span_text(s), s.label) for s in genes.spans] == [("BRCA1", "Gene")]
    assert asked[-1] == ["genes"]  # the head without a wanted type is not run


def test_selection_heads_let_only_the_target_corpus_choose_the_epoch(
    corpora: dict[str, list[Document]], tmp_path: Path
) -> None:
    torch.manual_seed(0)
    config = small_config(epochs=3, num_threads=1, selection_heads=["genes"])
    tagger = Tagger.build(config, corpora)
    result = Trainer(tagger, corpora, corpora, tmp_path, show_progress=False).train()
    for record in result.history:  # the partner is neither scored nor averaged in
        assert record["dev_f1_per_corpus"].keys() == {"genes"}
        assert record["dev_f1"] == record["dev_f1_per_corpus"]["genes"]
    best = max(result.history, key=lambda r: r["dev_f1"])
    assert result.best_epoch == best["epoch"]
    assert result.best_dev_f1 == best["dev_f1"]


def test_selection_heads_must_name_heads_of_the_run(
    corpora: dict[str, list[Document]], tmp_path: Path
) -> None:
    config = small_config(epochs=1, num_threads=1, selection_heads=["genes", "species"])
    tagger = Tagger.build(config, corpora)
    with pytest.raises(BionerError, match=r"selection_heads names \['species'\]"):
        Trainer(tagger, corpora, corpora, tmp_path, show_progress=False)


@pytest.mark.parametrize("no_dev", [False, True])
def test_train_command_with_two_corpora_names_heads_after_folders(
    corpora: dict[str, list[Document]], tmp_path: Path, no_dev: bool
) -> None:
    folders = []
    for name, documents in corpora.items():
        folder = tmp_path / name
        folder.mkdir()
        for split in ("train", "devel", "test"):
            write_documents(documents[:8], folder / f"{split}.tsv", "conll")
        folders.append(folder)
    app = importlib.import_module("bioner.cli.app")
    app._register_commands()
    run = tmp_path / "run"
    args = ["train", "saber-baseline", "--corpus", str(folders[0]), "--corpus", str(folders[1])]
    args += ["-o", str(run), "--quiet", "--label-map", "Gene=GENE"]
    args += ["--no-dev"] if no_dev else []  # refit: each head trains on its train + devel
    for value in (
        "model.embedder.word.dim=8",
        "model.embedder.char.hidden=4",
        "model.encoder.hidden=8",
        "model.encoder.layers=1",
        "training.epochs=1",
    ):
        args += ["--set", value]
    result = CliRunner().invoke(app.app, args)
    assert result.exit_code == 0, result.output
    model = Tagger.load(run / "model")
    assert set(model.tags) == {"genes", "diseases"}
    assert "B-GENE" in model.tags["genes"]  # --label-map renamed the type
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["test_per_corpus"]) == {"genes", "diseases"}
    sentences = sum(len(d.sentences) for documents in corpora.values() for d in documents[:8])
    assert summary["train_sentences"] == sentences * (2 if no_dev else 1)
    assert summary["refit_without_dev"] is no_dev
