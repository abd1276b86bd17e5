"""Timing claims that survive a shared machine: interleaved pairs, CPU clocks, a log-ratio interval.

Two medians taken in separate windows flip when the load changes between them. Here A and B run
as adjacent pairs in ABBA order (A B, B A, A B, ...), so slow drifts hit both sides alike; each
pair gives one ``log(t_A / t_B)`` and the claim is decided on the interval of their mean (see
:mod:`tenfold.core.intervals`). Where the claim is about compute, the clock is this process's CPU
time, which another job on the machine barely moves. Where a deterministic count exists (FLOPs,
bytes moved, simulated stall), that count is the required measure and wall time the soft one:
:func:`count_flops` gives torch's count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenfold.core.errors import BadConfigError
from tenfold.core.intervals import Samples

CLOCKS: dict[str, Callable[[], float]] = {
    "process": time.process_time,  # CPU time of every thread of this process (torch intra-op threads too)
    "thread": time.thread_time,  # CPU time of the calling thread only
    "wall": time.perf_counter,  # elapsed time (the only honest clock where work overlaps I/O or sleeps)
}


@dataclass(frozen=True)
class PairedTiming:
    """Seconds of A and B in each interleaved pair, and the per-pair log ratios log(A / B)."""

    a_seconds: tuple[float, ...]
    b_seconds: tuple[float, ...]
    clock: str

    @property
    def log_ratios(self) -> Samples:
        """Replicates for a claim declared with ``log_ratio=True`` over ``pairs``."""
        return Samples.log_ratios(self.a_seconds, self.b_seconds, labels=[f"pair {i}" for i in range(len(self.a_seconds))])

    @property
    def ratio(self) -> float:
        """Geometric mean of A/B over the pairs."""
        values = self.log_ratios.values
        return math.exp(sum(values) / len(values))

    def to_json(self) -> dict[str, Any]:
        return {"clock": self.clock, "a_seconds": list(self.a_seconds), "b_seconds": list(self.b_seconds),
                "ratio_a_over_b": self.ratio}


def interleaved_timing(
    a: Callable[[], Any],
    b: Callable[[], Any],
    *,
    pairs: int = 20,
    warmup: int = 2,
    clock: str = "process",
    repeat: int = 1,
) -> PairedTiming:
    """Time ``a()`` against ``b()`` in ``pairs`` adjacent pairs, order alternating ABBA, after ``warmup`` of each.

    ``repeat`` calls each function that many times per measurement (for sub-millisecond work).
    """
    if pairs < 2:
        raise BadConfigError(f"interleaved_timing needs at least 2 pairs, got {pairs}")
    if warmup < 0 or repeat < 1:
        raise BadConfigError("interleaved_timing: warmup must be >= 0 and repeat >= 1")
    try:
        now = CLOCKS[clock]
    except KeyError:
        raise BadConfigError(f"unknown clock {clock!r}; use one of {', '.join(CLOCKS)}") from None

    def measure(function: Callable[[], Any]) -> float:
        started = now()
        for _ in range(repeat):
            function()
        return now() - started

    for _ in range(warmup):
        a()
        b()
    a_times, b_times = [], []
    for index in range(pairs):
        if index % 2 == 0:
            a_times.append(measure(a))
            b_times.append(measure(b))
        else:
            b_times.append(measure(b))
            a_times.append(measure(a))
    floor = 1e-9  # a clock tick of zero would make the log ratio infinite
    return PairedTiming(tuple(max(t, floor) for t in a_times), tuple(max(t, floor) for t in b_times), clock)


def count_flops(function: Callable[[], Any]) -> int:
    """Floating-point operations torch counts for one call of ``function`` (matmuls, convolutions, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return int(counter.get_total_flops())
