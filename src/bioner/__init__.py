"""bioner: biomedical named-entity recognition with the BiLSTM-CRF family of models.

The names a script needs are importable from here (`from bioner import Tagger`); they load
on first use, so `import bioner` stays instant and does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first access, PEP 562).
_EXPORTS = {
    "Tagger": "bioner.tagger",
    "annotate_stream": "bioner.annotation.pipeline",
    "Document": "bioner.data.document",
    "Span": "bioner.data.document",
    "read_documents": "bioner.data.formats",
    "write_documents": "bioner.data.formats",
    "evaluate_documents": "bioner.evaluation",
    "BionerError": "bioner.errors",
    "InputFormatError": "bioner.errors",
}

__all__ = [
    "BionerError",
    "Document",
    "InputFormatError",
    "Span",
    "Tagger",
    "__version__",
    "annotate_stream",
    "evaluate_documents",
    "read_documents",
    "write_documents",
]

if TYPE_CHECKING:
    from bioner.annotation.pipeline import annotate_stream
    from bioner.data.document import Document, Span
    from bioner.data.formats import read_documents, write_documents
    from bioner.errors import BionerError, InputFormatError
    from bioner.evaluation import evaluate_documents
    from bioner.tagger import Tagger


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bioner' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
