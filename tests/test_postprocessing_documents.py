"""Document-level rules: abbreviation definitions, their propagation, repeats, regrouping."""

from __future__ import annotations

import random

import pytest

from bioner.data.document import Document, Span
from bioner.data.regroup import merge_documents, regroup
from bioner.errors import BionerError
from bioner.models.config import ModelConfig
from bioner.postprocessing import apply_rule_sets, document_rules
from bioner.postprocessing.abbreviations import find_abbreviations, long_form_start
from bioner.postprocessing.document_rules import (
    apply_abbreviations,
    apply_repeats,
    definitions,
)
from bioner.text import Tokenizer

CHEM, GENE = "Chemical", "Gene"


def tokenized(text: str, *spans: Span) -> Document:
    document = Document(id="d", text=text, spans=list(spans))
    document.sentences = Tokenizer().tokenize(text)
    return document


def span_of(text: str, name: str, label: str = CHEM, nth: int = 0) -> Span:
    start = -1
    for _ in range(nth + 1):
        start = text.index(name, start + 1)
    return Span(start, start + len(name), label)


def tagged(document: Document) -> list[tuple[str, str]]:
    return [(document.span_text(s), s.label) for s in document.spans]


def test_schwartz_hearst_long_forms() -> None:
    text = (
        "Patients received glyceryl trinitrate (GTN; 5 mg) daily. "
        "Levels of malondialdehyde (MDA) rose. Significance was reached (p < 0.05). "
        "We saw no effect of cyclosporine (CSA)."
    )
    document = tokenized(text)
    pairs = [
        (text[a.long_start : a.long_end], text[a.short_start : a.short_end])
        for a in find_abbreviations(document)
    ]
    # `p < 0.05` has three words; CSA's `a` is nowhere in `cyclosporine`.
    assert pairs == [("glyceryl trinitrate", "GTN"), ("malondialdehyde", "MDA")]
    # The long form starts at the start of the whitespace-delimited word: `22-oxacalcitriol`.
    assert long_form_start("OCT", "vitamin D analogue, 22-oxacalcitriol") == 20
    assert long_form_start("XYZ", "glyceryl trinitrate") is None


def test_entity_before_the_bracket_defines_a_short_form_whose_letters_do_not_fit() -> None:
    text = "The role of cyclosporine (CSA) was studied. CSA was toxic."
    document = tokenized(text, span_of(text, "cyclosporine"))
    (definition,) = definitions(document)
    assert text[definition.long_start : definition.long_end] == "cyclosporine"
    assert tagged(apply_abbreviations(document)) == [
        ("cyclosporine", CHEM),
        ("CSA", CHEM),
        ("CSA", CHEM),
    ]
    # A span of another head's type does not define it.
    assert definitions(document, labels={GENE}) == []


@pytest.mark.usefixtures("occurrence_lookup")
def test_short_form_uses_take_the_long_forms_type() -> None:
    text = (
        "A new vitamin D analogue, 22-oxacalcitriol (OCT), was given. "
        "OCT lowered PTH, and OCT-treated rats did well."
    )
    document = tokenized(text, span_of(text, "22-oxacalcitriol"), span_of(text, "PTH", GENE))
    after = apply_abbreviations(document)
    assert tagged(after) == [
        ("22-oxacalcitriol", CHEM),
        ("OCT", CHEM),
        ("OCT", CHEM),
        ("PTH", GENE),
        ("OCT", CHEM),
    ]
    assert all(s.score is None for s in after.spans)


def test_a_use_tagged_with_another_of_the_rules_types_is_retyped() -> None:
    text = "Rats received glyceryl trinitrate (GTN). GTN caused headache."
    document = tokenized(
        text,
        span_of(text, "glyceryl trinitrate"),
        span_of(text, "GTN", "Disease", nth=1),
        span_of(text, "headache", "Disease"),
    )
    assert tagged(apply_abbreviations(document)) == [
        ("glyceryl trinitrate", CHEM),
        ("GTN", CHEM),
        ("GTN", CHEM),
        ("headache", "Disease"),
    ]
    # For a Disease-only head the long form is no entity of its own, so its GTN goes.
    assert tagged(apply_abbreviations(document, labels={"Disease"})) == [
        ("glyceryl trinitrate", CHEM),
        ("headache", "Disease"),
    ]


def test_short_forms_of_untagged_long_forms_are_dropped_unless_kept() -> None:
    text = (
        "Activation of poly(ADP-ribose) polymerase (PARP) by ADP followed. "
        "PARP inhibitors were used."
    )
    document = tokenized(
        text,
        span_of(text, "ADP"),
        span_of(text, "PARP"),
        span_of(text, "PARP", nth=1),
        span_of(text, "ADP", nth=1),
    )
    assert tagged(apply_abbreviations(document)) == [("ADP", CHEM), ("ADP", CHEM)]
    assert len(apply_abbreviations(document, drop_unsupported=False).spans) == 4
    # Only the rule's own types are dropped.
    assert len(apply_abbreviations(document, labels={GENE}).spans) == 4


def test_a_longer_entity_ending_at_the_long_form_leaves_the_short_form_alone() -> None:
    text = (
        "It is caused by a deficiency of hepatic phenylalanine hydroxylase (PAH). "
        "PAH activity was low."
    )
    entity = span_of(text, "deficiency of hepatic phenylalanine hydroxylase", "Disease")
    assert tagged(apply_abbreviations(tokenized(text, entity))) == [
        ("deficiency of hepatic phenylalanine hydroxylase", "Disease")
    ]
    use = span_of(text, "PAH", "Disease", nth=1)
    assert len(apply_abbreviations(tokenized(text, entity, use)).spans) == 2


@pytest.mark.usefixtures("occurrence_lookup")
def test_repeats_copy_names_longest_first_on_token_boundaries() -> None:
    text = (
        "Dilated cardiomyopathy and cardiomyopathy. Patients with dilated cardiomyopathy, "
        "misleading lead levels. Lead poisoning."
    )
    document = tokenized(
        text,
        Span(0, len("Dilated cardiomyopathy"), "Disease", score=0.9),
        span_of(text, "cardiomyopathy", "Disease", nth=1),
        span_of(text, "lead", CHEM, nth=1),
    )
    after = apply_repeats(document)
    assert tagged(after) == [
        ("Dilated cardiomyopathy", "Disease"),
        ("cardiomyopathy", "Disease"),
        # `dilated cardiomyopathy` is not the capitalized name's twin; `cardiomyopathy` is
        # copied into it.
        ("cardiomyopathy", "Disease"),
        ("lead", CHEM),
        ("Lead", CHEM),
    ]  # and nothing inside `misleading`


def test_repeats_take_the_most_frequent_type_and_need_a_letter() -> None:
    text = "Nx was given. Nx rose. Nx fell. Nx again. 5 and 5."
    document = tokenized(
        text,
        span_of(text, "Nx", GENE),
        span_of(text, "Nx", CHEM, nth=1),
        span_of(text, "Nx", CHEM, nth=2),
        span_of(text, "5", CHEM),
    )
    after = apply_repeats(document)
    assert tagged(after)[-2:] == [("Nx", CHEM), ("5", CHEM)]


@pytest.fixture(params=["searched", "indexed"])
def occurrence_lookup(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the rules find a name's occurrences: substring search (abstracts) and the
    token index (documents from `_Occurrences.INDEXED_FROM` characters on)."""
    threshold = 0 if request.param == "indexed" else 10**9
    monkeypatch.setattr(document_rules._Occurrences, "INDEXED_FROM", threshold)
    return request.param


@pytest.mark.usefixtures("occurrence_lookup")
def test_repeats_find_a_repeat_that_overlaps_a_match_off_the_token_boundaries() -> None:
    # `a-a` first matches inside `xa-a-a` at `a-a-`'s first `a` (not a token start); the
    # repeat on token boundaries is the last three characters.
    text = "a-a was seen. xa-a-a rose."
    document = tokenized(text, span_of(text, "a-a", GENE))
    after = apply_repeats(document)
    assert [(s.start, s.end) for s in after.spans] == [(0, 3), (17, 20)]


@pytest.mark.usefixtures("occurrence_lookup")
def test_repeats_leave_no_free_repeat_of_a_name_on_long_random_documents() -> None:
    """What `repeats` promises, checked by brute force on many spans and repeats: the
    predicted spans stay, every added span is a name (or its capitalized twin) on token
    boundaries that overlaps no other span, and no such occurrence is left uncovered."""
    rng = random.Random(7)
    words = ["IL-2", "il", "NaCl", "p53", "a-a", "cancer", "lung", "of", "the", "x", "(", ")"]
    pieces = [rng.choice(words) for _ in range(3000)]
    text = " ".join(pieces)
    document = tokenized(text)
    tokens = [t for sentence in document.sentences for t in sentence.tokens]
    starts, ends = {t.start for t in tokens}, {t.end for t in tokens}
    predicted: list[Span] = []
    covered_until = 0
    for first in range(0, len(tokens) - 3, 37):
        last = first + rng.randrange(3)
        if tokens[first].start >= covered_until:
            label = rng.choice([CHEM, GENE])
            predicted.append(Span(tokens[first].start, tokens[last].end, label))
            covered_until = tokens[last].end
    after = apply_repeats(document.with_spans(predicted))
    names = {
        document.span_text(s) for s in predicted if any(c.isalpha() for c in document.span_text(s))
    }
    forms = names | {n[0].upper() + n[1:] for n in names if n == n.lower() and n[0].isalpha()}
    assert set(predicted) <= set(after.spans)
    added = [s for s in after.spans if s not in set(predicted)]
    assert added
    for span in added:
        assert after.span_text(span) in forms
        assert span.start in starts and span.end in ends
    spans = after.spans
    for span in spans:
        others = [o for o in spans if o is not span]
        assert all(o.end <= span.start or o.start >= span.end for o in others) or span in predicted
    for form in forms:
        at = text.find(form)
        while at != -1:
            end = at + len(form)
            if at in starts and end in ends:
                assert any(s.start < end and s.end > at for s in spans), (form, at)
            at = text.find(form, at + 1)


def test_an_entity_before_the_bracket_is_found_across_white_space_first_in_order() -> None:
    text = "We gave cold cyclosporine \n  (CSA). Then CSA again."
    cyclosporine = span_of(text, "cyclosporine")
    # Two spans end there; the one first in the document's order is the long form.
    whole = Span(text.index("cold"), cyclosporine.end, CHEM)
    document = tokenized(text, cyclosporine, whole)
    [found] = definitions(document)
    assert (found.long_start, found.long_end) == (cyclosporine.start, cyclosporine.end)
    assert definitions(tokenized(text, whole, cyclosporine))[0].long_start == whole.start


def test_rule_sets_are_registered_and_configurable() -> None:
    text = "Famotidine (FAM) was given. FAM helped."
    document = tokenized(text, span_of(text, "Famotidine"))
    out = apply_rule_sets([document], ["repeats", "abbreviations"])[0]
    assert tagged(out) == [("Famotidine", CHEM), ("FAM", CHEM), ("FAM", CHEM)]
    # A HEAD:name entry runs on that head's spans only.
    assert apply_rule_sets([document], ["BC5CDR:abbreviations"], head="BC5CDR")[0] == out
    assert apply_rule_sets([document], ["BC5CDR:abbreviations"])[0] == document
    config = ModelConfig(postprocess=["variants", "abbreviations", "repeats"])
    assert config.postprocess == ["variants", "abbreviations", "repeats"]


def test_regroup_puts_sentences_back_into_their_documents() -> None:
    first = Document(id="1", text="Famotidine-associated delirium. A series of six cases.")
    second = Document(id="2", text="Indomethacin induced hypotension.")
    sentences = [
        Document.from_tokens("s1", [["Famotidine", "-", "associated", "delirium", "."]]),
        Document.from_tokens("s2", [["A", "series", "of", "six", "cases", "."]]),
        Document.from_tokens(
            "s3", [["Indomethacin", "induced", "hypotension", "."]], [["B-Chem", "O", "O", "O"]]
        ),
    ]
    grouped = regroup(sentences, [first, second])
    assert [d.id for d in grouped] == ["1", "2"]
    assert grouped[0].text == "Famotidine - associated delirium .\nA series of six cases ."
    assert len(grouped[0].sentences) == 2
    assert tagged(grouped[1]) == [("Indomethacin", "Chem")]

    with pytest.raises(BionerError, match="sentence 2"):
        regroup([sentences[0], Document.from_tokens("x", [["Unknown", "."]])], [first, second])


def test_merge_shifts_tokens_and_spans() -> None:
    parts = [
        Document.from_tokens("a", [["x", "y"]], [["O", "B-T"]]),
        Document.from_tokens("b", [["z"]], [["B-T"]]),
    ]
    merged = merge_documents("m", parts)
    assert merged.text == "x y\nz"
    assert [(t.text, t.start) for t in merged.tokens] == [("x", 0), ("y", 2), ("z", 4)]
    assert tagged(merged) == [("y", "T"), ("z", "T")]
