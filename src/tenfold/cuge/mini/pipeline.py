"""CUGE-mini end to end: run the included systems, score their submissions, store the score files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenfold.core.errors import BadInputError
from tenfold.core.io import atomic_write_text
from tenfold.cuge.mini.systems import NORMALISER, SYSTEMS, run_system
from tenfold.cuge.registry import mini_registry
from tenfold.cuge.submission import score_submission


def run_mini(data_dir: str | Path, work_dir: str | Path, *, systems: list[str] | None = None, seed: int = 0,
             progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Write ``work_dir/submissions/<system>/`` and ``work_dir/scores/<system>.json``; returns the scores."""
    registry = mini_registry()
    work_dir = Path(work_dir)
    chosen = list(SYSTEMS) if not systems or systems == ["all"] else systems
    out = []
    for system in chosen:
        folder = run_system(system, data_dir, work_dir / "submissions", seed=seed, progress=progress)
        result = score_submission(folder, data_dir, registry, system=system)
        if system == NORMALISER:
            # The normaliser must score > 0 everywhere, or no dataset could be normalised by it.
            zero = [d for d, v in result.raw.items() if not v > 0]
            if zero:
                raise BadInputError(f"the normaliser {NORMALISER} scored 0 on {', '.join(zero)}; the build is broken")
        record = result.to_json(registry)
        atomic_write_text(work_dir / "scores" / f"{system}.json",
                          json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
        out.append(record)
    return out
