"""Transfer learning (`--init-from`): shared layers copied, heads fresh, vocabulary extended so
target-only words get their own rows instead of UNK."""

from __future__ import annotations

from pathlib import Path

import torch

from bioner.models.dropout import SequenceDropout
from bioner.tagger import Tagger
from bioner.training.trainer import Trainer
from bioner.training.transfer import tagger_from_source
from test_multitask import DISEASES, GENES, one_type_corpus
from test_tagger import small_config

Dropouts = (torch.nn.Dropout, SequenceDropout)


def test_transfer_keeps_shared_weights_extends_vocabulary_and_resets_heads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source_docs = one_type_corpus("Gene", GENES, 8, 1)
    config = small_config(epochs=1, num_threads=1)
    source = Tagger.build(config, {"default": source_docs})
    Trainer(
        source,
        {"default": source_docs},
        {"default": source_docs},
        tmp_path / "src",
        show_progress=False,
    ).train()
    trained = Tagger.load(tmp_path / "src" / "model")
    target_docs = one_type_corpus("Disease", DISEASES, 8, 2)
    target = tagger_from_source(tmp_path / "src" / "model", config, {"diseases": target_docs})
    assert target.tags == {"diseases": ["O", "B-Disease", "I-Disease"]}
    # Source words keep their ids and rows; target-only words are appended, not UNK.
    assert target.words.items[: len(trained.words)] == trained.words.items
    assert "asthma" in target.words and "asthma" not in trained.words
    old = trained.model.state_dict()
    new = target.model.state_dict()
    rows = len(trained.words)
    key = next(k for k in old if k.startswith("embedder.word"))
    assert torch.equal(new[key][:rows], old[key]) and new[key].shape[0] > rows
    for name, value in old.items():
        if not name.startswith(("heads.", "embedder.word", "embedder.char.embedding")):
            assert torch.equal(new[name], value), name
    assert not any(k.startswith("heads.default") for k in new)
    assert target.meta["init_from"].endswith("model")


def test_transfer_takes_tag_scheme_and_decoder_from_the_target(tmp_path: Path) -> None:
    """Only copied layers follow the source: a BIOES softmax target of an IOB2 CRF source."""
    torch.manual_seed(0)
    source_docs = one_type_corpus("Gene", GENES, 8, 1)
    config = small_config(epochs=1, num_threads=1)
    Tagger.build(config, {"default": source_docs}).save(tmp_path / "src")
    target_config = config.model_copy(
        update={
            "model": config.model.model_copy(
                update={
                    "tag_scheme": "BIOES",
                    "decoder": config.model.decoder.model_copy(update={"kind": "softmax"}),
                    "encoder": config.model.encoder.model_copy(
                        update={"hidden": config.model.encoder.hidden + 2}
                    ),
                }
            )
        }
    )
    target_docs = one_type_corpus("Disease", DISEASES, 8, 2)
    target = tagger_from_source(tmp_path / "src", target_config, {"default": target_docs})
    assert config.model.tag_scheme == "IOB2" and config.model.decoder.kind == "crf"
    assert target.config.model.tag_scheme == "BIOES"
    assert target.config.model.decoder.kind == "softmax"
    assert target.tags["default"] == ["O", "B-Disease", "I-Disease", "E-Disease", "S-Disease"]
    # the copied encoder keeps the source's size, whatever the target config asked for
    assert target.config.model.encoder == config.model.encoder != target_config.model.encoder


def test_transfer_weights_that_are_not_copied_start_from_the_training_seed(
    tmp_path: Path,
) -> None:
    """Heads and target-only rows come from `training.seed`, not from whatever state the
    process's random generator happens to be in, so a transfer run repeats across processes."""
    source_docs = one_type_corpus("Gene", GENES, 8, 1)
    config = small_config(epochs=1, num_threads=1)
    Tagger.build(config, {"default": source_docs}).save(tmp_path / "src")
    target_docs = {"diseases": one_type_corpus("Disease", DISEASES, 8, 2)}

    def transferred(seed: int, generator_state: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(generator_state)
        torch.rand(generator_state % 7 + 1)  # a different amount of earlier random draws
        target_config = config.model_copy(
            update={"training": config.training.model_copy(update={"seed": seed})}
        )
        return tagger_from_source(tmp_path / "src", target_config, target_docs).model.state_dict()

    first, again, other_seed = transferred(5, 0), transferred(5, 123), transferred(6, 0)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    heads = [k for k in first if k.startswith("heads.")]
    assert heads and any(not torch.equal(first[k], other_seed[k]) for k in heads)


def test_transfer_takes_dropouts_and_freezing_from_the_target(tmp_path: Path) -> None:
    """Regularization changes no weight's shape, so a transfer run trains with its own."""
    source_docs = one_type_corpus("Gene", GENES, 8, 1)
    config = small_config(epochs=1, num_threads=1)
    Tagger.build(config, {"default": source_docs}).save(tmp_path / "src")
    model = config.model
    asked = model.model_copy(
        update={
            "embedder": model.embedder.model_copy(
                update={
                    "dropout": 0.3,
                    "word": model.embedder.word.model_copy(
                        update={"freeze": True, "unk_replace_prob": 0.2}
                    ),
                    "char": model.embedder.char.model_copy(update={"dropout": 0.1}),
                }
            ),
            "encoder": model.encoder.model_copy(
                update={"output_dropout": 0.25, "hidden": model.encoder.hidden + 2}
            ),
        }
    )
    target_config = config.model_copy(update={"model": asked})
    target_docs = one_type_corpus("Disease", DISEASES, 8, 2)
    target = tagger_from_source(tmp_path / "src", target_config, {"default": target_docs})
    got = target.config.model
    assert (got.embedder.dropout, got.embedder.char.dropout) == (0.3, 0.1)
    assert (got.embedder.word.freeze, got.embedder.word.unk_replace_prob) == (True, 0.2)
    assert got.encoder.output_dropout == 0.25 != model.encoder.output_dropout
    assert got.encoder.hidden == model.encoder.hidden  # sizes stay the source's
    dropouts = {m.p for m in target.model.modules() if isinstance(m, Dropouts)}
    assert {0.3, 0.1, 0.25} <= dropouts
    frozen = [p for n, p in target.model.named_parameters() if n.startswith("embedder.word")]
    assert frozen and not any(p.requires_grad for p in frozen)
