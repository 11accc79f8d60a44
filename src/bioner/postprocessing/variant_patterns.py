"""Standard variant notations found by regular expressions (tmVar-style post-processing).

Why: a neural tagger trained on tmVar's few hundred abstracts still misses mentions written
in textbook notation (`His3543Tyr`, `p.I11T`, `c.1517A>G`, `rs2297882`) when their context
is unusual; such strings are unambiguous enough that a pattern finds them with high
precision. DeepVar (§5.1) names exactly this — "adding the post-processing regex in tmVar" —
as the way past its end-to-end score. Written with `re` because the notations are a small
closed grammar (HGVS and its common informal variants) that no NER library ships.

Each pattern has a type and a name; `find_variants` returns non-overlapping matches, longest
first, so `p.Asp506Gly` wins over the `Asp506Gly` inside it. A substitution written with
single letters that are all nucleotides (`A118G`) is ambiguous between DNA and protein; it
is typed by `NUCLEOTIDE_SUBSTITUTION_TYPE` (chosen on the training split, see
benchmarks/variant_postprocessing.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Amino acids: one-letter codes, three-letter codes (plus stop codes), full names.
AA1 = "ACDEFGHIKLMNPQRSTVWY"
AA3 = (
    "Ala|Arg|Asn|Asp|Cys|Gln|Glu|Gly|His|Ile|Leu|Lys|Met|Phe|Pro|Ser|Thr|Trp|Tyr|Val|"
    "Sec|Pyl|Asx|Glx|Xaa|Ter|Stop|stop"
)
AA_NAMES = (
    "alanine|arginine|asparagine|aspartic acid|aspartate|cysteine|glutamine|glutamic acid|"
    "glutamate|glycine|histidine|isoleucine|leucine|lysine|methionine|phenylalanine|"
    "proline|serine|threonine|tryptophan|tyrosine|valine"
)
NUCLEOTIDES = "ACGTU"
# Left and right guards: a mention is not part of a longer word or number.
BEFORE = r"(?<![\w.+\-/])"
AFTER = r"(?![\w/])"
ARROW = r"(?:\s?(?:>|-+>|→)\s?)"
POSITION = r"[-+*]?\d+(?:\s?[-+_]\s?\d+)*"
EDIT = r"(?:delins|del|ins|dup|inv)"
NT = "[ACGTacgt]"  # IVS changes are often written in lower case (`IVS10+1g>t`)
# Intron names: `IVS3`, `IVS 9`, `IVSI`, beta-globin's `IVS-II`.
IVS_NAME = r"IVS\s?-?(?:\d+|[IV]+(?:-[IV]+)?)"

DNA = "DNAMutation"
PROTEIN = "ProteinMutation"
SNP = "SNP"
# All-nucleotide single-letter substitutions (`A118G`): DNA in 46 of 47 on tmVar's train split.
NUCLEOTIDE_SUBSTITUTION_TYPE = DNA


# Names shaped like a substitution that are not variants: the only two among 576 matches in
# the training text of BC2GM, JNLPBA, BC5CDR, NCBI-disease and LINNAEUS (a cell line and
# cytochrome P450 reductase); the rest were real variants.
NOT_VARIANTS = frozenset({"T47D", "P450R"})


@dataclass(frozen=True)
class VariantPattern:
    name: str
    label: str
    regex: re.Pattern[str]


def _pattern(name: str, label: str, regex: str, flags: int = 0) -> VariantPattern:
    return VariantPattern(name, label, re.compile(BEFORE + regex + AFTER, flags))


# `1517A>G`, and with the change in brackets: `-369 (C>G)`.
DNA_SUBSTITUTION = rf"{POSITION}\s?(?:[ACGT]+{ARROW}[ACGT]+|\(\s?[ACGT]{ARROW}[ACGT]\s?\))"
# The reference nucleotide first, before a signed (promoter or intron) position: `G-395A`.
DNA_SIGNED_SUBSTITUTION = r"[ACGT]\s?[-+]\d+\s?[ACGT]"
# A deletion/insertion/duplication at a position or range, of bases or a count: `1494del6`,
# `904-906delGAG`, `1067 del A`, `1109 ins 8bp`.
DNA_EDIT = r"\d+(?:[-_]\d+)?\s?(?:del|ins|dup)\s?(?:[ACGT]+|\d+(?:\s?bp)?)"
# `IVS3+1G/A`, `IVS4 + 1 G > T`, `IVSI-5 (G-->C)`, `IVS10+1, g-->t`, `IVS21-2delAG`.
IVS = (
    rf"{IVS_NAME}\s?[-+]\s?\d+(?:,\s?|\s?)"
    rf"(?:\(\s?{NT}{ARROW}{NT}\s?\)|{NT}\s?(?:{ARROW}|/)\s?{NT}|del[ACGT]+)"
)
HGVS_DNA_SUBSTITUTION = rf"[cgmnr]\.{POSITION}\s?[ACGTUacgtu]+{ARROW}[ACGTUacgtu]+"
HGVS_PROTEIN = rf"p\.\s?(?:{AA3}|[{AA1}])\d+(?:{AA3}|[{AA1}*X]|fs|del|ins|dup)"
PROTEIN_NAMES = rf"(?:{AA_NAMES})[- ]?\d+[- ](?:to[- ])?(?:{AA_NAMES})"

PATTERNS: tuple[VariantPattern, ...] = (
    _pattern("rs-id", SNP, r"rs\s?\d{2,}"),
    _pattern("hgvs-dna-substitution", DNA, HGVS_DNA_SUBSTITUTION),
    _pattern("hgvs-dna-edit", DNA, rf"[cgmnr]\.{POSITION}{EDIT}(?:[ACGT]+|\d+)?"),
    _pattern("hgvs-dna-reference-first", DNA, r"[cg]\.[ACGT]\d+[ACGT]"),
    _pattern("dna-substitution", DNA, DNA_SUBSTITUTION),
    _pattern("dna-signed-substitution", DNA, DNA_SIGNED_SUBSTITUTION),
    _pattern("dna-edit", DNA, DNA_EDIT),
    _pattern("dna-allele-pair", DNA, r"[-+]\d+,?\s?[ACGT]/[ACGT]"),
    _pattern("ivs", DNA, IVS),
    _pattern("hgvs-protein", PROTEIN, HGVS_PROTEIN),
    _pattern("protein-three-letter", PROTEIN, rf"(?:{AA3})\s?\d+\s?(?:{AA3}|X|\*)"),
    _pattern("protein-names", PROTEIN, PROTEIN_NAMES, re.IGNORECASE),
    _pattern("protein-edit", PROTEIN, rf"[{AA1}]\d+(?:del|ins|dup|fs)"),
    _pattern("one-letter-substitution", PROTEIN, rf"[{AA1}]\d{{2,}}[{AA1}*X]"),
)


@dataclass(frozen=True)
class VariantMatch:
    start: int
    end: int
    label: str
    pattern: str


def typed(match_text: str, pattern: VariantPattern) -> str:
    """The label of a match: all-nucleotide one-letter substitutions are ambiguous."""
    if pattern.name == "one-letter-substitution":
        first, last = match_text[0], match_text[-1]
        if first in NUCLEOTIDES and last in NUCLEOTIDES:
            return NUCLEOTIDE_SUBSTITUTION_TYPE
    return pattern.label


def find_variants(text: str, patterns: tuple[VariantPattern, ...] = PATTERNS) -> list[VariantMatch]:
    """Non-overlapping variant mentions in `text`, longest first, sorted by offset."""
    found: list[VariantMatch] = []
    for pattern in patterns:
        for match in pattern.regex.finditer(text):
            if match.group() in NOT_VARIANTS:
                continue
            label = typed(match.group(), pattern)
            found.append(VariantMatch(match.start(), match.end(), label, pattern.name))
    found.sort(key=lambda m: (-(m.end - m.start), m.start))
    kept: list[VariantMatch] = []
    for match in found:
        if all(match.end <= k.start or k.end <= match.start for k in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)
