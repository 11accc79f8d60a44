"""The bundled default tagger loads without a download and finds several entity types."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bioner.cli.app import _register_commands, app
from bioner.data.formats import read_documents
from bioner.tagger import Tagger

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"

TEXT = (
    "Germline mutations in BRCA1 (c.68_69delAG) predispose women to breast and ovarian "
    "cancer. In MCF-7 cells, tamoxifen reduced the expression of TP53 in mice."
)


def test_default_tagger_annotates_with_exact_offsets() -> None:
    tagger = Tagger.load("default")
    assert set(tagger.tags) == {"BC5CDR", "BC2GM", "LINNAEUS", "JNLPBA", "tmVar"}
    document = tagger.annotate(TEXT)
    found = {(document.text[s.start : s.end], s.label) for s in document.spans}
    assert document.text == TEXT
    assert ("tamoxifen", "Chemical") in found
    assert ("c.68_69delAG", "DNAMutation") in found
    assert ("mice", "Species") in found
    assert all(0.0 < s.score <= 1.0 for s in document.spans)


def test_default_tagger_runs_its_variant_rules_across_heads() -> None:
    """Standard notations come out as variants, not as the gene head's wider spans."""
    text = (
        "The OPRM1 A118G polymorphism (rs1799971) and the apoB His3543Tyr substitution were rare."
    )
    tagger = Tagger.load("default")
    assert "tmVar:variants" in tagger.postprocess
    document = tagger.annotate(text)
    found = {(text[s.start : s.end], s.label) for s in document.spans}
    assert {
        ("A118G", "DNAMutation"),
        ("rs1799971", "SNP"),
        ("His3543Tyr", "ProteinMutation"),
    } <= found


def test_default_taggers_rules_are_the_ones_chosen_on_dev() -> None:
    """config.json's rule lists are those benchmarks/default_tagger.py --choose-rules chose."""
    chosen = json.loads((RESULTS / "default_tagger_rules.json").read_text())
    assert Tagger.load("default").postprocess == chosen["postprocess"]


def test_default_tagger_gives_an_abbreviation_its_long_forms_type() -> None:
    """Its BC5CDR head runs the document rules: the head alone misses both SJS."""
    text = "Carbamazepine (CBZ) induced Stevens-Johnson syndrome (SJS). SJS was severe after CBZ."
    tagger = Tagger.load("default")
    found = [(text[s.start : s.end], s.label) for s in tagger.annotate(text).spans]
    assert ("Stevens-Johnson syndrome", "Disease") in found
    assert found.count(("SJS", "Disease")) == 2
    tagger.postprocess = ["variants"]
    plain = [(text[s.start : s.end], s.label) for s in tagger.annotate(text).spans]
    assert ("SJS", "Disease") not in plain


def test_predict_gives_the_default_taggers_own_spans(tmp_path: Path) -> None:
    """`bioner predict` runs a single model's rules per head, exactly as `annotate` does."""
    text = "The OPRM1 A118G polymorphism (rs1799971) was rare."
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": text}) + "\n")
    out = tmp_path / "out.jsonl"
    _register_commands()
    result = CliRunner().invoke(app, ["predict", str(source), "-m", "default", "-o", str(out)])
    assert result.exit_code == 0, result.output
    predicted = [s.key for d in read_documents(out) for s in d.spans]
    assert predicted == [s.key for s in Tagger.load("default").annotate(text).spans]
    assert (text.index("rs1799971"), text.index(")"), "SNP") in predicted
