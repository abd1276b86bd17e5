"""Shared test set-up: one torch thread per test process (xdist runs two), a headless matplotlib."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a core dependency
    pass
