"""CRF and softmax decoders checked against brute-force enumeration of all K^T paths."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch.func import functional_call

from bioner.data.tagging import chunks_from_tags, tags_from_chunks
from bioner.models.crf import CRF, SoftmaxDecoder, transition_constraints

IOB2_TAGS = ["O", "B-A", "I-A", "B-B"]
SEEDS = range(6)


def random_case(
    seed: int, tag_names: list[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Emissions [3, T, K] float64 with lengths T, random, 1; padded slots hold garbage."""
    gen = torch.Generator().manual_seed(seed)
    k = len(tag_names) if tag_names else int(torch.randint(2, 5, (1,), generator=gen))
    steps = int(torch.randint(1, 6, (1,), generator=gen))
    lengths = [steps, int(torch.randint(1, steps + 1, (1,), generator=gen)), 1]
    emissions = torch.randn(3, steps, k, generator=gen, dtype=torch.float64) * 2
    mask = torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]
    emissions = emissions.masked_fill(~mask[:, :, None], 1e4)  # must never be read
    return emissions, mask, lengths


def random_crf(k: int, seed: int, constraints=None) -> CRF:
    torch.manual_seed(1000 + seed)
    crf = CRF(k, constraints).double()
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    return crf


def enumerate_paths(crf: CRF, emissions: torch.Tensor, constrained: bool):
    """All paths of one sequence [L, K] and their scores, from the raw parameters."""
    length, k = emissions.shape
    paths = torch.tensor(list(itertools.product(range(k), repeat=length)))
    scores = crf.start_transitions[paths[:, 0]] + crf.end_transitions[paths[:, -1]]
    scores = scores + emissions.gather(1, paths.T).sum(0)
    scores = scores + crf.transitions[paths[:, :-1], paths[:, 1:]].sum(1)
    if constrained:
        ok = crf.allowed_start[paths[:, 0]] & crf.allowed_end[paths[:, -1]]
        ok &= crf.allowed_transitions[paths[:, :-1], paths[:, 1:]].all(1)
        paths, scores = paths[ok], scores[ok]
    return paths, scores.detach()


def is_allowed(path: list[int], constraints) -> bool:
    allowed, start, end = constraints
    moves = all(bool(allowed[a, b]) for a, b in itertools.pairwise(path))
    return bool(start[path[0]]) and bool(end[path[-1]]) and moves


def assert_same_nbest(left, right) -> None:
    assert [p for p, _ in left] == [p for p, _ in right]
    assert [s for _, s in left] == pytest.approx([s for _, s in right])


CASES = [(seed, constrained) for seed in SEEDS for constrained in (False, True)]


def build(seed: int, constrained: bool):
    constraints = transition_constraints(IOB2_TAGS, "IOB2") if constrained else None
    emissions, mask, lengths = random_case(seed, IOB2_TAGS if constrained else None)
    return random_crf(emissions.size(2), seed, constraints), emissions, mask, lengths


@pytest.mark.parametrize(("seed", "constrained"), CASES)
def test_log_partition_and_marginals_match_brute_force(seed: int, constrained: bool) -> None:
    crf, emissions, mask, lengths = build(seed, constrained)
    log_z = crf.log_partition(emissions, mask)
    marginals = crf.marginals(emissions, mask)
    for b, length in enumerate(lengths):
        paths, scores = enumerate_paths(crf, emissions[b, :length], constrained)
        assert log_z[b].item() == pytest.approx(torch.logsumexp(scores, 0).item(), abs=1e-9)
        probs = (scores - torch.logsumexp(scores, 0)).exp()
        expected = torch.zeros_like(marginals[b])
        for t in range(length):
            expected[t].index_add_(0, paths[:, t], probs)
        torch.testing.assert_close(marginals[b], expected, atol=1e-9, rtol=0)


@pytest.mark.parametrize(("seed", "constrained"), CASES)
def test_viterbi_nbest_and_score_match_brute_force(seed: int, constrained: bool) -> None:
    crf, emissions, mask, lengths = build(seed, constrained)
    best_paths, best_scores = crf.viterbi(emissions, mask)
    gold = torch.nn.utils.rnn.pad_sequence([torch.tensor(p) for p in best_paths], True, -100)
    torch.testing.assert_close(crf.score(emissions, gold, mask), best_scores)
    for b, length in enumerate(lengths):
        paths, scores = enumerate_paths(crf, emissions[b, :length], constrained)
        assert best_paths[b] == paths[scores.argmax()].tolist()
        assert best_scores[b].item() == pytest.approx(scores.max().item(), abs=1e-9)
        by_path = {tuple(p): s for p, s in zip(paths.tolist(), scores.tolist(), strict=True)}
        ranked = sorted(scores.tolist(), reverse=True)
        for n in (1, 3, len(ranked) + 4):
            found = crf.nbest(emissions[b : b + 1, :length], None, n)[0]
            assert len(found) == min(n, len(ranked))
            assert len({tuple(p) for p, _ in found}) == len(found)
            assert [s for _, s in found] == pytest.approx(ranked[:n], abs=1e-9)
            for path, value in found:
                assert by_path[tuple(path)] == pytest.approx(value, abs=1e-9)
        batched = crf.nbest(emissions, mask, 3)[b]
        assert [s for _, s in batched] == pytest.approx(ranked[:3], abs=1e-9)


def test_constrained_decoding_never_takes_a_forbidden_transition() -> None:
    tags = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"]
    constraints = transition_constraints(tags, "BIOES")
    crf = CRF(len(tags), constraints).double()
    with torch.no_grad():  # learned scores that love forbidden moves: constraints must win
        crf.transitions.copy_((~constraints[0]).double() * 50)
        crf.start_transitions.copy_((~constraints[1]).double() * 50)
        crf.end_transitions.copy_((~constraints[2]).double() * 50)
    gen = torch.Generator().manual_seed(0)
    emissions = torch.randn(8, 6, len(tags), generator=gen, dtype=torch.float64) * 5
    mask = torch.arange(6)[None, :] < torch.tensor([6, 5, 4, 3, 2, 1, 6, 2])[:, None]
    paths, _ = crf.viterbi(emissions, mask)
    assert all(is_allowed(p, constraints) for p in paths)
    for options in crf.nbest(emissions, mask, 20):
        assert all(is_allowed(p, constraints) for p, _ in options)


@pytest.mark.parametrize("constrained", [False, True])
def test_gradcheck_negative_log_likelihood(constrained: bool) -> None:
    crf, emissions, mask, _ = build(3, constrained)
    gen = torch.Generator().manual_seed(7)
    tags = torch.randint(0, emissions.size(2), mask.shape, generator=gen)
    tags = tags.masked_fill(~mask, -100)
    emissions = emissions.masked_fill(~mask[:, :, None], 0.0).requires_grad_()
    names = ["transitions", "start_transitions", "end_transitions"]
    params = [getattr(crf, name).detach().clone().requires_grad_() for name in names]

    def nll(e, *ps):
        return functional_call(crf, dict(zip(names, ps, strict=True)), (e, tags, mask))

    assert torch.autograd.gradcheck(nll, (emissions, *params))


def test_negative_log_likelihood_is_non_negative_and_reductions_agree() -> None:
    for seed, constrained in CASES:
        crf, emissions, mask, _ = build(seed, constrained)
        tags = crf.nbest(emissions, mask, 2)  # a likely and a less likely allowed path
        gold = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(options[-1][0]) for options in tags], True, 0
        )
        per_sequence = crf.neg_log_likelihood(emissions, gold, mask, reduction="none")
        assert per_sequence.shape == (3,)
        assert bool((per_sequence >= -1e-9).all())
        total = crf.neg_log_likelihood(emissions, gold, mask)
        assert total.item() == pytest.approx(per_sequence.sum().item())
        mean = crf(emissions, gold, mask, reduction="mean")
        assert mean.item() == pytest.approx(per_sequence.mean().item())


def test_training_the_crf_alone_reduces_the_loss() -> None:
    torch.manual_seed(0)
    k, batch, steps = 3, 16, 6
    tags = torch.zeros(batch, steps, dtype=torch.long)  # tag t+1 always follows tag t
    tags[:, 0] = torch.randint(0, k, (batch,))
    for t in range(1, steps):
        tags[:, t] = (tags[:, t - 1] + 1) % k
    emissions = torch.randn(batch, steps, k)  # uninformative: only transitions can learn
    mask = torch.ones(batch, steps, dtype=torch.bool)
    crf = CRF(k)
    optimizer = torch.optim.Adam(crf.parameters(), lr=0.1)
    before = crf.neg_log_likelihood(emissions, tags, mask, "mean").item()
    for _ in range(60):
        optimizer.zero_grad()
        loss = crf.neg_log_likelihood(emissions, tags, mask, "mean")
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * before
    assert crf.transitions.argmax(1).tolist() == [(i + 1) % k for i in range(k)]


def test_padding_does_not_change_results() -> None:
    crf, emissions, mask, lengths = build(4, True)
    gen = torch.Generator().manual_seed(1)
    tags = torch.randint(0, emissions.size(2), mask.shape, generator=gen).masked_fill(~mask, -100)
    for b, length in enumerate(lengths):
        alone = emissions[b : b + 1, :length]
        alone_tags = tags[b : b + 1, :length]
        torch.testing.assert_close(
            crf.log_partition(alone)[0], crf.log_partition(emissions, mask)[b]
        )
        torch.testing.assert_close(
            crf.marginals(alone)[0], crf.marginals(emissions, mask)[b, :length]
        )
        torch.testing.assert_close(
            crf.score(alone, alone_tags)[0], crf.score(emissions, tags, mask)[b]
        )
        assert crf.viterbi(alone)[0][0] == crf.viterbi(emissions, mask)[0][b]
        assert_same_nbest(crf.nbest(alone, n=4)[0], crf.nbest(emissions, mask, 4)[b])
    assert bool((crf.marginals(emissions, mask)[~mask] == 0).all())


def test_float32_agrees_with_float64_and_stays_finite_on_large_scores() -> None:
    crf, emissions, mask, _ = build(2, True)
    emissions = emissions.masked_fill(~mask[:, :, None], 0.0)
    crf32 = CRF(crf.num_tags, transition_constraints(IOB2_TAGS, "IOB2"))
    crf32.load_state_dict(crf.float().state_dict())
    crf = crf.double()
    torch.testing.assert_close(
        crf32.log_partition(emissions.float() * 1000, mask),
        crf.log_partition(emissions * 1000, mask).float(),
        rtol=1e-5,
        atol=1e-2,
    )
    # Scores this far apart underflow the probability-space recursion; those sequences are
    # computed again in log space, so the marginals stay defined and right.
    torch.testing.assert_close(
        crf32.marginals(emissions.float() * 1000, mask),
        crf.marginals(emissions * 1000, mask).float(),
        rtol=0,
        atol=1e-4,
    )


def test_float32_marginals_stay_within_1e_6_of_float64_on_a_long_sentence() -> None:
    """Log-space forward-backward in float32 drifted with the length (alphas in the
    thousands): 0.7 % off on a 333-token sentence of the default tagger."""
    generator = torch.Generator().manual_seed(3)
    crf = random_crf(len(IOB2_TAGS), 3, transition_constraints(IOB2_TAGS, "IOB2"))
    emissions = torch.randn(2, 400, len(IOB2_TAGS), generator=generator, dtype=torch.float64) * 8
    mask = torch.ones(2, 400, dtype=torch.bool)
    mask[1, 250:] = False
    crf32 = CRF(crf.num_tags, transition_constraints(IOB2_TAGS, "IOB2"))
    crf32.load_state_dict(crf.float().state_dict())
    crf = crf.double()
    with torch.no_grad():
        expected = crf.marginals(emissions, mask)
        found = crf32.marginals(emissions.float(), mask)
    torch.testing.assert_close(found.double(), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("scheme", "names"),
    [
        ("IOB2", ["O", "B-A", "I-A", "B-B", "I-B"]),
        ("IOB1", ["O", "B-A", "I-A", "B-B", "I-B"]),
        ("BIOES", ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"]),
    ],
)
def test_constraints_allow_exactly_the_losslessly_decodable_sequences(
    scheme: str, names: list[str]
) -> None:
    constraints = transition_constraints(names, scheme)
    for length in range(1, 5):
        for path in itertools.product(range(len(names)), repeat=length):
            tags = [names[i] for i in path]
            lossless = tags_from_chunks(chunks_from_tags(tags, scheme), length, scheme) == tags
            assert is_allowed(list(path), constraints) == lossless, tags


def test_transition_constraints_reject_tags_outside_the_scheme() -> None:
    for names in (["O", "E-A"], ["O", "<pad>"], ["O", "O"]):
        with pytest.raises(ValueError):
            transition_constraints(names, "IOB2")
    allowed, start, end = transition_constraints(["O", "B-A", "I-A"], "BIO")
    assert allowed.dtype == torch.bool and allowed.shape == (3, 3)
    assert not allowed[0, 2] and not start[2] and bool(end.all())


def test_constraints_travel_with_the_state_dict() -> None:
    constrained = CRF(4, transition_constraints(IOB2_TAGS, "IOB2"))
    plain = CRF(4)
    plain.load_state_dict(constrained.state_dict())
    assert torch.equal(plain.allowed_transitions, constrained.allowed_transitions)
    assert not any(p.dtype == torch.bool for p in plain.parameters())


def test_bad_masks_and_shapes_are_rejected() -> None:
    crf = CRF(3)
    emissions = torch.randn(2, 3, 3)
    with pytest.raises(ValueError, match="left-aligned"):
        crf.log_partition(emissions, torch.tensor([[1, 0, 1], [1, 1, 1]]).bool())
    with pytest.raises(ValueError, match="at least one token"):
        crf.viterbi(emissions, torch.tensor([[0, 0, 0], [1, 1, 1]]).bool())
    with pytest.raises(ValueError, match="emissions"):
        crf.marginals(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="reduction"):
        crf.neg_log_likelihood(emissions, torch.zeros(2, 3, dtype=torch.long), None, "max")


@pytest.mark.parametrize(("seed", "constrained"), CASES[:6])
def test_softmax_decoder_matches_brute_force(seed: int, constrained: bool) -> None:
    constraints = transition_constraints(IOB2_TAGS, "IOB2") if constrained else None
    emissions, mask, lengths = random_case(seed, IOB2_TAGS)
    decoder = SoftmaxDecoder(len(IOB2_TAGS), constraints)
    # the softmax model is a CRF with zero transitions over log-probabilities
    reference = CRF(len(IOB2_TAGS), constraints).double()
    torch.nn.init.zeros_(reference.transitions)
    torch.nn.init.zeros_(reference.start_transitions)
    torch.nn.init.zeros_(reference.end_transitions)
    log_probs = emissions.log_softmax(2)
    best_paths, best_scores = decoder.viterbi(emissions, mask)
    for b, length in enumerate(lengths):
        paths, scores = enumerate_paths(reference, log_probs[b, :length], constrained)
        assert best_paths[b] == paths[scores.argmax()].tolist()
        assert best_scores[b].item() == pytest.approx(scores.max().item(), abs=1e-9)
        ranked = sorted(scores.tolist(), reverse=True)
        found = decoder.nbest(emissions[b : b + 1, :length], n=5)[0]
        assert [s for _, s in found] == pytest.approx(ranked[:5], abs=1e-9)
    tags = torch.nn.utils.rnn.pad_sequence([torch.tensor(p) for p in best_paths], True, -100)
    expected = torch.nn.functional.cross_entropy(emissions[mask], tags[mask], reduction="sum")
    torch.testing.assert_close(decoder.neg_log_likelihood(emissions, tags, mask), expected)
    marginals = decoder.marginals(emissions, mask)
    torch.testing.assert_close(marginals.sum(2), mask.double())
    assert bool((decoder.log_partition(emissions, mask) == 0).all())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    crf, emissions, mask, _ = build(5, True)
    tags = torch.zeros(mask.shape, dtype=torch.long)
    gpu = CRF(crf.num_tags, transition_constraints(IOB2_TAGS, "IOB2")).double().cuda()
    gpu.load_state_dict(crf.state_dict())
    e, m, y = emissions.cuda(), mask.cuda(), tags.cuda()
    torch.testing.assert_close(gpu.neg_log_likelihood(e, y, m).cpu(), crf(emissions, tags, mask))
    torch.testing.assert_close(gpu.marginals(e, m).cpu(), crf.marginals(emissions, mask))
    assert gpu.viterbi(e, m)[0] == crf.viterbi(emissions, mask)[0]
    for left, right in zip(gpu.nbest(e, m, 3), crf.nbest(emissions, mask, 3), strict=True):
        assert_same_nbest(left, right)
    assert math.isfinite(gpu.log_partition(e, m).sum().item())
