"""Kinetic observables of discrete trajectories: first-passage times, populations, transition counts,
and the error score E = mean |ln(MFPT_gen / MFPT_ref)| used to judge generated trajectories (spec 1.4)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.mdlm.trajectories import as_dtrajs


def passage_times(dtraj: np.ndarray, source: int, target: int) -> tuple[np.ndarray, int]:
    """First-passage times source -> target in one discrete trajectory, and the censored count.

    The clock starts at the first frame of an entry into ``source`` after the last visit to
    ``target`` (or at the start, if there) and stops at the first frame in ``target``. Frames in
    other states (or -1, unassigned) neither start nor stop it.
    """
    if source == target:
        raise BadConfigError("source and target must differ")
    d = np.asarray(dtraj)
    times = np.flatnonzero((d == source) | (d == target))
    if times.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    is_target = d[times] == target
    run_start = np.concatenate([[True], is_target[1:] != is_target[:-1]])
    starts = times[run_start]
    kinds = is_target[run_start]
    # a source run followed by a target run is one completed passage
    completed = (~kinds[:-1]) & kinds[1:]
    durations = starts[1:][completed] - starts[:-1][completed]
    censored = int(not kinds[-1])  # the chain ends inside a source-started passage
    return durations.astype(np.int64), censored


@dataclass
class PassageStatistics:
    """Per-chain sums and counts of first-passage times between every ordered pair of states."""

    sums: np.ndarray  # (chains, n, n) total passage time
    counts: np.ndarray  # (chains, n, n) completed passages
    censored: np.ndarray  # (n, n) passages cut off by the chain end

    def mfpt(self, weights: np.ndarray | None = None) -> np.ndarray:
        """MFPT matrix (frames); NaN where no passage completed (never 0 or inf)."""
        w = np.ones(self.sums.shape[0]) if weights is None else weights
        total = np.tensordot(w, self.sums, axes=1)
        count = np.tensordot(w, self.counts, axes=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = total / count
        out[count == 0] = np.nan
        np.fill_diagonal(out, np.nan)
        return out

    @property
    def total_counts(self) -> np.ndarray:
        return self.counts.sum(axis=0)


def passage_statistics(dtrajs: list[np.ndarray], n_states: int) -> PassageStatistics:
    """Passage sums/counts for all ordered pairs over each chain (states outside 0..n-1 ignored)."""
    dtrajs = as_dtrajs(dtrajs, allow_unassigned=True)
    if n_states < 2:
        raise BadConfigError(f"need at least 2 states, got {n_states}")
    sums = np.zeros((len(dtrajs), n_states, n_states))
    counts = np.zeros((len(dtrajs), n_states, n_states))
    censored = np.zeros((n_states, n_states), dtype=np.int64)
    for c, d in enumerate(dtrajs):
        for i in range(n_states):
            for j in range(n_states):
                if i == j:
                    continue
                times, cut = passage_times(d, i, j)
                sums[c, i, j] = times.sum()
                counts[c, i, j] = times.size
                censored[i, j] += cut
    return PassageStatistics(sums=sums, counts=counts, censored=censored)


def mfpt_matrix(dtrajs: list[np.ndarray], n_states: int) -> np.ndarray:
    """MFPT (frames) between every ordered pair of states; NaN where no passage completed."""
    return passage_statistics(dtrajs, n_states).mfpt()


@dataclass
class MfptError:
    """E = mean |ln(gen/ref)| over pairs defined in both; the median ratio; and the pairs left out."""

    error: float
    median_ratio: float
    n_pairs: int
    excluded_pairs: list[tuple[int, int]]


def mfpt_error(mfpt_generated: np.ndarray, mfpt_reference: np.ndarray) -> MfptError:
    """Error score over the ordered pairs where both MFPTs are defined (NaN-free, > 0)."""
    gen = np.asarray(mfpt_generated, dtype=float)
    ref = np.asarray(mfpt_reference, dtype=float)
    if gen.shape != ref.shape or gen.ndim != 2 or gen.shape[0] != gen.shape[1]:
        raise BadInputError(f"MFPT matrices must be square and equal in shape, got {gen.shape} and {ref.shape}")
    off = ~np.eye(gen.shape[0], dtype=bool)
    ok = off & np.isfinite(gen) & np.isfinite(ref) & (gen > 0) & (ref > 0)
    excluded = [(int(i), int(j)) for i, j in zip(*np.nonzero(off & ~ok), strict=True)]
    if not ok.any():
        return MfptError(float("nan"), float("nan"), 0, excluded)
    log_ratio = np.log(gen[ok] / ref[ok])
    return MfptError(float(np.mean(np.abs(log_ratio))), float(np.exp(np.median(log_ratio))), int(ok.sum()), excluded)


def bootstrap_error(generated: PassageStatistics, mfpt_reference: np.ndarray, *, n_resamples: int = 200,
                    seed: int = 0) -> np.ndarray:
    """Bootstrap distribution of E over generated chains (resampled with replacement)."""
    rng = np.random.default_rng(seed)
    n = generated.sums.shape[0]
    values = np.empty(n_resamples)
    for b in range(n_resamples):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        values[b] = mfpt_error(generated.mfpt(weights), mfpt_reference).error
    return values


def populations(dtrajs: list[np.ndarray], n_states: int) -> np.ndarray:
    """Fraction of assigned frames in each state (unassigned -1 frames are not counted)."""
    cat = np.concatenate(as_dtrajs(dtrajs, allow_unassigned=True))
    cat = cat[(cat >= 0) & (cat < n_states)]
    if cat.size == 0:
        return np.full(n_states, np.nan)
    return np.bincount(cat, minlength=n_states) / cat.size


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """TV = 1/2 sum |p - q|."""
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())


def transitions_per_1e5(dtrajs: list[np.ndarray]) -> float:
    """Changes of assigned state per 10^5 assigned frames (the ps-LSTM kinetics plot)."""
    changes = 0
    frames = 0
    for d in as_dtrajs(dtrajs, allow_unassigned=True):
        d = d[d >= 0]
        frames += d.size
        changes += int(np.count_nonzero(np.diff(d)))
    return 1e5 * changes / max(frames, 1)


def check_chain_length(chain_length: int, mfpt_reference: np.ndarray) -> bool:
    """Warn (and return False) when chains are shorter than 5x the largest reference MFPT."""
    largest = np.nanmax(mfpt_reference) if np.isfinite(mfpt_reference).any() else np.nan
    if np.isfinite(largest) and chain_length < 5 * largest:
        warnings.warn(f"chains of {chain_length} tokens are shorter than 5x the largest reference MFPT "
                      f"({largest:.0f}); long passages are censored and MFPTs biased low", stacklevel=2)
        return False
    return True


def check_resolution(dtrajs: list[np.ndarray]) -> float:
    """Mean dwell (tokens) in assigned states; warns below 3 tokens (the stride is too coarse)."""
    dwell = 1e5 / max(transitions_per_1e5(dtrajs), 1e-12)
    if dwell < 3:
        warnings.warn(f"mean dwell is {dwell:.2f} tokens (< 3): the temporal resolution is too coarse "
                      "for the kinetics to be learned; use a smaller stride", stacklevel=2)
    return float(dwell)


def msm_mfpt_between_sets(fit, sets: list[np.ndarray]) -> np.ndarray:
    """Analytic MSM MFPT (frames; deeptime multiplies by the lag) between sets of original microstate ids."""
    n = len(sets)
    out = np.full((n, n), np.nan)
    active = [fit.to_active(np.asarray(s)) for s in sets]
    active = [a[a >= 0] for a in active]
    for i in range(n):
        for j in range(n):
            if i != j and active[i].size and active[j].size:
                out[i, j] = float(fit.msm.mfpt(active[i], active[j]))
    return out
