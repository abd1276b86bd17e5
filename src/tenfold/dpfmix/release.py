"""DPFMixRelease: publish a labelled private set as T noisy Poisson mixtures under (eps, delta)-DP.

    release = DPFMixRelease(eps=1.0, delta=1e-5, m="auto", n_classes=10, seed=0).fit(features, labels)
    release.features  # (T, d) noisy feature mixtures; release.labels  # (T, K) noisy soft labels >= 0

Everything done with the release afterwards (training any number of models) is free post-processing.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.io import atomic_write_bytes
from tenfold.dpfmix.accounting import (
    calibrate_sigma,
    check_privacy_target,
    gdp_mu_from_sigma,
    pld_epsilon,
    warn_if_weak_noise,
)
from tenfold.dpfmix.mixing import clip_rows, poisson_mixing_matrix, split_noise
from tenfold.dpfmix.mstar import UnreachableSweetSpotWarning, closed_form_m


class LargeSamplingRateWarning(UserWarning):
    """p = m/n > 0.5: privacy amplification by subsampling is mostly lost."""


class LargeDeltaWarning(UserWarning):
    """delta >= 1/n: a mechanism that publishes one whole record would meet it."""


@dataclass
class ReleasedData:
    """The public output: noisy mixtures plus every number needed to audit the guarantee."""

    features: np.ndarray  # (T, d)
    labels: np.ndarray  # (T, K) soft labels, or (T, k) noisy regression targets
    eps: float  # PLD epsilon actually achieved (<= the target)
    delta: float
    m: float
    n: int
    releases: int
    sigma: float  # joint noise multiplier
    sigma_x: float
    sigma_y: float
    mu_clt: float  # GDP central-limit mu: theory quantity, not the reported guarantee
    clipped_fraction: float
    interval: float
    accountant: str = "dp-accounting PLD, add/remove, Poisson-subsampled Gaussian x T"
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("features")
        data.pop("labels")
        data["shape_features"] = list(self.features.shape)
        data["shape_labels"] = list(self.labels.shape)
        return data

    def save(self, path: str | Path) -> Path:
        """Write an .npz (features, labels, meta JSON) atomically."""
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            features=self.features.astype(np.float32),
            labels=self.labels.astype(np.float32),
            meta=np.array(json.dumps(self.summary())),
        )
        path = Path(path)
        atomic_write_bytes(path, buffer.getvalue())
        return path


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels in 0..K-1 to one-hot rows (L2 norm 1, so C_y = 1)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise BadInputError(f"labels must be a 1-D array of class indices, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        if not (np.all(np.isfinite(labels)) and np.all(labels == np.round(labels))):
            raise BadInputError("labels must be whole class indices 0..K-1 (found non-integers or NaN)")
        labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise BadInputError(
            f"labels must lie in 0..{n_classes - 1} for n_classes={n_classes}; found {labels.min()}..{labels.max()}"
        )
    out = np.zeros((labels.shape[0], n_classes))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


class DPFMixRelease:
    """Random feature mixup under Gaussian DP: clip, Poisson-mix with weight 1/m, add calibrated noise.

    ``m="auto"`` uses the closed-form sweet spot m* = mu n / sqrt(u* T) (rounded, at least 1).
    ``releases`` defaults to T = n. ``lam`` splits the noise between features and labels.
    Give integer ``labels`` with ``n_classes`` (classification, labels clipped at 0 after noise) or
    float ``targets`` (regression, rows clipped to ``clip_targets``).
    """

    def __init__(
        self,
        eps: float,
        delta: float = 1e-5,
        *,
        m: float | str = "auto",
        releases: int | None = None,
        lam: float = 1.0,
        clip_features: float = 1.0,
        clip_targets: float = 1.0,
        n_classes: int | None = None,
        interval: float = 1e-4,
        seed: int = 0,
    ) -> None:
        self.eps = eps
        self.delta = delta
        self.m = m
        self.releases = releases
        self.lam = lam
        self.clip_features = clip_features
        self.clip_targets = clip_targets
        self.n_classes = n_classes
        self.interval = interval
        self.seed = seed

    def _resolve_m(self, n: int, releases: int) -> float:
        if isinstance(self.m, str):
            if self.m != "auto":
                raise BadConfigError(f"m must be a positive number or 'auto', got {self.m!r}")
            m_star, _ = closed_form_m(self.eps, self.delta, n, releases)
            if n < 2 * m_star:
                warnings.warn(
                    f"n={n} < 2 m*={2 * m_star:.1f}: the sweet spot is not reachable; pass m explicitly",
                    UnreachableSweetSpotWarning,
                    stacklevel=3,
                )
            return float(max(1, round(m_star)))
        m = float(self.m)
        if not (math.isfinite(m) and 0 < m < n):
            raise BadConfigError(f"mixup degree m={self.m} must satisfy 0 < m < n={n}")
        return m

    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray | None = None,
        *,
        targets: np.ndarray | None = None,
    ) -> ReleasedData:
        """Release ``features`` (n, d) with ``labels`` (n,) or ``targets`` (n,) / (n, k); returns the release."""
        check_privacy_target(self.eps, self.delta)
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
            raise BadInputError(f"features must be a 2-D array (n >= 2 records, d >= 1), got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise BadInputError("features contain NaN or infinite values; clean or impute them before release")
        n = x.shape[0]
        if not (self.clip_features > 0 and self.clip_targets > 0):
            raise BadConfigError("clip bounds C_x and C_y must be positive")
        if (labels is None) == (targets is None):
            raise BadInputError("give exactly one of labels= (class indices, with n_classes) or targets= (floats)")
        if labels is not None:
            if self.n_classes is None or int(self.n_classes) < 2:
                raise BadConfigError(
                    "n_classes (K >= 2) must be given for labels: it is public and must not be read off private data"
                )
            y = one_hot(labels, int(self.n_classes))
            y_bound = 1.0
        else:
            y = np.asarray(targets, dtype=np.float64)
            y = y[:, None] if y.ndim == 1 else y
            if y.ndim != 2 or not np.all(np.isfinite(y)):
                raise BadInputError("targets must be a finite 1-D or 2-D float array")
            y, _ = clip_rows(y, self.clip_targets)
            y_bound = self.clip_targets
        if y.shape[0] != n:
            raise BadInputError(f"features have {n} rows but labels/targets have {y.shape[0]}")
        if self.delta >= 1.0 / n:
            warnings.warn(
                f"delta={self.delta:g} >= 1/n={1 / n:.3g}: choose delta well below 1/n", LargeDeltaWarning, stacklevel=2
            )
        releases = n if self.releases is None else int(self.releases)
        if releases < 1:
            raise BadConfigError(f"the number of releases T must be at least 1, got {self.releases!r}")
        m = self._resolve_m(n, releases)
        rate = m / n
        if rate > 0.5:
            warnings.warn(
                f"sampling rate m/n = {rate:.2f} > 0.5: amplification by subsampling is mostly lost",
                LargeSamplingRateWarning,
                stacklevel=2,
            )
        x, clipped = clip_rows(x, self.clip_features)
        sigma = calibrate_sigma(self.eps, self.delta, rate, releases, interval=self.interval)
        warn_if_weak_noise(sigma)
        sigma_x, sigma_y = split_noise(sigma, self.lam)
        rng = np.random.default_rng(self.seed)
        mixing = poisson_mixing_matrix(n, releases, m, rng)
        noisy_x = mixing @ x + rng.normal(0.0, sigma_x * self.clip_features / m, size=(releases, x.shape[1]))
        noisy_y = mixing @ y + rng.normal(0.0, sigma_y * y_bound / m, size=(releases, y.shape[1]))
        if labels is not None:
            noisy_y = np.maximum(noisy_y, 0.0)  # post-processing: costs no privacy
        achieved = pld_epsilon(sigma, rate, releases, self.delta, interval=self.interval)
        return ReleasedData(
            features=noisy_x,
            labels=noisy_y,
            eps=achieved,
            delta=float(self.delta),
            m=m,
            n=n,
            releases=releases,
            sigma=sigma,
            sigma_x=sigma_x,
            sigma_y=sigma_y,
            mu_clt=gdp_mu_from_sigma(sigma, rate, releases),
            clipped_fraction=clipped,
            interval=float(self.interval),
        )
