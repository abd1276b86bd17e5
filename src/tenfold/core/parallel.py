"""Independent jobs on the machine's cores: single-threaded worker processes, started by spawn.

Experiments with many independent trainings (attacks, seeds, settings) run faster as one
single-threaded process per core than as one process with torch's intra-op threads, which
oversubscribe a small machine. Workers are spawned, never forked: a fork after torch has started
its thread pool can deadlock, and ``tenfold reproduce --all`` runs many experiments in one process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from tenfold.core.errors import BadConfigError

Job = TypeVar("Job")
Output = TypeVar("Output")


def worker_count(default_max: int = 2) -> int:
    """``TENFOLD_WORKERS`` if set, else one worker per core up to ``default_max``."""
    raw = os.environ.get("TENFOLD_WORKERS")
    if raw is None:
        return max(1, min(default_max, os.cpu_count() or 1))
    try:
        workers = int(raw)
    except ValueError:
        raise BadConfigError(f"TENFOLD_WORKERS={raw!r} is not a whole number; set it to e.g. 1 or 2") from None
    if workers < 1:
        raise BadConfigError(f"TENFOLD_WORKERS={workers}; use at least 1")
    return workers


def thread_count() -> int:
    """Torch threads per worker: ``TENFOLD_THREADS`` if set, else 1."""
    raw = os.environ.get("TENFOLD_THREADS", "1")
    try:
        threads = int(raw)
    except ValueError:
        raise BadConfigError(f"TENFOLD_THREADS={raw!r} is not a whole number") from None
    if threads < 1:
        raise BadConfigError(f"TENFOLD_THREADS={threads}; use at least 1")
    return threads


def _start_worker(threads: int, initializer: Callable[..., None] | None, initargs: Sequence[Any]) -> None:
    import torch

    torch.set_num_threads(threads)
    if initializer is not None:
        initializer(*initargs)


def run_parallel(
    function: Callable[[Job], Output],
    jobs: Iterable[Job],
    *,
    workers: int | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: Sequence[Any] = (),
    cost: Callable[[Job], float] | None = None,
    on_done: Callable[[int, Output], None] | None = None,
) -> list[Output]:
    """``[function(job) for job in jobs]``, computed in worker processes; results keep the jobs' order.

    ``function`` and ``initializer`` must be importable module-level functions (spawned workers
    import them). ``cost`` submits the most expensive jobs first so the workers finish together;
    ``on_done(index, output)`` is called in the parent as each job finishes. With one worker (or
    one job) everything runs in this process, with the same initializer and the caller's torch
    thread setting left as it is.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    jobs = list(jobs)
    workers = worker_count() if workers is None else workers
    threads = thread_count()
    order = sorted(range(len(jobs)), key=lambda i: -cost(jobs[i])) if cost is not None else list(range(len(jobs)))
    results: list[Any] = [None] * len(jobs)
    if workers <= 1 or len(jobs) <= 1:
        if initializer is not None:
            initializer(*initargs)
        for index in order:
            results[index] = function(jobs[index])
            if on_done is not None:
                on_done(index, results[index])
        return results
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)),
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(threads, initializer, tuple(initargs)),
    ) as pool:
        futures = {pool.submit(function, jobs[index]): index for index in order}
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            if on_done is not None:
                on_done(index, results[index])
    return results
