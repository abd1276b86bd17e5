"""Where re-usable artefacts live (pre-trained miniature weights, built benchmark folders).

``$TENFOLD_CACHE`` if set, else ``~/.cache/tenfold``; one sub-folder per method. Results never go
here: they go to ``out/``. A cache entry is only a speed-up and can be deleted at any time.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(name: str) -> Path:
    """The cache folder for ``name`` (not created: writers make it when they write)."""
    root = os.environ.get("TENFOLD_CACHE") or Path.home() / ".cache" / "tenfold"
    return Path(root) / name
