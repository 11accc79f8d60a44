"""Process-wide runtime setup for a run: seeds, the compute device and the CPU thread count.

Results are comparable across runs only when every generator (Python, NumPy, torch CPU and
CUDA) starts from the config's seed, and the device and thread count are the two other
settings that change speed (and, on CUDA, sometimes the last bits of a result).
"""

from __future__ import annotations

import random

import numpy as np
import torch

from bioner.errors import BionerError


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, NumPy's global generator and torch (CPU and every CUDA device)."""
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds all CUDA devices


def select_device(name: str) -> torch.device:
    """'auto' → CUDA when available, else CPU; 'cuda' without a GPU is a BionerError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise BionerError(f"unknown device {name!r} (expected 'auto', 'cpu' or 'cuda')")
    return usable_device(name)


def usable_device(device: str | torch.device) -> torch.device:
    """The torch device named (a str such as 'cuda:1', or a torch.device), once this PyTorch
    can use it; else a BionerError before any loading: torch's own errors for a misspelt name
    or a missing GPU surface deep inside `Module.to` (an AssertionError)."""
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError):
        raise BionerError(
            f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from None
    if target.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise BionerError(f"device {str(device)!r}: this PyTorch sees no CUDA GPU")
        if target.index is not None and target.index >= count:
            raise BionerError(f"device {str(device)!r}: this PyTorch sees {count} CUDA GPU(s)")
    if target.type == "mps" and not torch.backends.mps.is_available():
        raise BionerError(f"device {str(device)!r}: MPS is not available to this PyTorch")
    return target


def configure_threads(num_threads: int | None) -> int:
    """Set torch's intra-op CPU threads (None keeps the default); return the count in use."""
    if num_threads is not None:
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        torch.set_num_threads(num_threads)
    return torch.get_num_threads()
