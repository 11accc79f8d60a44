"""The batched decoding path of `Tagger.predict_documents` against plain, per-token decoding.

Checks that can fail: `best_paths` equals `viterbi` (CRF and softmax, constrained or not),
`_decoded_chunks` finds exactly the mentions `chunks_from_tags` finds in every unpadded path
(IOB2 and BIOES, random and invalid tag sequences), with the lowest token marginal as the score,
and `_chosen_marginals` equals the full forward-backward marginals of the chosen tags wherever
a path has a mention.
"""

from __future__ import annotations

import random

import pytest
import torch

from bioner.data.tagging import TagScheme, chunks_from_tags
from bioner.models.crf import CRF, SoftmaxDecoder, transition_constraints
from bioner.tagger import Tagger, _decoded_chunks, tag_set
from model_fixture import EXAMPLE

pytest_plugins = ["conftest_model"]


def random_batch(seed: int, batch: int = 7, steps: int = 9, k: int = 7):
    generator = torch.Generator().manual_seed(seed)
    emissions = torch.randn(batch, steps, k, generator=generator) * 3
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    lengths[0] = steps
    mask = torch.arange(steps).unsqueeze(0) < lengths.unsqueeze(1)
    return emissions, mask


@pytest.mark.parametrize("kind", ["crf", "softmax"])
@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_paths_equal_viterbi(kind: str, constrained: bool, seed: int) -> None:
    names = tag_set(["Chem", "Gene"], TagScheme.IOB2)
    allowed = transition_constraints(names, TagScheme.IOB2) if constrained else None
    torch.manual_seed(seed)
    decoder = CRF(len(names), allowed) if kind == "crf" else SoftmaxDecoder(len(names), allowed)
    if kind == "crf":
        torch.nn.init.normal_(decoder.transitions, std=2.0)
    emissions, mask = random_batch(seed, k=len(names))
    paths = decoder.best_paths(emissions, mask)
    expected, _ = decoder.viterbi(emissions, mask)
    assert paths.shape == mask.shape
    assert (paths[~mask] == 0).all()
    for row, path in enumerate(expected):
        assert paths[row, : len(path)].tolist() == path


@pytest.mark.parametrize("scheme", [TagScheme.IOB2, TagScheme.BIOES])
@pytest.mark.parametrize("seed", range(5))
def test_decoded_chunks_equal_per_sentence_decoding(scheme: TagScheme, seed: int) -> None:
    names = tag_set(["Chem", "Gene"], scheme)
    rng = random.Random(seed)
    batch, steps = 12, 15
    lengths = [rng.randint(1, steps) for _ in range(batch)]
    mask = torch.tensor([[t < n for t in range(steps)] for n in lengths])
    # Mostly O, as in real text, with arbitrary (also invalid) tag sequences between.
    paths = torch.tensor(
        [
            [rng.randrange(len(names)) if rng.random() < 0.4 else 0 for _ in range(steps)]
            for _ in range(batch)
        ]
    ).masked_fill(~mask, 0)
    paths[3] = 0  # a sentence without any mention
    confidences = torch.rand(batch, steps, dtype=torch.float64)

    found = sorted(_decoded_chunks(paths, confidences, mask, names, scheme))
    expected = []
    for row, n in enumerate(lengths):
        tags = [names[t] for t in paths[row, :n].tolist()]
        for label, start, end in chunks_from_tags(tags, scheme):
            score = min(confidences[row, start:end].tolist())
            expected.append((row, label, start, end, score))
    assert found == sorted(expected)
    assert expected, "the random paths should hold mentions"
    without_scores = sorted(_decoded_chunks(paths, None, mask, names, scheme))
    assert without_scores == sorted((*c[:4], None) for c in expected)


def test_chosen_marginals_equal_full_forward_backward(tiny_model) -> None:
    tagger = Tagger.load(tiny_model)
    documents = tagger.annotate([EXAMPLE, "the patients show increased levels", "KRAS in leukemia"])
    sentences = tagger.encode(documents)
    batch = next(iter(tagger.batches(sentences, batch_tokens=10_000, bucket=True)))
    model = tagger.model
    with torch.no_grad():
        features = model.features(batch)
        for head in model.heads.values():
            emissions = head(features)
            paths = head.decoder.best_paths(emissions, batch.mask)
            chosen = model._chosen_marginals(head, emissions, paths, batch.mask)
            full = head.decoder.marginals(emissions, batch.mask)
            expected = full.gather(2, paths.unsqueeze(-1)).squeeze(-1)
            has_mention = ((paths != 0) & batch.mask).any(1)
            assert has_mention.any() and not has_mention.all()
            rows = has_mention.nonzero().flatten()
            mask = batch.mask[rows]
            torch.testing.assert_close(chosen[rows][mask], expected[rows][mask])
            assert (chosen[~has_mention] == 1).all()
