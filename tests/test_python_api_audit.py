"""The Python API as a script uses it: `Tagger`, `annotate_stream`, `evaluate_documents`.

Checks that can fail: misuse (None, bytes, a path, a dict, a single string where a list
belongs, unknown heads or types, a file or a wrong device for `Tagger.load`) is one clear
error naming the problem instead of a deep traceback or a silently wrong result; a Document
without sentences (as PubTator/BioC/JSONL readers give them) is tagged, keeping its passages
and metadata, by `annotate` and `predict_documents` alike; strings get the same ids from
`annotate` and `annotate_stream`; `import bioner` is instant, starts nothing and exposes
`Tagger`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from bioner.annotation.pipeline import annotate_stream
from bioner.data.document import Document, Passage
from bioner.errors import BionerError
from bioner.evaluation import evaluate_documents
from bioner.tagger import Tagger
from bioner.text import VariantTokenizer
from model_fixture import EXAMPLE

pytest_plugins = ["conftest_model"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def keys(document: Document) -> list[tuple[int, int, str]]:
    return [span.key for span in document.spans]


# ---------------------------------------------------------------------- wrong input types
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, r"Tagger.annotate takes a str, a Document or an iterable of them; got NoneType"),
        (123, r"takes a str, a Document or an iterable of them; got int$"),
        (b"BRCA1 in asthma", r"got bytes, not text \(decode it first"),
        (Path("notes.txt"), r"got a path \(PosixPath\); paths are not read: pass the file's text"),
        ({"a": "BRCA1 in asthma"}, r"not a dict \(iterating it gives its keys\)"),
        (["BRCA1 in asthma", None], r"^input item 2 is NoneType; expected a str or a Document$"),
        ([b"BRCA1"], r"^input item 1 is bytes, not text"),
    ],
)
def test_annotate_refuses_what_is_not_text(tagger: Tagger, value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        tagger.annotate(value)  # type: ignore[call-overload]


def test_annotate_stream_refuses_a_single_string_at_the_call(tagger: Tagger) -> None:
    # Iterated, a str was tagged one character at a time: doc1 "B", doc2 "R", ...
    with pytest.raises(TypeError, match="annotate_stream takes an iterable of texts or Documents"):
        annotate_stream(tagger, "BRCA1 in asthma")
    with pytest.raises(TypeError, match="got NoneType"):
        annotate_stream(tagger, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^input item 2 is NoneType"):
        list(annotate_stream(tagger, ["BRCA1", None]))  # type: ignore[list-item]


def test_annotate_stream_takes_a_tokenizer_by_name(tagger: Tagger) -> None:
    # A name was used as a Tokenizer: AttributeError "'str' object has no attribute 'tokenize'".
    text = "BRCA1 c.123A>G in asthma"
    (by_name,) = annotate_stream(tagger, [text], tokenizer="variant")
    (by_object,) = annotate_stream(tagger, [text], tokenizer=VariantTokenizer())
    assert by_name.sentences == by_object.sentences
    assert keys(by_name) == keys(by_object)
    with pytest.raises(BionerError, match="unknown tokenizer 'varaint'"):
        annotate_stream(tagger, [text], tokenizer="varaint")


def test_a_bare_string_for_types_or_heads_is_a_type_error(tagger: Tagger) -> None:
    document = tagger.annotate(EXAMPLE)
    # "Disease" was the types D, i, s, e, a: nothing kept, or "unknown types D, a, e, i, s".
    with pytest.raises(TypeError, match=r"e.g. \['Disease'\], not a str"):
        tagger.predict_documents([document], types="Disease")
    with pytest.raises(TypeError, match=r"e.g. \['Disease'\], not a str"):
        annotate_stream(tagger, [EXAMPLE], types="Disease")
    with pytest.raises(TypeError, match=r"heads must be a list of head names, e.g. \['default'\]"):
        tagger.predict_documents([document], heads="default")


def test_predict_documents_refuses_unknown_types(tagger: Tagger) -> None:
    document = tagger.annotate(EXAMPLE)
    # An unknown type (a typo) returned documents without spans, silently.
    with pytest.raises(BionerError, match=r"unknown entity type\(s\) Diseas: this model tags"):
        tagger.predict_documents([document], types=["Diseas"])
    kept = tagger.predict_documents([document], types=["Disease"])[0]
    assert kept.spans and {s.label for s in kept.spans} == {"Disease"}


def test_predict_documents_refuses_raw_text_and_a_single_document(tagger: Tagger) -> None:
    with pytest.raises(
        TypeError,
        match=r"^predict_documents: item 0 is str; expected a Document \(Tagger.annotate takes",
    ):
        tagger.predict_documents([EXAMPLE])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not one Document: pass a list"):
        tagger.predict_documents(tagger.annotate(EXAMPLE))  # type: ignore[arg-type]


def test_postprocess_takes_a_list_of_names(tagger: Tagger) -> None:
    before = tagger.postprocess
    # A str was checked letter by letter ("unknown post-processing r, e, p, ..."); None failed
    # inside the rule check with "'NoneType' object is not iterable".
    with pytest.raises(TypeError, match=r"list of rule-set names \(\[\] for none\).*got str"):
        tagger.postprocess = "repeats"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="got NoneType"):
        tagger.postprocess = None  # type: ignore[assignment]
    assert tagger.postprocess == before


# ---------------------------------------------------------------------- documents and ids
def test_predict_documents_tags_documents_without_sentences(tagger: Tagger) -> None:
    # What read_documents gives for PubTator, BioC or JSONL: text, no tokens. Such documents
    # came back with no spans at all.
    raw = Document(id="pmid1", text=EXAMPLE)
    (predicted,) = tagger.predict_documents([raw])
    assert keys(predicted) == keys(tagger.annotate(EXAMPLE))
    assert predicted.spans and predicted.sentences
    assert raw.sentences == []  # the caller's document is not changed


def test_predict_documents_takes_a_generator(tagger: Tagger) -> None:
    documents = [tagger.annotate(EXAMPLE), tagger.annotate("KRAS in leukemia")]
    # A generator was read twice: the second pass saw nothing (IndexError or no spans).
    predicted = tagger.predict_documents(d for d in documents)
    assert [keys(d) for d in predicted] == [keys(d) for d in documents]


def test_annotate_keeps_a_documents_passages_and_metadata(tagger: Tagger) -> None:
    title = "Melanoma and BRCA1"  # no full stop: only the passage end separates it
    text = f"{title} TP53 in asthma patients."
    document = Document(
        id="pmid7",
        text=text,
        passages=[Passage("title", 0, len(title)), Passage("abstract", len(title) + 1, len(text))],
        metadata={"journal": "J"},
    )
    annotated = tagger.annotate(document)
    streamed = next(annotate_stream(tagger, [document]))
    # annotate re-created the document from its text: passages and metadata were lost and
    # the title ran into the abstract as one sentence.
    assert (annotated.id, annotated.passages, annotated.metadata) == (
        "pmid7",
        document.passages,
        {"journal": "J"},
    )
    assert [(s.start, s.end) for s in annotated.sentences] == [(0, len(title)), (19, len(text))]
    assert annotated.sentences == streamed.sentences
    assert keys(annotated) == keys(streamed)


def test_annotate_and_annotate_stream_name_strings_alike(tagger: Tagger) -> None:
    texts = [EXAMPLE, "KRAS in leukemia"]
    assert [d.id for d in tagger.annotate(texts)] == ["doc1", "doc2"]  # was doc0, doc1
    assert [d.id for d in annotate_stream(tagger, texts)] == ["doc1", "doc2"]
    assert tagger.annotate(EXAMPLE).id == "doc1"


@pytest.mark.parametrize("text", ["", "   \n\t ", "\u200b\u00a0\u2009"])
def test_text_without_words_gives_a_document_without_spans(tagger: Tagger, text: str) -> None:
    document = tagger.annotate(text)
    assert (document.text, document.spans) == (text, [])
    (streamed,) = annotate_stream(tagger, [text])
    assert (streamed.text, streamed.spans) == (text, [])


def test_punctuation_only_text_is_tagged_without_error(tagger: Tagger) -> None:
    text = "!!! ... ,,, ;;; ()[] -- // " * 50  # the tiny model may tag some; offsets must hold
    document = tagger.annotate(text)
    assert document.text == text
    assert all(
        0 <= s.start < s.end <= len(text) and text[s.start : s.end].strip() for s in document.spans
    )


# ---------------------------------------------------------------------- Tagger.load
def test_load_names_the_problem(tiny_model: Path, tmp_path: Path) -> None:
    weights = tiny_model / "weights.safetensors"
    # A file was "no model directory '...'", as if it did not exist.
    with pytest.raises(BionerError, match=rf"is a file; a model is the folder \({tiny_model}\)"):
        Tagger.load(weights)
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    for name in ("config.json", "vocab.json", "weights.safetensors", "meta.json"):
        (run / "model" / name).write_bytes((tiny_model / name).read_bytes())
    with pytest.raises(BionerError, match=r"a training run keeps its model in .*run/model$"):
        Tagger.load(run)
    with pytest.raises(TypeError, match=r"model folder or a bundled model's name.*got NoneType"):
        Tagger.load(None)  # type: ignore[arg-type]
    # torch's RuntimeError from deep inside Module.to.
    with pytest.raises(BionerError, match="unknown device 'gpu': use 'cpu', 'cuda'"):
        Tagger.load(tiny_model, device="gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_load_on_a_missing_gpu_is_a_clear_error(tiny_model: Path) -> None:
    # Was torch's AssertionError "Torch not compiled with CUDA enabled".
    with pytest.raises(BionerError, match="device 'cuda': this PyTorch sees no CUDA GPU"):
        Tagger.load(tiny_model, device="cuda")


# ---------------------------------------------------------------------- evaluation
def test_evaluate_documents_argument_errors(tagger: Tagger) -> None:
    gold = [tagger.annotate(EXAMPLE)]
    with pytest.raises(BionerError, match="unknown match mode 'exakt': use one of exact, right"):
        evaluate_documents(gold, gold, mode="exakt")
    # Each was scored as something else: types "Disease" as D, i, s, ... (all zeros), a
    # label_map list as no mapping at all.
    with pytest.raises(TypeError, match=r"e.g. \['Disease'\], not a str"):
        evaluate_documents(gold, gold, types="Disease")
    with pytest.raises(TypeError, match="label_map must be a mapping"):
        evaluate_documents(gold, gold, label_map=[("Gene", "GENE")])  # type: ignore[arg-type]
    with pytest.raises(
        TypeError,
        match=r"^evaluate_documents\(gold_docs\) takes an iterable of Documents, "
        "not one Document: pass a list$",
    ):
        evaluate_documents(gold[0], gold)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError,
        match=r"^evaluate_documents\(pred_docs\): item 0 is str; expected a Document \(make one",
    ):
        evaluate_documents(gold, [EXAMPLE])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^evaluate_documents\(gold_docs\): item 1 is bytes"):
        evaluate_documents([gold[0], b"text"], gold)  # type: ignore[list-item]
    # An empty filter scored nothing (F1 0) where every other entry point refuses it.
    with pytest.raises(BionerError, match="name at least one entity type"):
        evaluate_documents(gold, gold, types=[])
    assert evaluate_documents(gold, gold).micro.f1 == 1.0


# ---------------------------------------------------------------------- import bioner
def test_import_bioner_is_light_and_exports_the_api() -> None:
    script = textwrap.dedent(
        """
        import json, logging, sys, threading
        import bioner
        light = {
            "torch": "torch" in sys.modules,
            "threads": threading.active_count(),
            "handlers": len(logging.getLogger().handlers),
        }
        from bioner import Tagger, annotate_stream, evaluate_documents, read_documents
        from bioner.tagger import Tagger as Direct
        print(json.dumps({**light, "same": Tagger is Direct, "all": sorted(bioner.__all__)}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    found = json.loads(result.stdout)
    assert found["torch"] is False  # `import bioner` must not pay for torch
    assert (found["threads"], found["handlers"], found["same"]) == (1, 0, True)
    assert {"Tagger", "annotate_stream", "Document", "__version__"} <= set(found["all"])
