"""The comparison pipeline: partition MD into tokens, train a language model, generate, and score
its kinetics against the MD reference built by the same map (spec 1.2 steps 2-10)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.mdlm.kinetics import (
    mfpt_error,
    passage_statistics,
    populations,
    total_variation,
    transitions_per_1e5,
)
from tenfold.mdlm.partition import (
    MacrostateMap,
    MarkovModelFit,
    fit_msm,
    min_dwell_filter,
    pcca_lumping,
    transition_based_assignment,
)
from tenfold.mdlm.trajectories import as_dtrajs

TOKEN_KINDS = ("micro", "crisp", "core", "bins")


@dataclass
class StatePartition:
    """Micro and macro state sequences of all walkers at one stride, and the maps between them."""

    stride: int
    micro: list[np.ndarray]
    n_micro: int
    fit: MarkovModelFit | None
    macro_map: MacrostateMap | None
    n_macro: int
    bins: list[np.ndarray] | None = None  # ps-LSTM-like 1-D tokens (already min-dwell filtered)
    info: dict = field(default_factory=dict)

    def n_tokens(self, kind: str) -> int:
        return self.n_micro if kind == "micro" else self.n_macro

    def tokens(self, kind: str) -> list[np.ndarray]:
        """The language model's training alphabet for ``kind`` (unassigned frames removed)."""
        if kind == "micro":
            return self.micro
        if kind == "bins":
            if self.bins is None:
                raise BadConfigError("this partition has no 1-D bin tokens")
            return self.bins
        macro = self.macro(kind, self.micro)
        return [m[m >= 0] for m in macro]

    def macro(self, kind: str, micro: list[np.ndarray]) -> list[np.ndarray]:
        """Macrostate sequences from micro sequences with the map of ``kind`` (crisp or core/TBA)."""
        if self.macro_map is None:
            raise BadConfigError("this partition has no macrostate map")
        if kind == "crisp":
            # microstates outside the active set keep the previous crisp label
            return [transition_based_assignment(self.macro_map.crisp[d]) for d in micro]
        return self.macro_map.core_dtrajs(micro)

    def to_macro(self, kind: str, generated: list[np.ndarray]) -> list[np.ndarray]:
        """Map generated tokens of ``kind`` to the macrostates scored against the reference."""
        if kind == "micro":
            return self.macro("core", generated)
        return list(generated)

    def reference(self, kind: str) -> list[np.ndarray]:
        """MD macrostate sequences made by the same map as the generated ones."""
        if kind == "bins":
            return self.bins
        if kind == "crisp":
            return self.macro("crisp", self.micro)
        return self.macro("core", self.micro)


def build_partition(micro: list[np.ndarray], n_micro: int, *, stride: int = 1, train_walkers: int | None = None,
                    n_macro: int = 4, theta_core: float = 0.9, pcca_lag_frames: int = 10,
                    order_by: np.ndarray | None = None, truth: list[np.ndarray] | None = None) -> StatePartition:
    """Subsample micro sequences by ``stride``; micro MSM on the training walkers; PCCA+ and core sets.

    ``truth`` (per-frame ground-truth basins at stride 1) adds the adjusted Rand index of the crisp map.
    """
    from sklearn.metrics import adjusted_rand_score

    if stride < 1:
        raise BadConfigError(f"stride must be >= 1, got {stride}")
    micro = [d[::stride] for d in as_dtrajs(micro)]
    train = micro[: train_walkers or len(micro)]
    lag = max(1, int(round(pcca_lag_frames / stride)))
    shortest = min(len(d) for d in train)
    if lag >= shortest:
        raise BadInputError(f"the lag ({lag} tokens) is not shorter than the shortest trajectory "
                            f"({shortest} tokens at stride {stride}); use a smaller stride or longer trajectories")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_msm(train, lag, n_states=n_micro)
    macro_map = pcca_lumping(fit, n_macro, theta_core=theta_core, order_by=order_by)
    info = {"stride": stride, "pcca_lag_tokens": lag, "active_states": int(len(fit.active_set)),
            "dropped_states": fit.dropped_states.tolist(), "warnings": [str(w.message) for w in caught],
            "core_microstates": int(np.sum(macro_map.core >= 0)),
            "noncore_fraction": macro_map.noncore_fraction(micro)}
    if truth is not None:
        crisp = np.concatenate([macro_map.crisp[d] for d in micro])
        true = np.concatenate([t[::stride] for t in truth])
        info["adjusted_rand_index"] = float(adjusted_rand_score(true, crisp))
    return StatePartition(stride, micro, n_micro, fit, macro_map, n_macro, info=info)


def bins_partition(bins: list[np.ndarray], n_bins: int, *, stride: int = 1, min_dwell: int = 5) -> StatePartition:
    """ps-LSTM-like tokens: nearest-centre 1-D bins, subsampled, then min-dwell filtered."""
    filtered = [min_dwell_filter(d[::stride], min_dwell) for d in as_dtrajs(bins)]
    return StatePartition(stride, [d[::stride] for d in bins], n_bins, None, None, n_bins, bins=filtered,
                          info={"stride": stride, "min_dwell": min_dwell})


def held_out_seeds(tokens: list[np.ndarray], held_out: list[int], n_chains: int, length: int,
                   seed: int = 0) -> np.ndarray:
    """``n_chains`` seed windows of ``length`` tokens drawn from the held-out walkers only."""
    rng = np.random.default_rng(seed)
    candidates = [w for w in held_out if len(tokens[w]) >= length]
    if not candidates:
        raise BadInputError(f"no held-out walker has {length} tokens for a generation seed")
    rows = []
    for c in range(n_chains):
        d = tokens[candidates[c % len(candidates)]]
        start = int(rng.integers(0, len(d) - length + 1))
        rows.append(d[start:start + length])
    return np.stack(rows)


@dataclass
class KineticsScore:
    """How generated macrostate kinetics compare with the MD reference."""

    error: float
    median_ratio: float
    population_tv: float
    transitions_per_1e5: float
    reference_transitions_per_1e5: float
    n_pairs: int
    excluded_pairs: list
    mfpt: np.ndarray
    populations: np.ndarray
    completed: np.ndarray  # (n, n) completed passages i -> j over all chains
    censored: np.ndarray  # (n, n) passages i -> j cut off by the chain end (dropped from the MFPT)
    bootstrap_interval: tuple[float, float] = (float("nan"), float("nan"))

    def summary(self) -> dict:
        return {"E": self.error, "median_ratio": self.median_ratio, "TV": self.population_tv,
                "transitions_per_1e5": self.transitions_per_1e5, "n_pairs": self.n_pairs,
                "excluded_pairs": self.excluded_pairs, "E_bootstrap_95": list(self.bootstrap_interval),
                "mfpt": self.mfpt, "populations": self.populations, "completed_passages": self.completed,
                "censored_passages": self.censored, "censored_total": int(self.censored.sum())}


@dataclass
class Reference:
    """MD reference kinetics of one partition and token kind."""

    mfpt: np.ndarray
    populations: np.ndarray
    transitions_per_1e5: float
    censored: np.ndarray

    @classmethod
    def from_macro(cls, macro: list[np.ndarray], n_macro: int) -> Reference:
        stats = passage_statistics(macro, n_macro)
        return cls(stats.mfpt(), populations(macro, n_macro), transitions_per_1e5(macro), stats.censored)


def score(generated_macro: list[np.ndarray], reference: Reference, n_macro: int, *, bootstrap: int = 0,
          seed: int = 0) -> KineticsScore:
    """E, median ratio, TV and transition rate of generated macrostate chains against ``reference``."""
    from tenfold.mdlm.kinetics import bootstrap_error

    stats = passage_statistics(generated_macro, n_macro)
    mfpt = stats.mfpt()
    err = mfpt_error(mfpt, reference.mfpt)
    pops = populations(generated_macro, n_macro)
    interval = (float("nan"), float("nan"))
    if bootstrap:
        values = bootstrap_error(stats, reference.mfpt, n_resamples=bootstrap, seed=seed)
        values = values[np.isfinite(values)]
        if values.size:
            interval = (float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975)))
    return KineticsScore(err.error, err.median_ratio, total_variation(pops, reference.populations),
                         transitions_per_1e5(generated_macro), reference.transitions_per_1e5, err.n_pairs,
                         err.excluded_pairs, mfpt, pops, stats.total_counts.astype(np.int64), stats.censored,
                         interval)


def simulate_msm(tokens: list[np.ndarray], n_states: int, seeds: np.ndarray, n_tokens: int, *, lag: int = 1,
                 seed: int = 0) -> list[np.ndarray]:
    """The kinetic gold standard on the same tokens: an MSM at ``lag``, simulated from each seed's last state."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_msm(tokens, lag, n_states=n_states)
    rng = np.random.default_rng(seed)
    chains = []
    for row in np.asarray(seeds):
        start = int(fit.to_active(row[-1:])[0])
        if start < 0:
            start = int(rng.integers(0, len(fit.active_set)))
        steps = int(np.ceil(n_tokens / lag))
        path = np.asarray(fit.msm.simulate(steps, start=start, seed=int(rng.integers(0, 2**31 - 1))))
        chain = fit.active_set[path[1:]]
        chains.append(np.repeat(chain, lag)[:n_tokens] if lag > 1 else chain)
    return chains
