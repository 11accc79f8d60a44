"""`bioner annotate --engine ray`: the same pipeline as Ray tasks on a local Ray.

Checks that can fail: Ray's output equals the local engine's byte for byte and in input order
(also across several windows of batches), the model reaches Ray's workers through the object
store (not by path), and engine options are validated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from typer.testing import CliRunner

from bioner.annotation.ray_engine import annotate_ray, model_payload
from bioner.cli.app import _register_commands, app
from bioner.data.document import Document
from bioner.errors import BionerError
from model_fixture import VARIANT_EXAMPLE, variant_copy

pytest_plugins = ["conftest_model"]

LINES = [
    f"{gene} and {disease} in line {i}" + " filler" * (i % 5)
    for i, (gene, disease) in enumerate(
        zip(
            ["BRCA1", "TP53", "KRAS", "nothing"] * 6,
            ["asthma", "melanoma", "diabetes", "here"] * 6,
            strict=True,
        )
    )
]


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def run(*args: str):
    _register_commands()
    return CliRunner().invoke(app, list(args))


def test_ray_engine_equals_the_local_engine(tiny_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "many.txt"
    source.write_text("\n".join(LINES) + "\n")
    common = ["annotate", "-m", str(tiny_model), str(source), "--lines", "--to", "jsonl"]
    local = run(*common, "--batch-size", "3", "--tokens")
    remote = run(*common, "--batch-size", "3", "--tokens", "--engine", "ray", "--workers", "2")
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout
    records = [json.loads(line) for line in remote.stdout.splitlines()]
    assert [r["id"] for r in records] == [f"{source}:{i}" for i in range(1, len(LINES) + 1)]
    assert sum(len(r["spans"]) for r in records) >= 30
    assert all("sentences" in r for r in records)


def test_several_windows_keep_input_order(tiny_model: Path) -> None:
    documents = [Document(id=f"d{i}", text=text) for i, text in enumerate(LINES)]
    annotated = list(
        annotate_ray(str(tiny_model), iter(documents), workers=2, batch_size=2, window=3)
    )
    assert [d.id for d in annotated] == [d.id for d in documents]
    for document in annotated:  # tokens come back (tokens=True) and spans sit on them
        starts = {t.start for t in document.tokens}
        ends = {t.end for t in document.tokens}
        assert all(document.text[t.start : t.end] == t.text for t in document.tokens)
        assert all(s.start in starts and s.end in ends for s in document.spans)
    genes = [s for d in annotated for s in d.spans if s.label == "Gene"]
    assert len(genes) >= 12


def test_model_travels_as_bytes_with_a_content_fingerprint(tiny_model: Path) -> None:
    fingerprint, files = model_payload(str(tiny_model))
    assert set(files) == {"config.json", "vocab.json", "meta.json", "weights.safetensors"}
    assert files["weights.safetensors"] == (tiny_model / "weights.safetensors").read_bytes()
    assert model_payload(str(tiny_model))[0] == fingerprint


def test_engine_options_are_checked(tiny_model: Path) -> None:
    result = run("annotate", "-m", str(tiny_model), "text", "--engine", "spark")
    assert isinstance(result.exception, BionerError)
    assert "--engine must be local or ray" in str(result.exception)
    result = run("annotate", "-m", str(tiny_model), "text", "--ray-address", "auto")
    assert isinstance(result.exception, BionerError)
    assert "--ray-address needs --engine ray" in str(result.exception)
    with pytest.raises(BionerError, match="at least 1"):
        next(annotate_ray(str(tiny_model), iter([]), workers=0))


def test_ray_workers_apply_the_chosen_rule_sets(tiny_model: Path, tmp_path: Path) -> None:
    """`postprocess` reaches the Ray workers: a renamed variant model's span gets retyped."""
    model = variant_copy(tiny_model, tmp_path / "variant-model")
    text = VARIANT_EXAMPLE

    def labels(postprocess: list[str] | None) -> set[tuple[str, str]]:
        (document,) = annotate_ray(
            str(model), iter([Document(id="d", text=text)]), workers=1, postprocess=postprocess
        )
        return {(text[s.start : s.end], s.label) for s in document.spans}

    assert ("Asp506Gly", "DNAMutation") in labels(None)
    assert ("Asp506Gly", "ProteinMutation") in labels(["variants"])


def test_reading_stays_within_the_window_of_the_writing(tiny_model: Path) -> None:
    """Memory is bounded: no more than `window` batches are read ahead of what is written."""
    pulled = 0

    def documents() -> Iterator[Document]:
        nonlocal pulled
        for index, text in enumerate(LINES):
            pulled += 1
            yield Document(id=f"d{index}", text=text)

    ahead = []
    stream = annotate_ray(str(tiny_model), documents(), workers=2, batch_size=1, window=3)
    for written, _document in enumerate(stream, 1):
        ahead.append(pulled - written)
    assert written == len(LINES)
    # One batch is one document here; the batcher reads one document past a full batch.
    assert max(ahead) <= 3 + 1
    assert max(ahead) >= 2  # and it does read ahead: two workers are kept busy


def test_a_failing_task_is_one_clear_error(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that fails on the cluster ends the run with one line, not Ray's traceback."""
    import bioner.annotation.ray_engine as engine

    fingerprint, files = model_payload(str(tiny_model))
    broken = {**files, "weights.safetensors": b"not a safetensors file"}
    monkeypatch.setattr(engine, "model_payload", lambda model: (fingerprint + "x", broken))
    documents = iter([Document(id="d", text=LINES[0])])
    with pytest.raises(BionerError, match=r"^Ray task for batch 0 failed: \w+") as error:
        list(annotate_ray(str(tiny_model), documents, workers=1))
    assert "\n" not in str(error.value)
