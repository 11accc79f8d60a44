"""Fine-grained (tmVar-style) tokens: exact pieces, offsets, bounded cost, chosen by name."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioner.config import load_config
from bioner.errors import BionerError
from bioner.text import TOKENIZER_NAMES, Tokenizer, VariantTokenizer, make_tokenizer
from test_text_tokenizer import _BIOISH, check_invariants

FINE = Tokenizer(fine_grained=True)


def words(text: str) -> list[str]:
    return [token.text for token in FINE.tokens(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("c.1517A>G", ["c", ".", "1517", "A", ">", "G"]),
        ("p.Asp506Gly", ["p", ".", "Asp", "506", "Gly"]),
        ("(rtL180M + rtM204V)", ["(", "rt", "L", "180", "M", "+", "rt", "M", "204", "V", ")"]),
        ("CCR5Delta32", ["CCR", "5", "Delta", "32"]),
        ("c.841_842delAC", ["c", ".", "841", "_", "842", "del", "AC"]),
        ("rs2234671,", ["rs", "2234671", ","]),
        # Upper → lower is no cut (ATPase, Delta); lower → upper is (mRNA, McDonald).
        ("mRNA ATPase McDonald IVSII", ["m", "RNA", "ATPase", "Mc", "Donald", "IVSII"]),
        ("αBγ é", ["α", "Bγ", "é"]),
    ],
)
def test_fine_tokens(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_gold_mentions_inside_runs_become_token_sequences() -> None:
    # tmVar annotates "L180M" inside "rtL180M" and "Delta32" inside "CCR5Delta32".
    text = "rtL180M and CCR5Delta32"
    for start, end in [(2, 7), (16, 23)]:
        tokens = FINE.tokens(text)
        assert start in {t.start for t in tokens} and end in {t.end for t in tokens}
    general = Tokenizer().tokens(text)
    assert 2 not in {t.start for t in general}


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=200), _BIOISH, st.text(alphabet="aAbB1.", max_size=200)))
def test_fine_invariants(text: str) -> None:
    check_invariants(FINE, text)
    check_invariants(Tokenizer(fine_grained=True, max_token_length=8), text)


def test_one_megabyte_mixed_case_line_is_bounded() -> None:
    text = "aB" * 500_000  # 1 MB, a case change at every other character
    begin = time.perf_counter()
    sentences = FINE.tokenize(text)
    assert time.perf_counter() - begin < 10
    tokens = [t for s in sentences for t in s.tokens]
    assert "".join(t.text for t in tokens) == text
    assert all(len(t.text) <= 2 for t in tokens)
    assert max(len(s) for s in sentences) <= 1000


def test_make_tokenizer_by_name() -> None:
    assert TOKENIZER_NAMES == ("default", "variant", "fine")
    assert make_tokenizer("fine").fine_grained
    assert isinstance(make_tokenizer("variant"), VariantTokenizer)
    assert not make_tokenizer("default").fine_grained
    with pytest.raises(BionerError, match="unknown tokenizer 'tmvar'"):
        make_tokenizer("tmvar")
    with pytest.raises(ValueError, match="choose one"):
        Tokenizer(fine_grained=True, variant_aware=True)


def test_config_names_the_fine_tokenizer() -> None:
    assert load_config("deepvar", ['data.tokenizer="fine"']).data.tokenizer == "fine"
    with pytest.raises(BionerError):
        load_config("deepvar", ['data.tokenizer="tmvar"'])
