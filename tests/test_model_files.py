"""Model and vector files a user can point at: every damaged one is a one-line BionerError
naming the file (and the line, for text), never a traceback and never silently mangled."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from bioner.errors import BionerError, InputFormatError
from bioner.models.embeddings import load_word_vectors
from bioner.models.embeddings.contextual import ContextualStringEmbedding
from bioner.pretraining.bilm_transfer import checked_start
from bioner.pretraining.charlm import (
    FORMAT,
    FORMAT_VERSION,
    CharLM,
    CharLMSpec,
    CharVocabulary,
    load_charlm,
    save_charlm,
)
from bioner.training.checkpoints import load_checkpoint, save_checkpoint

# ----------------------------------------------------------------------------- word vectors


def _binary(path: Path, rows: list[tuple[bytes, list[float]]]) -> Path:
    body = b"".join(word + b" " + np.array(v, dtype=np.float32).tobytes() for word, v in rows)
    path.write_bytes(f"{len(rows)} {len(rows[0][1])}\n".encode() + body)
    return path


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        (b"2 3\na 1 2 3\nb 1 nan 3\n", 3, "NaN, infinity"),
        (b"2 3\na 1 2 3\nb 1 -inf 3\n", 3, "NaN, infinity"),
        (b"a 1 2 3\nb 1 1e60 3\n", 2, "too large for float32"),  # GloVe: no header
        (b"2 3\na 1 2 3\na 4 5 6\n", 3, "'a' comes again (first at line 2)"),
        (b"2 3\na 1 2 3\ncaf\xe9 1 2 3\n", 3, "not valid UTF-8"),
        (b"1 3\na 1 2 3\nb 1 2 3\n", 3, "more vectors than the 1 the header announces"),
        (b"2 4\na 1 2 3\nb 1 2 3\n", 2, "expected a word and 4 values"),  # not taken as binary
        (b"2 0\na\nb\n", 1, "dimension 0"),
    ],
)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_bad_text_vectors_name_the_line(
    tmp_path: Path, content: bytes, line: int, fragment: str
) -> None:
    path = tmp_path / "vectors.txt"
    path.write_bytes(content)
    with pytest.raises(InputFormatError) as info:
        load_word_vectors(path)
    assert info.value.line == line and str(path) in str(info.value)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([(b"a", [1, 2]), (b"b", [1, float("nan")])], "vector 2: the vector of 'b' holds NaN"),
        (
            [(b"a", [1, 2]), (b"a", [3, 4])],
            "vector 2: the word 'a' comes again (first at vector 1)",
        ),
        ([(b"a", [1, 2]), (b"caf\xe9", [3, 4])], "vector 2: the word is not valid UTF-8"),
    ],
)
def test_bad_binary_vectors_name_the_vector(
    tmp_path: Path, rows: list[tuple[bytes, list[float]]], fragment: str
) -> None:
    path = _binary(tmp_path / "vectors.bin", rows)
    with pytest.raises(InputFormatError) as info:
        load_word_vectors(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("damage", ["truncated", "not gzip"])
def test_damaged_gzip_vectors_are_input_errors(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "vectors.txt.gz"
    packed = gzip.compress(b"2 3\na 1 2 3\nb 1 2 3\n")
    path.write_bytes(packed[:-12] if damage == "truncated" else b"2 3\na 1 2 3\n")
    with pytest.raises(InputFormatError, match="cannot read the file"):
        load_word_vectors(path)


# ----------------------------------------------------------------------------- checkpoints


def _trained() -> tuple[torch.nn.Linear, torch.optim.Adam]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_checkpoint_weights_that_do_not_fit_are_named_on_one_line(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, *_trained(), {"epoch": 1})
    with pytest.raises(BionerError) as info:
        load_checkpoint(tmp_path, torch.nn.Linear(4, 2), None)
    message = str(info.value)
    assert "model.safetensors" in message and "weight is [2, 3], expected [2, 4]" in message
    assert "\n" not in message
    (tmp_path / "last" / "model.safetensors").unlink()
    with pytest.raises(BionerError, match=r"model\.safetensors: unreadable checkpoint file"):
        load_checkpoint(tmp_path, torch.nn.Linear(3, 2), None)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("optimizer.json", "[1, 2]"),
        ("optimizer.json", "null"),
        ("optimizer.json", '{"__dict_items__": 5}'),
    ],
)
def test_damaged_checkpoint_json_is_a_bioner_error(tmp_path: Path, name: str, content: str) -> None:
    save_checkpoint(tmp_path, *_trained(), {"epoch": 1})
    (tmp_path / "last" / name).write_text(content, encoding="utf-8")
    with pytest.raises(BionerError, match=re.escape(str(tmp_path / "last"))):
        load_checkpoint(tmp_path, *_trained())


@pytest.mark.parametrize("damage", ["torch state too short", "numpy keys too short"])
def test_damaged_rng_state_is_a_bioner_error(tmp_path: Path, damage: str) -> None:
    """These raised RuntimeError and IndexError, which were not caught."""
    save_checkpoint(tmp_path, *_trained(), {"epoch": 1})
    folder = tmp_path / "last"
    if damage == "torch state too short":
        save_file({"torch_cpu": torch.zeros(3, dtype=torch.uint8)}, str(folder / "rng.safetensors"))
    else:
        plain = json.loads((folder / "rng.json").read_text(encoding="utf-8"))
        plain["numpy"]["keys"] = [1]
        (folder / "rng.json").write_text(json.dumps(plain), encoding="utf-8")
    with pytest.raises(BionerError, match="random-generator state"):
        load_checkpoint(tmp_path, *_trained())


# ----------------------------------------------------------------------------- character LMs

CHARS = CharVocabulary("ab \n")


def _lm(direction: str = "forward") -> CharLM:
    return CharLM(CharLMSpec(num_chars=len(CHARS), embedding_dim=3, hidden=4, direction=direction))


def _lm_file(path: Path, state: dict[str, torch.Tensor], **metadata: str) -> Path:
    lm = _lm()
    base = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "spec": lm.spec.model_dump_json(),
        "chars": json.dumps(CHARS.to_json()),
    }
    save_file(state, str(path), metadata=base | metadata)
    return path


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({"chars": "5"}, "must be a JSON list of strings"),
        ({"chars": "[1, 2, 3, 4]"}, "must be a JSON list of strings"),
        ({"chars": '["ab", "c", " ", "\\n"]'}, "single characters"),
        ({"info": "[1]"}, "'info' is not an object"),
    ],
)
def test_damaged_lm_metadata_names_the_file(
    tmp_path: Path, metadata: dict[str, str], fragment: str
) -> None:
    path = _lm_file(tmp_path / "lm.safetensors", dict(_lm().state_dict()), **metadata)
    with pytest.raises(BionerError) as info:
        load_charlm(path)
    assert str(info.value).startswith(f"{path}: ") and fragment in str(info.value)


@pytest.mark.parametrize("damage", ["shape", "dtype"])
def test_lm_weights_that_do_not_fit_are_named_on_one_line(tmp_path: Path, damage: str) -> None:
    state = dict(_lm().state_dict())
    if damage == "shape":
        state["decoder.bias"] = torch.zeros(2)
        fragment = "decoder.bias is [2], expected [5]"
    else:  # an int tensor was silently cast to float
        state["decoder.bias"] = torch.zeros(5, dtype=torch.int64)
        fragment = "decoder.bias is torch.int64, expected torch.float32"
    path = _lm_file(tmp_path / "lm.safetensors", state)
    with pytest.raises(BionerError) as info:
        load_charlm(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_an_lm_of_the_wrong_direction_is_named(tmp_path: Path) -> None:
    forward = save_charlm(tmp_path / "fwd.safetensors", _lm("forward"), CHARS)
    with pytest.raises(
        BionerError, match=re.escape(f"{forward}: a forward character LM, given as the backward")
    ):
        ContextualStringEmbedding.from_paths(forward, forward)


# ----------------------------------------------------------------------------- --init-from


def test_init_from_must_be_a_bilm_run_or_a_tagger(tmp_path: Path) -> None:
    lm = save_charlm(tmp_path / "lm" / "lm.safetensors", _lm(), CHARS)
    with pytest.raises(BionerError, match="a file; expected a BiLM run"):
        checked_start(lm, "both")
    with pytest.raises(BionerError, match=r"neither a BiLM run .* nor a trained tagger"):
        checked_start(lm.parent, "both")
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "bilm.json").write_text("{}", encoding="utf-8")
    (run / "model" / "weights.safetensors").write_bytes(b"")
    (run / "model" / "meta.json").write_text("[1]", encoding="utf-8")  # Tagger.load names it
    assert checked_start(run, "both") == run / "model"
