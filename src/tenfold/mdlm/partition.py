"""State partition with deeptime: k-means microstates, a reversible MSM, PCCA+ lumping, core sets.

Recrossing removal comes in two forms: transition-based assignment on PCCA+ core sets
(causal; Buchete-Hummer) and the ps-LSTM min-dwell filter (non-causal). Whatever map is used
must be applied identically to the MD reference and to generated sequences.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.mdlm.trajectories import as_dtrajs, as_walkers


def cluster_microstates(walkers: list[np.ndarray], n_clusters: int, *, seed: int = 0,
                        max_fit_frames: int = 30_000, max_iter: int = 30) -> tuple[list[np.ndarray], np.ndarray]:
    """k-means (deeptime) fitted on at most ``max_fit_frames`` evenly spaced frames, then applied to all;
    returns (dtrajs, centres)."""
    from deeptime.clustering import KMeans

    walkers = as_walkers(walkers)
    if n_clusters < 2:
        raise BadConfigError(f"n_clusters must be >= 2, got {n_clusters}")
    data = np.concatenate(walkers)
    if data.shape[0] < n_clusters:
        raise BadInputError(f"{data.shape[0]} frames cannot make {n_clusters} clusters")
    step = max(1, data.shape[0] // max_fit_frames)
    estimator = KMeans(n_clusters, max_iter=max_iter, fixed_seed=int(seed) + 1, init_strategy="kmeans++", n_jobs=1)
    with warnings.catch_warnings():  # a capped iteration count is a speed choice, not an error
        warnings.filterwarnings("ignore", message="Algorithm did not reach convergence")
        model = estimator.fit(np.ascontiguousarray(data[::step])).fetch_model()
    dtrajs = [model.transform(np.ascontiguousarray(w)).astype(np.int64) for w in walkers]
    return dtrajs, np.asarray(model.cluster_centers)


def nearest_centre_bins(walkers: list[np.ndarray], centres: np.ndarray, column: int = 0) -> list[np.ndarray]:
    """ps-LSTM discretisation: each frame's ``column`` goes to the nearest of the 1-D ``centres``."""
    centres = np.asarray(centres, dtype=float)
    return [np.abs(w[:, column][:, None] - centres[None, :]).argmin(axis=1).astype(np.int64) for w in as_walkers(walkers)]


@dataclass
class MarkovModelFit:
    """A reversible maximum-likelihood MSM on the largest connected set, plus what was dropped."""

    msm: object  # deeptime MarkovStateModel on the active set
    lag: int
    n_states: int
    active_set: np.ndarray  # original state ids kept, in MSM order
    dropped_states: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def to_active(self, states: np.ndarray) -> np.ndarray:
        """Original state ids -> MSM indices (-1 for dropped or unseen states)."""
        lookup = np.full(self.n_states, -1, dtype=np.int64)
        lookup[self.active_set] = np.arange(len(self.active_set))
        states = np.asarray(states)
        inside = (states >= 0) & (states < self.n_states)
        out = np.full(states.shape, -1, dtype=np.int64)
        out[inside] = lookup[states[inside]]
        return out


def fit_msm(dtrajs: list[np.ndarray], lag: int, *, n_states: int | None = None, reversible: bool = True) -> MarkovModelFit:
    """Count at ``lag`` (sliding window), keep the largest connected set, fit a reversible MLE MSM."""
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import MaximumLikelihoodMSM

    dtrajs = as_dtrajs(dtrajs)
    if lag < 1:
        raise BadConfigError(f"lag must be >= 1, got {lag}")
    longest = max(len(d) for d in dtrajs)
    if lag >= longest:
        raise BadConfigError(f"lag {lag} is not shorter than the longest trajectory ({longest} frames); use a smaller lag")
    n = int(n_states if n_states is not None else max(int(d.max()) for d in dtrajs) + 1)
    counts = TransitionCountEstimator(lag, "sliding", n_states=n).fit(dtrajs).fetch_model()
    if counts.count_matrix.sum() == 0:
        raise BadInputError(f"no transitions at lag {lag}; trajectories are too short for this lag")
    largest = counts.submodel_largest(directed=True)
    active = np.asarray(largest.state_symbols, dtype=np.int64)
    visited = np.flatnonzero(counts.count_matrix.sum(axis=0) + counts.count_matrix.sum(axis=1) > 0)
    dropped = np.setdiff1d(visited, active)
    if len(active) < 2:
        raise BadInputError("the largest connected set has fewer than 2 states; the trajectory never returns between states")
    if dropped.size:
        warnings.warn(f"MSM at lag {lag}: {dropped.size} visited states lie outside the largest connected set "
                      f"and were dropped: {dropped.tolist()[:20]}", stacklevel=2)
    msm = MaximumLikelihoodMSM(reversible=reversible, lagtime=lag).fit(largest).fetch_model()
    return MarkovModelFit(msm=msm, lag=lag, n_states=n, active_set=active, dropped_states=dropped)


def implied_timescales(dtrajs: list[np.ndarray], lags: list[int], n_timescales: int = 3) -> np.ndarray:
    """Slowest implied timescales (in frames) of MSMs at each lag; shape (len(lags), n_timescales)."""
    out = np.full((len(lags), n_timescales), np.nan)
    for row, lag in enumerate(lags):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_msm(dtrajs, lag)
        ts = np.asarray(fit.msm.timescales(min(n_timescales, fit.msm.n_states - 1)))
        out[row, : len(ts)] = ts
    return out


def chapman_kolmogorov(dtrajs: list[np.ndarray], lag: int, n_sets: int, multiples: int = 4) -> dict[str, np.ndarray]:
    """Chapman-Kolmogorov test (deeptime): predicted vs estimated self-transition of each PCCA+ set.

    Returns {"lagtimes", "predictions", "estimates"} with the last two of shape (multiples+1, n_sets).
    """
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import MaximumLikelihoodMSM

    dtrajs = as_dtrajs(dtrajs)
    base = fit_msm(dtrajs, lag)
    n = base.n_states
    models = []
    for k in range(1, multiples + 1):
        counts = TransitionCountEstimator(k * lag, "sliding", n_states=n).fit(dtrajs).fetch_model()
        counts = counts.submodel(base.active_set)
        models.append(MaximumLikelihoodMSM(reversible=True, lagtime=k * lag).fit(counts).fetch_model())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = models[0].ck_test(models, n_sets)
    return {
        "lagtimes": np.asarray(test.lagtimes),
        "predictions": np.array([np.diag(p) for p in test.predictions]),
        "estimates": np.array([np.diag(e) for e in test.estimates]),
    }


@dataclass
class MacrostateMap:
    """PCCA+ lumping of microstates: memberships, a crisp map and core sets, ordered by ``order_by``."""

    memberships: np.ndarray  # (n_micro, n_macro); rows of dropped states are zero
    crisp: np.ndarray  # (n_micro,) macro label, -1 for states outside the active set
    core: np.ndarray  # (n_micro,) macro label where membership >= theta_core, else -1
    theta_core: float

    @property
    def n_macro(self) -> int:
        return int(self.memberships.shape[1])

    def crisp_dtrajs(self, dtrajs: list[np.ndarray]) -> list[np.ndarray]:
        """Crisp macrostate of every frame (-1 for microstates outside the active set)."""
        return [self.crisp[d] for d in as_dtrajs(dtrajs)]

    def core_dtrajs(self, dtrajs: list[np.ndarray]) -> list[np.ndarray]:
        """Transition-based assignment on the core sets (frames before the first core hit are -1)."""
        return [transition_based_assignment(self.core[d]) for d in as_dtrajs(dtrajs)]

    def noncore_fraction(self, dtrajs: list[np.ndarray]) -> float:
        """Fraction of frames whose microstate is in no core set."""
        cat = np.concatenate(as_dtrajs(dtrajs))
        return float(np.mean(self.core[cat] < 0))


def pcca_lumping(fit: MarkovModelFit, n_macro: int, *, theta_core: float = 0.9,
                 order_by: np.ndarray | None = None) -> MacrostateMap:
    """PCCA+ into ``n_macro`` sets; cores are microstates with membership >= ``theta_core``.

    ``order_by`` (one value per original microstate, e.g. the mean slow coordinate) orders the
    macrostates so labels are reproducible. Fails loudly when a set has no core microstate.
    """
    if n_macro < 2:
        raise BadConfigError(f"n_macro must be >= 2, got {n_macro}")
    n_active = len(fit.active_set)
    if n_macro >= n_active:
        raise BadConfigError(f"n_macro={n_macro} must be smaller than the {n_active} active microstates")
    if not 0.0 < theta_core <= 1.0:
        raise BadConfigError(f"theta_core must be in (0, 1], got {theta_core}")
    try:
        pcca = fit.msm.pcca(n_macro)
    except Exception as error:  # deeptime raises plain ValueErrors on degenerate spectra
        raise BadInputError(f"PCCA+ could not find {n_macro} metastable sets: {error}") from None
    chi = np.asarray(pcca.memberships)
    memberships = np.zeros((fit.n_states, n_macro))
    memberships[fit.active_set] = chi
    if order_by is not None:
        weights = memberships / np.maximum(memberships.sum(axis=0, keepdims=True), 1e-12)
        centre = np.nansum(weights * np.nan_to_num(np.asarray(order_by, dtype=float))[:, None], axis=0)
        memberships = memberships[:, np.argsort(centre)]
    active_mask = memberships.sum(axis=1) > 0
    crisp = np.where(active_mask, memberships.argmax(axis=1), -1)
    best = memberships.max(axis=1)
    core = np.where(active_mask & (best >= theta_core), crisp, -1)
    empty = [j for j in range(n_macro) if not np.any(core == j)]
    if empty:
        q = np.quantile(best[active_mask], [0.1, 0.5, 0.9])
        per_set = [float(memberships[:, j].max()) for j in range(n_macro)]
        raise BadInputError(
            f"core sets {empty} are empty at theta_core={theta_core}: the largest membership per set is "
            f"{np.round(per_set, 3).tolist()} (membership quantiles 10/50/90%: {np.round(q, 3).tolist()}); "
            f"lower theta_core below {min(per_set):.2f} or ask for fewer macrostates")
    return MacrostateMap(memberships=memberships, crisp=crisp.astype(np.int64), core=core.astype(np.int64),
                         theta_core=theta_core)


def transition_based_assignment(core_labels: np.ndarray) -> np.ndarray:
    """m[t] = core label if in a core, else m[t-1]; -1 before the first core hit (vectorised)."""
    labels = np.asarray(core_labels, dtype=np.int64)
    if labels.size == 0:
        return labels.copy()
    index = np.where(labels >= 0, np.arange(labels.size), 0)
    np.maximum.accumulate(index, out=index)
    out = labels[index]
    # positions before the first core hit point at index 0, which may itself be non-core (-1): kept as -1
    return out


def min_dwell_filter(labels: np.ndarray, threshold: int) -> np.ndarray:
    """ps-LSTM recrossing removal: a run shorter than ``threshold`` frames is split at its midpoint,
    the first half joining the previous run and the second half the next one (one pass, non-causal)."""
    labels = np.asarray(labels, dtype=np.int64)
    if threshold < 1:
        raise BadConfigError(f"min-dwell threshold must be >= 1, got {threshold}")
    if labels.size == 0:
        return labels.copy()
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [labels.size]]))
    values = labels[starts]
    if len(values) == 1:
        return labels.copy()
    out = labels.copy()
    for r in np.flatnonzero(lengths < threshold):
        s, n = starts[r], lengths[r]
        if r == 0:
            out[s:s + n] = values[1]
        elif r == len(values) - 1:
            out[s:s + n] = values[r - 1]
        else:
            half = n // 2
            out[s:s + half] = values[r - 1]
            out[s + half:s + n] = values[r + 1]
    return out
