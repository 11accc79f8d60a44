"""Annotating real text at scale: inputs → documents → batched predictions → writers.

`pipeline` discovers and reads inputs lazily and annotates them in bounded batches
(`annotate_stream`), `parallel` does the same with N worker processes that each load the model
from its path, `output` writes the annotated stream in any format, and `terminal` renders a
colour-highlighted view. The `bioner annotate` command and the HTTP service are thin layers on
top of these.
"""

from bioner.annotation.pipeline import (
    Failure,
    Source,
    annotate_stream,
    iter_documents,
    resolve_sources,
)

__all__ = ["Failure", "Source", "annotate_stream", "iter_documents", "resolve_sources"]
