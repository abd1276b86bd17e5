"""Running experiments: each in its own staging folder, published only when it finished.

An experiment writes its figures into a staging folder beside ``out/<name>``; when it returns, result.json is
written there and the folder is renamed to ``out/<name>``. An experiment that raises leaves
nothing behind, and ``run_all`` goes on to the next one.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenfold.core.experiment import Scale, get_experiment
from tenfold.core.io import atomic_directory, mark_output
from tenfold.core.report import read_result, write_result


@dataclass
class RunSummary:
    """What a batch of experiments produced: stored results (as JSON dicts) and errors by name."""

    results: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and all(r.get("all_required_passed", False) for r in self.results)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Set torch's intra-op threads for one experiment and restore them after, so a setting never
    leaks into the next experiment of ``--all``."""
    if threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def is_result_folder(folder: Path) -> bool:
    """Whether ``folder`` is an earlier run's output (it holds result.json), which a rerun may replace whole."""
    return (Path(folder) / "result.json").is_file()


def run_one(name: str, scale: Scale, out: Path, seed: int = 0) -> dict[str, Any]:
    """Run one registered experiment and publish ``out/<name>/``; returns the stored result.json."""
    spec = get_experiment(name)
    scale = Scale.parse(scale)
    settings = spec.settings[scale]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if is_result_folder(out / name):
        # a result folder (also one from before the marker existed, or with a stale figure) is ours to replace
        mark_output(out / name)
    with atomic_directory(out / name) as staging, torch_threads(settings.threads):
        started = time.perf_counter()
        measurements = spec.function(scale=scale, settings=settings, out=staging, seed=seed)
        duration = time.perf_counter() - started
        result = spec.evaluate(scale, seed, measurements)
        write_result(staging, result, paper=spec.paper, duration_s=duration)
    stored = read_result(out / name)
    assert stored is not None
    return stored


def run_many(
    names: list[str],
    scale: Scale,
    out: Path,
    *,
    seed: int = 0,
    resume: bool = False,
    on_start: Any = None,
) -> RunSummary:
    """Run experiments one after another; a failure is recorded and the next one still runs.

    With ``resume``, an experiment whose ``out/<name>/result.json`` already holds the same
    scale and seed is not run again.
    """
    summary = RunSummary()
    for name in names:
        get_experiment(name)  # unknown names fail before anything runs
    for name in names:
        if resume:
            stored = read_result(Path(out) / name)
            if stored and stored.get("scale") == scale.value and stored.get("seed") == seed:
                summary.results.append(stored)
                summary.skipped.append(name)
                continue
        if on_start is not None:
            on_start(name)
        try:
            summary.results.append(run_one(name, scale, out, seed))
        except KeyboardInterrupt:
            raise
        except Exception as error:
            last = traceback.extract_tb(error.__traceback__)[-1:]
            where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last else ""
            summary.failures[name] = f"{type(error).__name__}: {error}{where}"
    return summary
