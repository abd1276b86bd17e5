"""DPFMixRelease: publish a labelled private set as T noisy Poisson mixtures under (eps, delta)-DP.

    release = DPFMixRelease(eps=1.0, delta=1e-5, m="auto", n_classes=10).fit(features, labels)
    release.features  # (T, d) noisy feature mixtures; release.labels  # (T, K) noisy soft labels >= 0

Everything done with the release afterwards (training any number of models) is free post-processing.

What keeps the guarantee in real use:

- **Secret randomness.** The mixing matrix and the noise come from ChaCha20 keyed with 256 bits of OS
  entropy (:func:`tenfold.core.randomness.secret_generator`). A replayable seed is possible only through
  ``insecure_seed``, which warns and is written into the release's metadata: with a known seed the
  matrix and noise can be regenerated and every clipped record recovered from the release alone.
- **Secure noise sampling.** Each noise value is a sum of four Gaussian draws (Opacus' secure mode), which
  mitigates floating-point attacks on the noise; it is not a proof (no exact discrete Gaussian here), and
  timing side channels of the machine are out of scope.
- **Public metadata only.** The saved file holds the noisy arrays and parameters chosen before looking at
  the data (eps, delta, m, T, sigma, clip bounds, adjacency, the public record count). Exact statistics
  of the private records (e.g. how many were clipped) stay in ``diagnostics``, which is never saved.
- **The adjacency matches what is published.** By default n is published (the sampling rate m/n and
  T = n reveal it), so neighbours differ by replacing one record (``replace-one``). ``add-remove``
  (the paper's relation) is offered only with ``n_public``: a record count fixed before the data are
  seen, which sets the rate and T and is the only count the file carries.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.io import atomic_save_npz
from tenfold.core.randomness import check_insecure_seed, randomness_record, secret_generator
from tenfold.core.validation import check_number
from tenfold.dpfmix.accounting import (
    calibrate_sigma,
    check_adjacency,
    check_interval,
    check_privacy_target,
    gdp_mu_from_sigma,
    pld_epsilon,
    warn_if_weak_noise,
)
from tenfold.dpfmix.mixing import (
    NOISE_SUMMANDS,
    clip_rows,
    gaussian_noise,
    poisson_mixing_matrix,
    split_noise,
)
from tenfold.dpfmix.mstar import UnreachableSweetSpotWarning, closed_form_m

NOISE_SAMPLING = (
    f"each value a sum of {NOISE_SUMMANDS} Gaussian draws (Opacus secure_mode): mitigates floating-point attacks, "
    "no formal guarantee on floating-point hardware"
)


class LargeSamplingRateWarning(UserWarning):
    """p = m/n > 0.5: privacy amplification by subsampling is mostly lost."""


class LargeDeltaWarning(UserWarning):
    """delta >= 1/n: a mechanism that publishes one whole record would meet it."""


@dataclass
class ReleasedData:
    """The public output (noisy mixtures and the parameters of the guarantee) plus owner-only diagnostics."""

    features: np.ndarray  # (T, d)
    labels: np.ndarray  # (T, K) soft labels, or (T, k) noisy regression targets
    eps: float  # PLD epsilon actually achieved (<= the target) under ``adjacency``
    delta: float
    adjacency: str  # neighbouring relation of eps: "replace-one" or "add-remove"
    m: float
    n_public: int  # the published record count: n under replace-one, the caller's n_public under add-remove
    sampling_rate: float  # m / n_public
    releases: int
    sigma: float  # joint noise multiplier
    sigma_x: float
    sigma_y: float
    lam: float
    clip_features: float
    clip_labels: float  # C_y: 1 for one-hot labels, the target clip bound for regression
    task: str  # "classification" or "regression"
    n_classes: int | None
    mu_clt: float  # GDP central-limit mu (add/remove theory): not the reported guarantee
    interval: float
    randomness: dict[str, Any]  # where the secret randomness came from (never the key)
    noise_sampling: str = NOISE_SAMPLING
    accountant: str = "dp-accounting PLD, Poisson-subsampled Gaussian composed T times"
    # exact statistics of the private data for the data owner (clipped fraction, true n): never saved
    diagnostics: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def summary(self) -> dict[str, object]:
        """The metadata written with the release: public parameters only."""
        data = asdict(self)
        for private in ("features", "labels", "diagnostics"):
            data.pop(private)
        data["shape_features"] = list(self.features.shape)
        data["shape_labels"] = list(self.labels.shape)
        return data

    def save(self, path: str | Path) -> Path:
        """Write an .npz (features, labels, meta JSON) atomically."""
        path = Path(path)
        atomic_save_npz(path, {
            "features": self.features.astype(np.float32),
            "labels": self.labels.astype(np.float32),
            "meta": np.array(json.dumps(self.summary())),
        })
        return path


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels in 0..K-1 to one-hot rows (L2 norm 1, so C_y = 1)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise BadInputError(f"labels must be a 1-D array of class indices, got shape {labels.shape}")
    if not (np.issubdtype(labels.dtype, np.number) or labels.dtype == np.bool_):
        raise BadInputError(f"labels have dtype {labels.dtype}; give whole class indices 0..K-1")
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
    ``adjacency``: "replace-one" (default: n is published) or "add-remove" (needs ``n_public``, the
    record count fixed in advance that sets the rate m / n_public and T; the true n is not published).
    ``insecure_seed``: replayable randomness for experiments and tests only (warns; recorded in the file).
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
        adjacency: str | None = None,
        n_public: int | None = None,
        insecure_seed: int | None = None,
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
        self.adjacency = adjacency
        self.n_public = n_public
        self.insecure_seed = insecure_seed

    def check(self) -> None:
        """Every parameter that does not need the data, checked before any work (the CLI calls it first)."""
        check_privacy_target(self.eps, self.delta)
        check_interval(self.interval)
        check_number("clip bound C_x", self.clip_features, low=0.0, low_open=True)
        check_number("clip bound C_y", self.clip_targets, low=0.0, low_open=True)
        check_number("noise split lambda", self.lam, low=0.0, low_open=True)
        if self.releases is not None:
            check_number("the number of releases T", self.releases, low=1, integer=True)
        if isinstance(self.m, str):
            if self.m != "auto":
                raise BadConfigError(f"m must be a positive number or 'auto', got {self.m!r}")
        else:
            check_number("mixup degree m", self.m, low=0.0, low_open=True)
        if self.n_classes is not None:
            check_number("n_classes", self.n_classes, low=2, integer=True)
        if self.n_public is not None:
            check_number("n_public", self.n_public, low=2, integer=True)
        check_insecure_seed(self.insecure_seed)
        self._adjacency()

    def _adjacency(self) -> str:
        adjacency = self.adjacency or ("add-remove" if self.n_public is not None else "replace-one")
        check_adjacency(adjacency)
        if adjacency == "add-remove" and self.n_public is None:
            raise BadConfigError(
                "add-remove adjacency treats the record count as private, but the sampling rate m/n and T = n would "
                "publish it; give n_public (a record count fixed before seeing the data) or use replace-one"
            )
        return adjacency

    def _resolve_m(self, n: int, releases: int) -> float:
        if isinstance(self.m, str):
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
        self.check()
        adjacency = self._adjacency()
        x = np.asarray(features)
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise BadInputError(f"features have dtype {x.dtype}; give a numeric (n, d) array")
        x = x.astype(np.float64)
        if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
            raise BadInputError(f"features must be a 2-D array (n >= 2 records, d >= 1), got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise BadInputError("features contain NaN or infinite values; clean or impute them before release")
        n = x.shape[0]
        if (labels is None) == (targets is None):
            raise BadInputError("give exactly one of labels= (class indices, with n_classes) or targets= (floats)")
        if labels is not None:
            if self.n_classes is None:
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
            y_bound = float(self.clip_targets)
        if y.shape[0] != n:
            raise BadInputError(f"features have {n} rows but labels/targets have {y.shape[0]}")
        if adjacency == "replace-one" and self.n_public is not None and int(self.n_public) != n:
            raise BadConfigError(
                f"n_public={self.n_public} but the data have {n} records: under replace-one the true n is published; "
                "drop n_public, or use add-remove adjacency"
            )
        public_n = n if adjacency == "replace-one" else int(self.n_public)  # type: ignore[arg-type]
        if self.delta >= 1.0 / n:
            warnings.warn(
                f"delta={self.delta:g} >= 1/n={1 / n:.3g}: choose delta well below 1/n", LargeDeltaWarning, stacklevel=2
            )
        releases = public_n if self.releases is None else int(self.releases)
        m = self._resolve_m(public_n, releases)
        rate = m / public_n
        if rate > 0.5:
            warnings.warn(
                f"sampling rate m/n = {rate:.2f} > 0.5: amplification by subsampling is mostly lost",
                LargeSamplingRateWarning,
                stacklevel=2,
            )
        x, clipped = clip_rows(x, self.clip_features)
        sigma = calibrate_sigma(self.eps, self.delta, rate, releases, interval=self.interval, adjacency=adjacency)
        warn_if_weak_noise(sigma)
        sigma_x, sigma_y = split_noise(sigma, self.lam)
        generator = secret_generator(self.insecure_seed, what="the DPFMix mixing matrix and noise")
        # Poisson sampling of each record at the public rate: with add-remove, n may differ from n_public
        mixing = poisson_mixing_matrix(n, releases, m, generator, rate=rate)
        noisy_x = mixing @ x + gaussian_noise(generator, (releases, x.shape[1]), sigma_x * self.clip_features / m)
        noisy_y = mixing @ y + gaussian_noise(generator, (releases, y.shape[1]), sigma_y * y_bound / m)
        if labels is not None:
            noisy_y = np.maximum(noisy_y, 0.0)  # post-processing: costs no privacy
        achieved = pld_epsilon(sigma, rate, releases, self.delta, interval=self.interval, adjacency=adjacency)
        return ReleasedData(
            features=noisy_x,
            labels=noisy_y,
            eps=achieved,
            delta=float(self.delta),
            adjacency=adjacency,
            m=m,
            n_public=public_n,
            sampling_rate=rate,
            releases=releases,
            sigma=sigma,
            sigma_x=sigma_x,
            sigma_y=sigma_y,
            lam=float(self.lam),
            clip_features=float(self.clip_features),
            clip_labels=y_bound,
            task="classification" if labels is not None else "regression",
            n_classes=None if labels is None else int(self.n_classes),  # type: ignore[arg-type]
            mu_clt=gdp_mu_from_sigma(sigma, rate, releases),
            interval=float(self.interval),
            randomness=randomness_record(self.insecure_seed),
            diagnostics={"clipped_fraction": clipped, "n": n},
        )

