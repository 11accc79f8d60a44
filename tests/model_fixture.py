"""A tiny real Tagger for end-to-end tests of annotation, workers and the service.

One job: build, briefly train and save a small model (two entity types) in about a second, so
tests exercise the real load → tokenize → predict → write path instead of a mock. Training
runs a fixed number of Adam steps on a handful of generated sentences with a fixed seed; the
model learns the gene and disease names well enough to tag them in new sentences.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import torch

from bioner.config import load_config
from bioner.data.document import Document
from bioner.tagger import Tagger

GENES = ["BRCA1", "TP53", "EGFR", "KRAS"]
DISEASES = ["asthma", "diabetes", "melanoma", "leukemia"]
FILLER = ["the", "patients", "with", "show", "increased", "levels", "of", "in", "and", "no"]

#: A sentence the trained fixture tags with at least one Gene and one Disease.
EXAMPLE = "Patients with melanoma show increased levels of BRCA1 and TP53."
#: A sentence in which `variant_copy` models tag `Asp506Gly` as DNAMutation.
VARIANT_EXAMPLE = "Patients with melanoma show the Asp506Gly change in BRCA1."


def training_documents(count: int = 40, seed: int = 3) -> list[Document]:
    """Short tagged sentences mixing filler words with gene and disease names."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        words: list[str] = []
        tags: list[str] = []
        for _ in range(rng.randint(1, 3)):
            for _ in range(rng.randint(1, 3)):
                words.append(rng.choice(FILLER))
                tags.append("O")
            kind, pool = rng.choice([("Gene", GENES), ("Disease", DISEASES)])
            words.append(rng.choice(pool))
            tags.append(f"B-{kind}")
        words.append(".")
        tags.append("O")
        documents.append(Document.from_tokens(f"t{index}", [words], [tags]))
    return documents


def build_tiny_tagger(steps: int = 25, seed: int = 0) -> Tagger:
    """A small BiLSTM-CRF trained for `steps` Adam steps on `training_documents()`."""
    torch.manual_seed(seed)
    config = load_config(
        "saber-baseline",
        [
            "model.embedder.word.dim=12",
            "model.embedder.char.char_dim=6",
            "model.embedder.char.hidden=6",
            "model.encoder.hidden=12",
            "model.encoder.layers=1",
            "model.embedder.dropout=0.0",
        ],
    )
    documents = training_documents()
    tagger = Tagger.build(config, {"default": documents})
    encoded = tagger.encode(documents, "default")
    batches = list(tagger.batches(encoded, batch_size=len(encoded), bucket=False))
    optimizer = torch.optim.Adam(tagger.model.parameters(), lr=0.05)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest on a shared machine
    try:
        tagger.model.train()
        for _ in range(steps):
            for batch in batches:
                optimizer.zero_grad()
                tagger.model.loss(batch, "default").backward()
                optimizer.step()
        tagger.model.eval()
    finally:
        torch.set_num_threads(threads)
    tagger.meta["name"] = "tiny-test-model"
    return tagger


def save_tiny_model(directory: Path) -> Path:
    """Train the tiny model and save it as a model directory at `directory`."""
    return build_tiny_tagger().save(directory)


def variant_copy(model: Path, folder: Path, postprocess: list[str] | None = None) -> Path:
    """A copy of the tiny model whose types are renamed ProteinMutation (Gene) and
    DNAMutation (Disease), with `postprocess` as its rule sets; it tags the unknown word
    `Asp506Gly` in `VARIANT_EXAMPLE` as DNAMutation, which the variant rules retype.
    """
    shutil.copytree(model, folder)
    vocab = json.loads((folder / "vocab.json").read_text())
    vocab["tags"] = {
        head: [t.replace("Gene", "ProteinMutation").replace("Disease", "DNAMutation") for t in tags]
        for head, tags in vocab["tags"].items()
    }
    (folder / "vocab.json").write_text(json.dumps(vocab))
    config = json.loads((folder / "config.json").read_text())
    config["model"]["postprocess"] = postprocess or []
    (folder / "config.json").write_text(json.dumps(config))
    return folder
