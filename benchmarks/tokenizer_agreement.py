"""How well `bioner.text` reproduces the corpora's tokens, sentences and mention boundaries.

Run from the repository root:

    .venv/bin/python benchmarks/tokenizer_agreement.py [--shared ../shared]

Measures, on NCBI-disease and BC5CDR (raw text from their PubTator `original/` files) and
tmVar (PubTator), for the general tokenizer, the variant-aware (DeepVar §4.1) one and the
fine-grained (tmVar-style) one:

(a) mentions intact: the share of gold mentions whose start and end both fall on token
    boundaries (the mention is a run of whole tokens), per corpus and, for tmVar, per type;
    also how many mentions straddle a sentence boundary;
(b) token agreement with the CoNLL version of the corpus (NCBI-disease, BC5CDR): the CoNLL
    tokens of each document are aligned to the raw text, then token spans and token
    boundaries are compared (precision, recall, F1);
(c) sentence agreement with the CoNLL sentence split: sentence starts inside the abstract
    (the title/abstract break is given to the splitter, so it is not counted).

Writes `benchmarks/results/tokenizer_agreement.{json,md}`.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bioner.text import Tokenizer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

PUBTATOR_SPLITS = {
    "NCBI-disease": {
        "train": "original/NCBItrainset_corpus.txt",
        "devel": "original/NCBIdevelopset_corpus.txt",
        "test": "original/NCBItestset_corpus.txt",
    },
    "BC5CDR": {
        "train": "original/CDR_TrainingSet.PubTator.txt",
        "devel": "original/CDR_DevelopmentSet.PubTator.txt",
        "test": "original/CDR_TestSet.PubTator.txt",
    },
    "tmVar": {"train": "train.PubTator.txt", "test": "test.PubTator.txt"},
}
CONLL_CORPORA = ("NCBI-disease", "BC5CDR")


@dataclass
class Doc:
    """A PubTator document: text = title + " " + abstract, mentions in its offsets."""

    pmid: str
    title: str
    abstract: str
    mentions: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.title} {self.abstract}"

    @property
    def abstract_start(self) -> int:
        return len(self.title) + 1


def read_pubtator(path: Path) -> list[Doc]:
    """Minimal PubTator reader (CRLF tolerant); relation lines are skipped."""
    docs: list[Doc] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for raw in handle:
            line = raw.rstrip("\r\n")
            head = line[:40]
            if "|t|" in head:
                pmid, _, title = line.split("|", 2)
                docs.append(Doc(pmid, title, ""))
            elif "|a|" in head:
                docs[-1].abstract = line.split("|", 2)[2]
            elif line:
                cols = line.split("\t")
                if len(cols) >= 5 and cols[1].isdigit() and cols[2].isdigit():
                    docs[-1].mentions.append((int(cols[1]), int(cols[2]), cols[4]))
    return docs


def load_pubtator(path: Path) -> list[Doc]:
    """PubTator documents via `bioner.data.formats` when it is there, else `read_pubtator`."""
    try:
        from bioner.data.formats import read_documents
    except ImportError:
        return read_pubtator(path)
    docs: list[Doc] = []
    for document in read_documents(path, fmt="pubtator"):
        title_end = document.passages[0].end if document.passages else len(document.text)
        mentions = [(span.start, span.end, span.label) for span in document.spans]
        title, abstract = document.text[:title_end], document.text[title_end + 1 :]
        docs.append(Doc(document.id, title, abstract, mentions))
    return docs


def read_conll_sentences(path: Path) -> list[list[str]]:
    sentences: list[list[str]] = []
    current: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
        elif not line.startswith("-DOCSTART-"):
            current.append(line.split("\t")[0])
    if current:
        sentences.append(current)
    return sentences


_SPACE = re.compile(r"\s+")


def align_conll(docs: list[Doc], sentences: list[list[str]]) -> dict[str, list[list[tuple]]]:
    """CoNLL sentences grouped by document, as (start, end) offsets into the raw text.

    The CoNLL files have no document markers and another document order, but their
    characters equal the raw text's non-space characters, so a run of sentences belongs to
    the document whose squeezed text it spells.
    """
    by_prefix: dict[str, list[tuple[Doc, str]]] = defaultdict(list)
    for doc in docs:
        squeezed = _SPACE.sub("", doc.text)
        by_prefix[squeezed[:30]].append((doc, squeezed))
    aligned: dict[str, list[list[tuple]]] = {}
    index = 0
    while index < len(sentences):
        first = "".join(sentences[index])
        if len(first) >= 30:
            candidates = by_prefix.get(first[:30], [])
        else:  # a very short first sentence: any document starting with it
            candidates = [c for k, group in by_prefix.items() if k.startswith(first) for c in group]
        for doc, squeezed in candidates:
            spelled, end = "", index
            while end < len(sentences) and len(spelled) < len(squeezed):
                spelled += "".join(sentences[end])
                end += 1
            if spelled == squeezed and doc.pmid not in aligned:
                aligned[doc.pmid] = _offsets(doc.text, sentences[index:end])
                index = end
                break
        else:
            index += 1  # a sentence of no document: skipped
    return aligned


def _offsets(text: str, sentences: list[list[str]]) -> list[list[tuple]]:
    position = 0
    result: list[list[tuple]] = []
    for words in sentences:
        spans = []
        for word in words:
            while text[position].isspace():
                position += 1
            if not text.startswith(word, position):
                raise ValueError(f"cannot align {word!r} at {position}")
            spans.append((position, position + len(word)))
            position += len(word)
        result.append(spans)
    return result


def prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(100 * p, 3), "recall": round(100 * r, 3), "f1": round(100 * f, 3)}


def unique_docs(corpus_dir: Path, corpus: str) -> Iterator[tuple[str, Doc]]:
    seen: set[str] = set()
    for split, relative in PUBTATOR_SPLITS[corpus].items():
        for doc in load_pubtator(corpus_dir / corpus / relative):
            if doc.pmid not in seen:  # NCBI train lists PMID 8528200 twice
                seen.add(doc.pmid)
                yield split, doc


def evaluate(corpora_dir: Path, tokenizers: dict[str, Tokenizer]) -> dict:
    report: dict = {"tokenizers": {}, "corpora": {}}
    for corpus in PUBTATOR_SPLITS:
        docs = list(unique_docs(corpora_dir, corpus))
        gold_conll: dict[str, list[list[tuple]]] = {}
        if corpus in CONLL_CORPORA:
            for split in PUBTATOR_SPLITS[corpus]:
                split_docs = [d for s, d in docs if s == split]
                sentences = read_conll_sentences(corpora_dir / corpus / f"{split}.tsv")
                gold_conll.update(align_conll(split_docs, sentences))
        entry: dict = {"documents": len(docs), "conll_documents_aligned": len(gold_conll)}
        for name, tokenizer in tokenizers.items():
            entry[name] = measure(tokenizer, [d for _, d in docs], gold_conll)
        report["corpora"][corpus] = entry
    return report


def measure(tokenizer: Tokenizer, docs: list[Doc], gold: dict[str, list[list[tuple]]]) -> dict:
    intact: Counter[str] = Counter()
    total: Counter[str] = Counter()
    crossing = 0
    broken: list[str] = []
    tok = {"tp": 0, "pred": 0, "gold": 0}
    bnd = {"tp": 0, "pred": 0, "gold": 0}
    sen = {"tp": 0, "pred": 0, "gold": 0}
    chars = 0
    elapsed = 0.0
    for doc in docs:
        text = doc.text
        chars += len(text)
        begin = time.perf_counter()
        sentences = tokenizer.tokenize(text, boundaries=[len(doc.title)])
        elapsed += time.perf_counter() - begin
        spans = [(t.start, t.end) for s in sentences for t in s.tokens]
        starts = {s for s, _ in spans}
        ends = {e for _, e in spans}
        sentence_starts = [s.start for s in sentences]
        for start, end, label in doc.mentions:
            total[label] += 1
            if start in starts and end in ends:
                intact[label] += 1
            elif len(broken) < 25:
                left, right = text[max(0, start - 12) : start], text[end : end + 12]
                broken.append(f"{label}: {left}[{text[start:end]}]{right}")
            if any(start < s < end for s in sentence_starts):
                crossing += 1
        if doc.pmid in gold:
            conll = gold[doc.pmid]
            gold_spans = {span for sentence in conll for span in sentence}
            ours = set(spans)
            tok["tp"] += len(gold_spans & ours)
            tok["pred"] += len(ours)
            tok["gold"] += len(gold_spans)
            gold_b = {x for span in gold_spans for x in span}
            ours_b = {x for span in ours for x in span}
            bnd["tp"] += len(gold_b & ours_b)
            bnd["pred"] += len(ours_b)
            bnd["gold"] += len(gold_b)
            given = {0, doc.abstract_start}
            gold_s = {sentence[0][0] for sentence in conll} - given
            ours_s = set(sentence_starts) - given
            sen["tp"] += len(gold_s & ours_s)
            sen["pred"] += len(ours_s)
            sen["gold"] += len(gold_s)
    result: dict = {
        "mentions": sum(total.values()),
        "mentions_intact": sum(intact.values()),
        "mentions_intact_pct": round(100 * sum(intact.values()) / max(1, sum(total.values())), 3),
        "mentions_across_sentences": crossing,
        "per_type": {
            label: {
                "mentions": total[label],
                "intact_pct": round(100 * intact[label] / total[label], 3),
            }
            for label in sorted(total)
        },
        "broken_examples": broken,
        "chars_per_second": round(chars / elapsed) if elapsed else None,
    }
    if gold:
        result["token_spans_vs_conll"] = prf(tok["tp"], tok["pred"], tok["gold"])
        result["token_boundaries_vs_conll"] = prf(bnd["tp"], bnd["pred"], bnd["gold"])
        result["sentence_starts_vs_conll"] = prf(sen["tp"], sen["pred"], sen["gold"]) | {
            "gold": sen["gold"]
        }
    return result


NOTES = [
    "- The CoNLL versions of NCBI-disease and BC5CDR keep every run of letters and digits whole",
    "  and make every other character a token; the general tokenizer follows that rule, so the",
    "  mentions it breaks are the ones that end inside such a run (`[5-HT]6`, `hGRalpha[D401H]`),",
    "  which the CoNLL versions cannot represent either.",
    "- DeepVar's rule (variant-aware) keeps variant names whole but not hyphenated or colon-joined",
    "  context (`[lithium]-induced`, `rs2271683:[A>G]`, `TREX1([R114H])`), so on these corpora it",
    "  keeps fewer mentions intact than the general tokenizer, tmVar included.",
    "- The fine-grained (tmVar-style) tokenizer also cuts letter/digit runs and lower→upper case",
    "  changes, so mentions that start or end inside a run (`rt[L180M]`, `CCR5[Delta32]`) become",
    "  whole tokens; it is for variant models, not for matching the CoNLL tokens.",
    "- Most missed CoNLL sentence starts are splits the CoNLL tool made inside author lists and",
    "  references (`Feder, J. N., Gnirke, A.`) or after `St.`; the splitter keeps those together.",
]


def markdown(report: dict) -> str:
    lines = [
        "# Tokenizer agreement",
        "",
        "Produced by `benchmarks/tokenizer_agreement.py` (see its docstring for the measures).",
        "Mentions intact = both mention boundaries fall on token boundaries.",
        "",
        "## Mentions intact (%)",
        "",
        "| corpus | mentions | " + " | ".join(report["tokenizers"]) + " |",
        "|---|---|" + "---|" * len(report["tokenizers"]),
    ]
    for corpus, entry in report["corpora"].items():
        first = entry[next(iter(report["tokenizers"]))]
        row = [corpus, str(first["mentions"])]
        row += [f"{entry[name]['mentions_intact_pct']:.2f}" for name in report["tokenizers"]]
        lines.append("| " + " | ".join(row) + " |")
        if corpus == "tmVar":
            for label in first["per_type"]:
                row = [f"tmVar {label}", str(first["per_type"][label]["mentions"])]
                row += [
                    f"{entry[n]['per_type'][label]['intact_pct']:.2f}" for n in report["tokenizers"]
                ]
                lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "## Agreement with the CoNLL versions (P / R / F1, %)",
        "",
        "| corpus | tokenizer | token spans | token boundaries | sentence starts (gold n) |",
        "|---|---|---|---|---|",
    ]
    for corpus, entry in report["corpora"].items():
        for name in report["tokenizers"]:
            r = entry[name]
            if "token_spans_vs_conll" not in r:
                continue
            cells = [
                "{precision:.2f} / {recall:.2f} / {f1:.2f}".format(**r[key])
                for key in (
                    "token_spans_vs_conll",
                    "token_boundaries_vs_conll",
                    "sentence_starts_vs_conll",
                )
            ]
            cells[-1] += f" ({r['sentence_starts_vs_conll']['gold']})"
            lines.append(f"| {corpus} | {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Mentions crossing a sentence boundary", ""]
    for corpus, entry in report["corpora"].items():
        counts = ", ".join(
            f"{n}: {entry[n]['mentions_across_sentences']}" for n in report["tokenizers"]
        )
        lines.append(f"- {corpus}: {counts}")
    lines += ["", "## Examples of broken mentions", ""]
    for corpus, entry in report["corpora"].items():
        for name in report["tokenizers"]:
            examples = entry[name]["broken_examples"][:8]
            if examples:
                lines.append(f"**{corpus}, {name}**")
                lines.append("")
                lines += [f"- `{e}`" for e in examples]
                lines.append("")
    lines += ["## Speed (characters per second, one shared CPU core, incl. sentence splitting)", ""]
    for corpus, entry in report["corpora"].items():
        speeds = ", ".join(f"{n}: {entry[n]['chars_per_second']:,}" for n in report["tokenizers"])
        lines.append(f"- {corpus}: {speeds}")
    lines += ["", "## Notes", "", *NOTES, ""]
    lines += ["## Settings", "", f"PubTator reader: `{report['reader']}`", ""]
    lines += ["```json", json.dumps(report["tokenizers"], indent=2), "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tokenizers = {
        "general": Tokenizer(),
        "variant-aware": Tokenizer(variant_aware=True),
        "variant-aware (paper-exact)": Tokenizer(variant_aware=True, paper_exact=True),
        "fine-grained": Tokenizer(fine_grained=True),
    }
    report = evaluate(args.shared / "corpora", tokenizers)
    try:
        import bioner.data.formats  # noqa: F401

        report["reader"] = "bioner.data.formats.read_documents"
    except ImportError:
        report["reader"] = "benchmarks/tokenizer_agreement.py:read_pubtator"
    report["tokenizers"] = {
        "general": "Tokenizer()",
        "variant-aware": "Tokenizer(variant_aware=True)",
        "variant-aware (paper-exact)": "Tokenizer(variant_aware=True, paper_exact=True)",
        "fine-grained": "Tokenizer(fine_grained=True)",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tokenizer_agreement.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "tokenizer_agreement.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
