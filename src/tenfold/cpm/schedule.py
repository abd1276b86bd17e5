"""InfMoE's expert ordering and an exact event simulator of the load/compute pipeline (report 6.2).

Loading an expert costs beta (bytes / link bandwidth), computing it costs alpha_i (proportional to its
tokens). With K device slots and one serial copy engine, an order hides every load when, for each
position t (1-based), the compute before it covers the loads: sum_{i<t} alpha_i >= (t - 1) * beta.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from tenfold.core.errors import BadConfigError, BadInputError


@dataclass(frozen=True)
class Timeline:
    """Simulated pipeline: when each load and compute ends, the makespan and the stall."""

    order: tuple[int, ...]
    load_end: tuple[float, ...]
    compute_end: tuple[float, ...]
    makespan: float
    stall: float  # makespan beyond the unavoidable beta + sum(alpha)


def _check(alphas: list[float], beta: float, slots: int) -> None:
    if slots < 1:
        raise BadConfigError(f"K={slots} device slots; the pool needs room for at least one expert")
    if beta < 0 or any(a < 0 for a in alphas):
        raise BadInputError("load and compute times must be >= 0")


def simulate(alphas: list[float], order: list[int] | tuple[int, ...], beta: float, slots: int) -> Timeline:
    """Serial copy engine; load j waits for its slot (freed when compute j-K ends); compute j waits for load j
    and compute j-1."""
    _check(alphas, beta, slots)
    if sorted(order) != sorted(set(order)) or any(not 0 <= i < len(alphas) for i in order):
        raise BadInputError(f"order {order} is not a set of distinct expert indices")
    load_end: list[float] = []
    compute_end: list[float] = []
    copy_free = 0.0
    for j, expert in enumerate(order):
        slot_free = compute_end[j - slots] if j >= slots else 0.0
        done = max(copy_free, slot_free) + beta
        copy_free = done
        load_end.append(done)
        start = max(done, compute_end[j - 1] if j else 0.0)
        compute_end.append(start + alphas[expert])
    makespan = compute_end[-1] if compute_end else 0.0
    ideal = (beta + sum(alphas[i] for i in order)) if order else 0.0
    return Timeline(tuple(order), tuple(load_end), tuple(compute_end), makespan, max(0.0, makespan - ideal))


def index_order(alphas: list[float]) -> list[int]:
    """Experts with tokens, in index order (what the public InfMoE snapshot runs)."""
    return [i for i, a in enumerate(alphas) if a > 0]


def largest_first_order(alphas: list[float]) -> list[int]:
    """Experts with tokens by decreasing compute: optimal when K = 2 (only the last expert's deficit is free)."""
    return sorted((i for i, a in enumerate(alphas) if a > 0), key=lambda i: (-alphas[i], i))


def best_of_two_order(alphas: list[float], beta: float, slots: int) -> list[int]:
    """An engine option, not the paper's rule: the better (by :func:`simulate`) of :func:`infmoe_greedy_order`
    and :func:`largest_first_order`.

    The InfMoE bound rule assumes K loads can run ahead of compute; with K = 2 only one can, every stall is
    max(0, beta - alpha_j) whatever the order except the last, and largest-first is optimal (brute-force tested).
    Because it keeps whichever order simulates faster, it is never evidence for the InfMoE rule itself.
    """
    candidates = [infmoe_greedy_order(alphas, beta, slots), largest_first_order(alphas)]
    return min(candidates, key=lambda order: simulate(alphas, order, beta, slots).makespan)


def infmoe_greedy_order(alphas: list[float], beta: float, slots: int) -> list[int]:
    """InfMoE-style greedy order over experts with tokens (zero-token experts are never loaded).

    First the largest expert (its compute hides the most loads); then at each position t pick, among the
    experts whose cumulative compute lands in [t*beta, (t+K)*beta], the smallest (keep big ones in reserve);
    if none reaches t*beta take the largest; if all that reach it overshoot, take the smallest of those.
    """
    _check(alphas, beta, slots)
    remaining = sorted((i for i, a in enumerate(alphas) if a > 0), key=lambda i: (-alphas[i], i))
    if not remaining:
        return []
    order = [remaining.pop(0)]
    total = alphas[order[0]]
    while remaining:
        t = len(order) + 1  # 1-based position of the expert whose load the next compute must hide
        low, high = t * beta, (t + slots) * beta
        reaching = [i for i in remaining if total + alphas[i] >= low]
        if not reaching:
            choice = max(remaining, key=lambda i: (alphas[i], -i))
        else:
            inside = [i for i in reaching if total + alphas[i] <= high]
            choice = min(inside or reaching, key=lambda i: (alphas[i], i))
        remaining.remove(choice)
        order.append(choice)
        total += alphas[choice]
    return order


# Engine schedules by name: the paper's rule, the public snapshot's index order, and the engine's own
# "best of two" option (kept under its own name so it is never mistaken for the rule).
SCHEDULES = ("infmoe", "index", "best-of-two")


def order_for(schedule: str, alphas: list[float], beta: float, slots: int) -> list[int]:
    """The order of the experts with tokens under the named schedule (see :data:`SCHEDULES`)."""
    if schedule == "infmoe":
        return infmoe_greedy_order(alphas, beta, slots)
    if schedule == "index":
        _check(alphas, beta, slots)
        return index_order(alphas)
    if schedule == "best-of-two":
        return best_of_two_order(alphas, beta, slots)
    raise BadConfigError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")


def best_order(alphas: list[float], beta: float, slots: int) -> Timeline:
    """Brute force over all orders of the non-empty experts (n <= 8): the optimum the greedy rule is tested against."""
    experts = index_order(alphas)
    if len(experts) > 8:
        raise BadConfigError(f"brute force over {len(experts)} experts is too slow; use n <= 8")
    best: Timeline | None = None
    for perm in itertools.permutations(experts):
        timeline = simulate(alphas, perm, beta, slots)
        if best is None or timeline.makespan < best.makespan - 1e-12:
            best = timeline
    return best if best is not None else simulate(alphas, [], beta, slots)
