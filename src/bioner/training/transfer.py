"""Transfer learning (Saber §2.7, Sachan §2.5): start from a trained model's weights.

Every layer but the decoder heads is copied; heads are created fresh for the target's tag
set, and the optimizer starts anew (the Trainer builds a new one). The target keeps the
source's vocabularies, so that every copied embedding row still means the same word: words
the source never saw map to UNK, as they would for the source model itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bioner.config import ExperimentConfig
from bioner.data.document import Document
from bioner.models.tagger import TaggerModel
from bioner.tagger import Tagger, tag_set


def tagger_from_source(
    source_path: str | Path,
    experiment: ExperimentConfig,
    training: Mapping[str, Sequence[Document]],
) -> Tagger:
    """A new Tagger for `training`'s heads whose shared layers come from `source_path`."""
    source = Tagger.load(source_path)
    experiment = experiment.model_copy(update={"model": source.config.model})
    tags = {
        head: tag_set({s.label for d in documents for s in d.spans}, experiment.model.tag_scheme)
        for head, documents in training.items()
    }
    model = TaggerModel(experiment.model, len(source.words), len(source.chars), tags)
    shared = {k: v for k, v in source.model.state_dict().items() if not k.startswith("heads.")}
    missing, unexpected = model.load_state_dict(shared, strict=False)
    assert not unexpected, unexpected
    assert all(k.startswith("heads.") for k in missing), missing
    meta = {"init_from": str(source_path), "init_from_meta": source.meta}
    return Tagger(experiment, source.words, source.chars, tags, model, meta)
