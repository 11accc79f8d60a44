"""Transfer learning (Saber §2.4/§2.7, Sachan §2.5): start from a trained model's weights.

Every layer but the decoder heads is copied; heads are created fresh for the target's tag
set, and the optimizer starts anew (the Trainer builds a new one), as Saber §2.7 describes.
The layers whose weights are copied (embedder, encoder) keep the source's sizes and kinds, so
that every copied tensor fits; what is built fresh (the tag scheme, the decoder), the
post-processing rules and the regularization (every dropout, freezing the word vectors or
fine-tuning the character LMs, UNK replacement) are the target's, so `--set
model.tag_scheme=BIOES` with an IOB2 source gives a BIOES tagger and `--set
model.encoder.output_dropout=0.3` trains with 0.3, instead of being silently dropped.

Vocabularies: the source's words and characters keep their ids (and so their trained
embedding rows); words and characters that only the target's training documents contain
are appended with freshly initialised rows. Saber's source model had pretrained word
vectors covering nearly every word; without that, mapping every target-only word to UNK
(the source vocabulary alone) would hide exactly the target corpus's entity names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from bioner.config import ExperimentConfig
from bioner.data.document import Document
from bioner.encoding.vocabulary import Vocabulary
from bioner.errors import BionerError
from bioner.models.config import ModelConfig
from bioner.models.tagger import TaggerModel
from bioner.tagger import Tagger, tag_set


def _extended(source: Vocabulary, counts: Counter[str], min_count: int) -> Vocabulary:
    """The source vocabulary (same ids) plus target items it lacks, frequent first."""
    new = sorted(
        (item for item, n in counts.items() if n >= min_count and item not in source),
        key=lambda item: (-counts[item], item),
    )
    return Vocabulary([*source.items[len(source.specials) :], *new], source.specials)


def with_target_regularization(source: ModelConfig, target: ModelConfig) -> ModelConfig:
    """The source's architecture with the target's dropouts and training-only switches: none
    of these changes a weight's shape, so the copied weights still fit."""
    embedder, encoder = source.embedder, source.encoder
    return source.model_copy(
        update={
            "embedder": embedder.model_copy(
                update={
                    "dropout": target.embedder.dropout,
                    "word": embedder.word.model_copy(
                        update={
                            "freeze": target.embedder.word.freeze,
                            "unk_replace_prob": target.embedder.word.unk_replace_prob,
                        }
                    ),
                    "char": embedder.char.model_copy(
                        update={"dropout": target.embedder.char.dropout}
                    ),
                    "contextual": embedder.contextual.model_copy(
                        update={"fine_tune": target.embedder.contextual.fine_tune}
                    ),
                }
            ),
            "encoder": encoder.model_copy(
                update={
                    name: getattr(target.encoder, name)
                    for name in (
                        "input_dropout",
                        "recurrent_dropout",
                        "output_dropout",
                        "hidden_dropout",
                    )
                }
            ),
        }
    )


def tagger_from_source(
    source_path: str | Path,
    experiment: ExperimentConfig,
    training: Mapping[str, Sequence[Document]],
) -> Tagger:
    """A new Tagger for `training`'s heads whose shared layers come from `source_path`.

    The weights that are not copied (decoder heads, rows for target-only words and
    characters) start from `training.seed`, as in `Tagger.build`, so a transfer run repeats.
    """
    from bioner.training.seeding import seed_everything

    source = Tagger.load(source_path)
    model_config = with_target_regularization(source.config.model, experiment.model).model_copy(
        update={
            "tag_scheme": experiment.model.tag_scheme,
            "decoder": experiment.model.decoder,
            "postprocess": experiment.model.postprocess,
        }
    )
    experiment = experiment.model_copy(update={"model": model_config})
    word_counts: Counter[str] = Counter()
    char_counts: Counter[str] = Counter()
    for documents in training.values():
        for document in documents:
            for sentence in document.sentences:
                for word in sentence.words:
                    word_counts[source.normalize(word)] += 1
                    char_counts.update(word)
    words = _extended(source.words, word_counts, experiment.model.embedder.word.min_count)
    chars = _extended(source.chars, char_counts, 1)
    tags = {
        head: tag_set({s.label for d in documents for s in d.spans}, experiment.model.tag_scheme)
        for head, documents in training.items()
    }
    seed_everything(experiment.training.seed)
    model = TaggerModel(experiment.model, len(words), len(chars), tags)
    target_state = model.state_dict()
    shared: dict[str, torch.Tensor] = {}
    for key, value in source.model.state_dict().items():
        if key.startswith("heads."):
            continue
        fresh = target_state.get(key)
        if fresh is None:
            raise BionerError(f"{source_path}: weight {key} has no place in the new model")
        if fresh.shape == value.shape:
            shared[key] = value
        elif fresh.shape[1:] == value.shape[1:] and fresh.shape[0] > value.shape[0]:
            # An embedding table that grew: source rows first, fresh rows for new items.
            grown = fresh.clone()
            grown[: value.shape[0]] = value
            shared[key] = grown
        else:
            raise BionerError(
                f"{source_path}: weight {key} has shape {tuple(value.shape)}, "
                f"the new model needs {tuple(fresh.shape)}"
            )
    missing, unexpected = model.load_state_dict(shared, strict=False)
    if unexpected or any(not k.startswith("heads.") for k in missing):
        raise BionerError(f"{source_path}: weights do not fit the model ({missing[:3]})")
    meta = {"init_from": str(source_path), "init_from_meta": source.meta}
    return Tagger(experiment, words, chars, tags, model, meta)
