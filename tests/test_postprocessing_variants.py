"""tmVar-style post-processing: the patterns, each repair step, and where the rules run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioner.cli.app import _register_commands, app
from bioner.config import load_config
from bioner.data.document import Document, Span
from bioner.data.formats import read_documents
from bioner.errors import BionerError
from bioner.postprocessing import apply_rule_sets, check_rule_sets, rules_for_head
from bioner.postprocessing.variant_patterns import find_variants
from bioner.postprocessing.variant_spans import (
    balance_brackets,
    postprocess_variants,
    snap_to_notation,
    split_list,
)
from bioner.tagger import Tagger
from bioner.text import Tokenizer
from model_fixture import VARIANT_EXAMPLE, variant_copy

pytest_plugins = ["conftest_model"]

DNA, PROTEIN, SNP = "DNAMutation", "ProteinMutation", "SNP"


def found(text: str) -> set[tuple[str, str]]:
    return {(text[m.start : m.end], m.label) for m in find_variants(text)}


def tokenized(text: str, *spans: Span) -> Document:
    document = Document(id="d", text=text, spans=list(spans))
    document.sentences = Tokenizer().tokenize(text)
    return document


def strings(document: Document) -> list[tuple[str, str]]:
    return [(document.text[s.start : s.end], s.label) for s in document.spans]


@pytest.mark.parametrize(
    ("text", "mention", "label"),
    [
        ("carriers of rs2297882 were", "rs2297882", SNP),
        ("the c.1517A>G change", "c.1517A>G", DNA),
        ("a c.27delC frameshift", "c.27delC", DNA),
        ("the -308G>A promoter allele", "-308G>A", DNA),
        ("the 677C-->T transition", "677C-->T", DNA),
        ("polymorphism +3100 T/G in", "+3100 T/G", DNA),
        ("splice mutation IVS8 -2A>G was", "IVS8 -2A>G", DNA),
        ("the p.Asp506Gly change", "p.Asp506Gly", PROTEIN),
        ("variant (p.S45P) in ND3", "p.S45P", PROTEIN),
        ("apoB His3543Tyr carriers", "His3543Tyr", PROTEIN),
        ("the G86R mutant", "G86R", PROTEIN),
        ("variant A118G in OPRM1", "A118G", DNA),  # all nucleotides: DNA, as tmVar's train
        ("mutation of arginine 124-to-cysteine was", "arginine 124-to-cysteine", PROTEIN),
        ("the D201ins allele", "D201ins", PROTEIN),
        ("the G-395A promoter variant", "G-395A", DNA),
        ("a 1494del6 deletion", "1494del6", DNA),
        ("the 904-906delGAG in-frame deletion", "904-906delGAG", DNA),
        ("mutation 1067 del A causes", "1067 del A", DNA),
        ("carrying 1109 ins 8bp in exon 8", "1109 ins 8bp", DNA),
        ("splice site IVS3+1G/A in", "IVS3+1G/A", DNA),
        ("the IVSI-5 (G-->C) allele", "IVSI-5 (G-->C)", DNA),
        ("mutation IVS10+1, g-->t was", "IVS10+1, g-->t", DNA),
        ("an IVS21-2delAG change", "IVS21-2delAG", DNA),
        ("substitution c.G1714C in", "c.G1714C", DNA),
        ("promoter -369 (C>G) and", "-369 (C>G)", DNA),
        ("SNPs (-3279, A/C; -924, A/G)", "-3279, A/C", DNA),
    ],
)
def test_patterns_find_standard_notations_with_exact_offsets(
    text: str, mention: str, label: str
) -> None:
    assert (mention, label) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "progression to T2D in men",  # one-digit positions are disease and gene names
        "deletion of the C4A gene",
        "the XG86R probe and G86RX clone",  # inside a longer word
        "HLA-B27 and IL-6 levels",
        "from 1998 to 2004 del Castillo reported",  # "del" as a name needs bases or a count
        "IVS3 of the gene",  # an intron without a change
    ],
)
def test_patterns_leave_look_alikes_alone(text: str) -> None:
    assert found(text) == set()


def test_longest_match_wins() -> None:
    assert found("the p.Asp506Gly change") == {("p.Asp506Gly", PROTEIN)}


def test_brackets_widen_to_the_partner_or_trim() -> None:
    text = "heterozygous (G --> C) substitution at position 1201 here"
    start = text.index("G -->")
    end = text.index(" here")
    widened = balance_brackets(text, Span(start, end, DNA), (0, len(text)))
    assert text[widened.start : widened.end] == "(G --> C) substitution at position 1201"

    text = "and -603/604 (GA>AG) were found"
    start = text.index("-603")
    widened = balance_brackets(text, Span(start, text.index(") were"), DNA), (0, len(text)))
    assert text[widened.start : widened.end] == "-603/604 (GA>AG)"

    text = "The mutation, CAC(3543)TAC results"
    start = text.index("3543)")
    widened = balance_brackets(text, Span(start, start + 8, DNA), (0, len(text)))
    assert text[widened.start : widened.end] == "CAC(3543)TAC"

    text = "the A>G) allele"
    start = text.index("A>G")
    trimmed = balance_brackets(text, Span(start, start + 4, DNA), (0, len(text)))
    assert text[trimmed.start : trimmed.end] == "A>G"

    text = "no brackets A>G here"
    span = Span(12, 15, DNA)
    assert balance_brackets(text, span, (0, len(text))) is span


def test_brackets_stay_inside_the_sentence_limit() -> None:
    text = "(x. G --> C) substitution"
    start = text.index("G -->")
    span = Span(start, len(text), DNA)
    # The "(" lies before the sentence start and the ")" is not at an edge: left as it is.
    assert balance_brackets(text, span, (start, len(text))) == span


def test_lists_split_only_on_separators() -> None:
    text = "the SNPs (+3100 T/G and +8365 C/T), with"
    start, end = text.index("+3100"), text.index("), with")
    pieces = split_list(text, Span(start, end, DNA), find_variants(text))
    assert [text[p.start : p.end] for p in pieces] == ["+3100 T/G", "+8365 C/T"]
    text = "the +3100 T/G haplotype +8365 C/T"
    span = Span(text.index("+3100"), len(text), DNA)
    assert split_list(text, span, find_variants(text)) == [span]


@pytest.mark.parametrize(
    ("text", "predicted", "snapped"),
    [
        ("a splicing defect IVS10+1, g-->t here", "IVS10+", "IVS10+1, g-->t"),  # a piece
        ("The TNFA -308G>A polymorphism", "TNFA -308G>A", "-308G>A"),  # a gene word before
        ("the H391R E2 mutation", "H391R E", "H391R"),  # a word after
        ("variant c. *469 C>A in", "c. *469 C>A", "c. *469 C>A"),  # "c." is not a word
        ("codon 15; intron 2, -352G-->A; intron", "intron 2, -352G-->A", "intron 2, -352G-->A"),
    ],
)
def test_snap_cuts_a_notation_free_of_one_word_or_completes_it(
    text: str, predicted: str, snapped: str
) -> None:
    start = text.index(predicted)
    span = Span(start, start + len(predicted), DNA)
    result = snap_to_notation(text, span, find_variants(text))
    assert text[result.start : result.end] == snapped


def test_full_pipeline_retypes_adds_and_keeps_other_types() -> None:
    text = "BRCA1 variant A118G and p.I11T in asthma."
    document = tokenized(
        text,
        Span(0, 5, "Gene"),
        Span(text.index("A118G"), text.index("A118G") + 5, PROTEIN),
        Span(text.index("asthma"), text.index("asthma") + 6, "Disease"),
    )
    result = postprocess_variants(document)
    assert strings(result) == [
        ("BRCA1", "Gene"),
        ("A118G", DNA),
        ("p.I11T", PROTEIN),
        ("asthma", "Disease"),
    ]
    only_dna = postprocess_variants(document, labels={DNA, "Gene", "Disease"})
    assert ("p.I11T", PROTEIN) not in strings(only_dna)
    no_add = postprocess_variants(document, steps=("brackets", "split", "retype"))
    assert ("p.I11T", PROTEIN) not in strings(no_add)
    assert ("A118G", DNA) in strings(no_add)


def test_a_pattern_never_overrides_another_types_span() -> None:
    text = "the G86R protein"
    document = tokenized(text, Span(4, 16, "Gene"))
    assert strings(postprocess_variants(document)) == [("G86R protein", "Gene")]


def test_unknown_rule_sets_and_steps_are_errors() -> None:
    with pytest.raises(BionerError, match="unknown post-processing nonsense"):
        check_rule_sets(["nonsense"])
    with pytest.raises(ValueError, match="unknown post-processing steps"):
        postprocess_variants(tokenized("x"), steps=("nonsense",))
    with pytest.raises(BionerError, match=r"model\.postprocess.*unknown post-processing nonsense"):
        load_config("deepvar", ['model.postprocess=["nonsense"]'])
    assert load_config("deepvar", ['model.postprocess=["variants"]']).model.postprocess == [
        "variants"
    ]


TEXT = VARIANT_EXAMPLE


def test_tagger_runs_the_models_rules_on_every_prediction(tiny_model: Path, tmp_path: Path) -> None:
    plain = Tagger.load(variant_copy(tiny_model, tmp_path / "plain"))
    ruled = Tagger.load(variant_copy(tiny_model, tmp_path / "ruled", ["variants"]))
    assert ruled.postprocess == ["variants"]
    raw = plain.annotate(TEXT)
    post = ruled.annotate(TEXT)
    assert ("Asp506Gly", DNA) in strings(raw)
    assert ("Asp506Gly", PROTEIN) in strings(post)
    expected = apply_rule_sets([raw], ["variants"], plain.labels())[0]
    assert [s.key for s in post.spans] == [s.key for s in expected.spans]
    # A tagger whose heads cannot output variants is left as it is.
    gene_only = Tagger.load(tiny_model)
    before = [s.key for s in gene_only.annotate(TEXT).spans]
    gene_only.postprocess = ["variants"]
    assert [s.key for s in gene_only.annotate(TEXT).spans] == before


def test_a_head_scoped_rule_set_runs_on_that_head_only(tiny_model: Path, tmp_path: Path) -> None:
    plain = Tagger.load(variant_copy(tiny_model, tmp_path / "plain"))
    (head,) = plain.tags
    scoped = Tagger.load(variant_copy(tiny_model, tmp_path / "scoped", [f"{head}:variants"]))
    assert ("Asp506Gly", PROTEIN) in strings(scoped.annotate(TEXT))
    # A head the model lacks is an error, not a rule that silently never runs.
    with pytest.raises(BionerError, match="BC2GM:variants: no head named 'BC2GM'"):
        plain.postprocess = ["BC2GM:variants"]
    with pytest.raises(BionerError, match="no head named 'BC2GM'"):
        Tagger.load(variant_copy(tiny_model, tmp_path / "other", ["BC2GM:variants"]))
    plain.postprocess = [f"{head}:abbreviations", "repeats"]
    assert plain.postprocess == [f"{head}:abbreviations", "repeats"]
    assert rules_for_head(["variants", "A:repeats", "B:abbreviations"], "A") == [
        "variants",
        "repeats",
    ]
    with pytest.raises(BionerError, match="unknown post-processing A:nonsense"):
        check_rule_sets(["A:nonsense"])


def tagged_by_cli(folder: Path, *args: str) -> object:
    """(mention, type) pairs a `bioner` command wrote to a new JSONL file, or the failed run."""
    out = folder / f"out{len(list(folder.iterdir()))}.jsonl"
    result = CliRunner().invoke(app, [*args, "-o", str(out)])
    if result.exit_code:
        return result
    return [(d.text[s.start : s.end], s.label) for d in read_documents(out) for s in d.spans]


def test_predict_postprocess_option(tiny_model: Path, tmp_path: Path) -> None:
    model = variant_copy(tiny_model, tmp_path / "model")
    ruled = variant_copy(tiny_model, tmp_path / "ruled", ["variants"])
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": TEXT}) + "\n")
    _register_commands()

    def predict(*extra: str) -> object:
        return tagged_by_cli(tmp_path, "predict", str(source), *extra)

    assert ("Asp506Gly", DNA) in predict("-m", str(model))
    assert ("Asp506Gly", PROTEIN) in predict("-m", str(model), "--postprocess", "variants")
    assert ("Asp506Gly", PROTEIN) in predict("-m", str(ruled))
    assert ("Asp506Gly", DNA) in predict("-m", str(ruled), "--postprocess", "none")
    mixed = predict("-m", str(model), "-m", str(ruled))
    assert "post-process differently" in str(mixed.exception)
    unknown = predict("-m", str(model), "--postprocess", "nonsense")
    assert "unknown post-processing nonsense" in str(unknown.exception)


def test_evaluate_postprocess_option(tiny_model: Path, tmp_path: Path) -> None:
    model = variant_copy(tiny_model, tmp_path / "model")
    start = TEXT.index("Asp506Gly")
    gold = tmp_path / "gold.jsonl"
    span = {"start": start, "end": start + len("Asp506Gly"), "label": PROTEIN}
    gold.write_text(json.dumps({"id": "a", "text": TEXT, "spans": [span]}) + "\n")
    _register_commands()

    def found(*extra: str) -> int:
        out = tmp_path / f"eval{len(list(tmp_path.iterdir()))}.json"
        args = ["evaluate", str(gold), "-m", str(model), "--type", PROTEIN, "--json", str(out)]
        result = CliRunner().invoke(app, [*args, *extra])
        assert result.exit_code == 0, result.output
        return json.loads(out.read_text())["micro"]["tp"]

    assert found() == 0  # the model alone calls it DNAMutation
    assert found("--postprocess", "variants") == 1


def test_known_look_alike_names_are_not_variants() -> None:
    assert found("T47D cells and P450R activity, unlike G86R") == {("G86R", PROTEIN)}


def test_dna_spans_take_in_a_following_location_phrase() -> None:
    text = "the MTHFR gene--a C-->T transition at nucleotide 677--is common"
    start = text.index("C-->T")
    document = tokenized(text, Span(start, start + 5, DNA))
    assert strings(postprocess_variants(document)) == [("C-->T transition at nucleotide 677", DNA)]
    protein = tokenized(text, Span(start, start + 5, PROTEIN))
    assert strings(postprocess_variants(protein, steps=("extend",))) == [("C-->T", PROTEIN)]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_annotate_postprocess_option(tiny_model: Path, tmp_path: Path, workers: str) -> None:
    model = variant_copy(tiny_model, tmp_path / "model")
    ruled = variant_copy(tiny_model, tmp_path / "ruled", ["variants"])
    source = tmp_path / "in.txt"
    source.write_text(TEXT + "\n")
    _register_commands()

    def annotate(*extra: str) -> object:
        return tagged_by_cli(
            tmp_path, "annotate", str(source), "--lines", "--workers", workers, *extra
        )

    assert ("Asp506Gly", DNA) in annotate("-m", str(model))
    assert ("Asp506Gly", PROTEIN) in annotate("-m", str(model), "--postprocess", "variants")
    assert ("Asp506Gly", PROTEIN) in annotate("-m", str(ruled))
    assert ("Asp506Gly", DNA) in annotate("-m", str(ruled), "--postprocess", "none")
    unknown = annotate("-m", str(model), "--postprocess", "nonsense")
    assert "unknown post-processing nonsense" in str(unknown.exception)
