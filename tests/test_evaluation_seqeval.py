"""Exact typed matching reproduces seqeval's figures (strict IOB2 and default/lenient mode).

Oracle: `seqeval.metrics.classification_report` / `precision_score` / `recall_score` /
`f1_score`. Inputs: hypothesis-generated tag sequences, and every staged CoNLL test split
with predictions made by randomly corrupting its tags (flips, boundary shifts, type swaps,
dropped and spurious mentions, ill-formed `I-X` after `O`). By default a seeded sample of
sentences per split keeps the run short; BIONER_SEQEVAL_FULL=1 compares whole splits.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from bioner.data.document import Document
from bioner.evaluation import EvaluationResult, evaluate_documents

SAMPLE_SENTENCES = 400


def read_conll_tags(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Tiny reader for the staged files: token<TAB>tag, blank lines, `-DOCSTART-` skipped."""
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    labels: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sentences.append(words)
                tags.append(labels)
            words, labels = [], []
            continue
        token, tag = line.split("\t")
        if token == "-DOCSTART-":
            continue
        words.append(token)
        labels.append(tag)
    if words:
        sentences.append(words)
        tags.append(labels)
    return sentences, tags


def shift_boundary(out: list[str], i: int, rng: random.Random) -> None:
    """Grow or shrink the mention at token `i` by one token at its left or right end."""
    if out[i] == "O":
        return
    label = out[i][2:]
    first = i
    while first > 0 and out[first].startswith("I-") and out[first - 1][2:] == label:
        first -= 1
    last = i
    while last + 1 < len(out) and out[last + 1] == f"I-{label}":
        last += 1
    side, grow = rng.choice("LR"), rng.random() < 0.5
    if side == "L" and grow and first > 0 and out[first - 1] == "O":
        out[first - 1], out[first] = f"B-{label}", f"I-{label}"
    elif side == "L" and not grow and last > first:
        out[first], out[first + 1] = "O", f"B-{label}"
    elif side == "R" and grow and last + 1 < len(out) and out[last + 1] == "O":
        out[last + 1] = f"I-{label}"
    elif side == "R" and not grow and last > first:
        out[last] = "O"


def corrupt(tags: list[str], types: list[str], rng: random.Random) -> list[str]:
    """A noisy copy of one sentence's IOB2 tags; may be ill-formed on purpose."""
    out = list(tags)
    n = len(out)
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        kind = rng.randrange(6)
        i = rng.randrange(n)
        if kind == 0:  # random tag flip, any prefix: can give I-X after O or after I-Y
            out[i] = rng.choice(["O", *(f"{p}-{t}" for p in "BI" for t in types)])
        elif kind == 1:  # boundary shift: a mention's first or last token moves by one
            shift_boundary(out, i, rng)
        elif kind == 2:  # type swap of a whole mention
            if out[i].startswith("B-"):
                new = rng.choice(types)
                out[i] = f"B-{new}"
                j = i + 1
                while j < n and out[j].startswith("I-"):
                    out[j] = f"I-{new}"
                    j += 1
        elif kind == 3:  # dropped mention
            if out[i].startswith("B-"):
                out[i] = "O"
                j = i + 1
                while j < n and out[j].startswith("I-"):
                    out[j] = "O"
                    j += 1
        elif kind == 4:  # spurious mention of one or two tokens
            if out[i] == "O":
                label = rng.choice(types)
                out[i] = f"B-{label}"
                if i + 1 < n and out[i + 1] == "O" and rng.random() < 0.5:
                    out[i + 1] = f"I-{label}"
        else:  # ill-formed: I-X after O
            if out[i] == "O":
                out[i] = f"I-{rng.choice(types)}"
    return out


def documents(words: list[list[str]], tags: list[list[str]], strict: bool) -> list[Document]:
    return [
        Document.from_tokens(f"s{index}", [w], [t], strict=strict)
        for index, (w, t) in enumerate(zip(words, tags, strict=True))
    ]


def assert_equals_seqeval(
    words: list[list[str]], gold: list[list[str]], pred: list[list[str]], strict: bool
) -> EvaluationResult:
    options: dict = {"mode": "strict", "scheme": IOB2} if strict else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(gold, pred, output_dict=True, **options)
        micro = (
            precision_score(gold, pred, **options),
            recall_score(gold, pred, **options),
            f1_score(gold, pred, **options),
        )
        macro_f1 = f1_score(gold, pred, average="macro", **options)
    result = evaluate_documents(documents(words, gold, strict), documents(words, pred, strict))
    expected_types = sorted(k for k in report if not k.endswith(" avg"))
    assert list(result.per_type) == expected_types
    for label in expected_types:
        ours, theirs = result.per_type[label], report[label]
        assert ours.support == theirs["support"], label
        assert ours.precision == pytest.approx(theirs["precision"], abs=1e-12), label
        assert ours.recall == pytest.approx(theirs["recall"], abs=1e-12), label
        assert ours.f1 == pytest.approx(theirs["f1-score"], abs=1e-12), label
    for name, ours_avg in (
        ("micro avg", result.micro),
        ("macro avg", result.macro),
        ("weighted avg", result.weighted),
    ):
        theirs = report[name]
        assert ours_avg.precision == pytest.approx(theirs["precision"], abs=1e-12), name
        assert ours_avg.recall == pytest.approx(theirs["recall"], abs=1e-12), name
        assert ours_avg.f1 == pytest.approx(theirs["f1-score"], abs=1e-12), name
    assert (result.micro.precision, result.micro.recall, result.micro.f1) == pytest.approx(micro)
    assert result.macro.f1 == pytest.approx(macro_f1)
    return result


tag = st.sampled_from(["O", "O", "O", "B-A", "I-A", "B-B", "I-B"])
sentence_pairs = st.integers(1, 8).flatmap(
    lambda n: st.tuples(
        st.lists(tag, min_size=n, max_size=n), st.lists(tag, min_size=n, max_size=n)
    )
)


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
@settings(max_examples=120, deadline=None)
@given(pairs=st.lists(sentence_pairs, min_size=1, max_size=4), data=st.data())
def test_hypothesis_sequences_equal_seqeval(pairs, data, strict: bool) -> None:
    gold = [g for g, _ in pairs]
    pred = [p for _, p in pairs]
    words = [[f"w{i}" for i in range(len(g))] for g in gold]
    has_gold = any(Document.from_tokens("d", words, gold, strict=strict).spans)
    has_pred = any(Document.from_tokens("d", words, pred, strict=strict).spans)
    assume(has_gold or has_pred)  # seqeval's report refuses input without any mention
    assert_equals_seqeval(words, gold, pred, strict)


def conll_test_splits(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("test.tsv") if p.parent.name != "original-data")


def test_corrupted_corpora_equal_seqeval_strict(corpora_dir: Path) -> None:
    splits = conll_test_splits(corpora_dir)
    assert len(splits) >= 10, splits
    full = os.environ.get("BIONER_SEQEVAL_FULL") == "1"
    for path in splits:
        rng = random.Random(f"{path.parent.name}/{path.name}")
        words, gold = read_conll_tags(path)
        if not full and len(words) > SAMPLE_SENTENCES:
            keep = sorted(rng.sample(range(len(words)), SAMPLE_SENTENCES))
            words, gold = [words[i] for i in keep], [gold[i] for i in keep]
        types = sorted({t[2:] for sentence in gold for t in sentence if t != "O"})
        pred = [corrupt(sentence, types, rng) for sentence in gold]
        assert pred != gold
        result = assert_equals_seqeval(words, gold, pred, strict=True)
        assert 0.3 < result.micro.f1 < 1.0, (path, result.micro)


def test_lenient_corpus_decoding_equals_seqeval_default(corpora_dir: Path) -> None:
    path = corpora_dir / "JNLPBA" / "test.tsv"
    if not path.exists():
        pytest.skip(f"{path} not staged")
    rng = random.Random(7)
    words, gold = read_conll_tags(path)
    keep = sorted(rng.sample(range(len(words)), SAMPLE_SENTENCES))
    words, gold = [words[i] for i in keep], [gold[i] for i in keep]
    types = sorted({t[2:] for sentence in gold for t in sentence if t != "O"})
    pred = [corrupt(sentence, types, rng) for sentence in gold]
    strict = assert_equals_seqeval(words, gold, pred, strict=True)
    lenient = assert_equals_seqeval(words, gold, pred, strict=False)
    assert strict.micro != lenient.micro  # the ill-formed tags make the two rules differ
