"""Label-free feature maps that never look at the private set: PCA fitted on a public split, raw pixels, HOG.

A map fitted on data (PCA, the scale factor) remembers a fingerprint of every row it saw; asking it to
transform private rows it was fitted on raises, because statistics of the private set cost privacy that
the release's accountant does not count (the official code's ``_mean.npy`` problem, spec A2 item 7).
"""

from __future__ import annotations

import hashlib

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError


class PrivateFitError(BadConfigError):
    """A feature map was fitted on (some of) the private records it is asked to transform."""


def _row_fingerprints(x: np.ndarray) -> set[bytes]:
    rows = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(x.shape[0], -1))
    return {hashlib.blake2b(row.tobytes(), digest_size=12).digest() for row in rows}


def _flatten(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] < 1:
        raise BadInputError(f"{what}: expected (n, ...) array with n >= 1, got shape {x.shape}")
    flat = x.reshape(x.shape[0], -1)
    if not np.all(np.isfinite(flat)):
        raise BadInputError(f"{what}: NaN or infinite values")
    return flat


class _PublicFitted:
    """Shared bookkeeping: fit only with ``public=True``, refuse to transform rows seen at fit time."""

    fingerprints_: set[bytes]
    scale_: float

    def _remember(self, x: np.ndarray, public: bool) -> None:
        if not public:
            raise PrivateFitError(
                f"{type(self).__name__} must be fitted on public data; pass public=True only for data "
                "that is not part of the private set (statistics of private data are not accounted for)"
            )
        self.fingerprints_ = _row_fingerprints(x)

    def transform_private(self, x: np.ndarray) -> np.ndarray:
        """Transform private rows, refusing if any of them was in the public fit set."""
        if not hasattr(self, "fingerprints_"):
            raise BadConfigError(f"{type(self).__name__} is not fitted; call fit(public_x, public=True) first")
        overlap = len(_row_fingerprints(np.asarray(x)) & self.fingerprints_)
        if overlap:
            raise PrivateFitError(
                f"{type(self).__name__} was fitted on {overlap} of the private records; fit it on a disjoint public split"
            )
        return self.transform(x)

    def transform(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


class PublicPCA(_PublicFitted):
    """PCA(k) fitted on public images, divided by the public mean feature norm (then clip to 1 at release)."""

    def __init__(self, n_components: int = 16, seed: int = 0) -> None:
        self.n_components = n_components
        self.seed = seed

    def fit(self, x_public: np.ndarray, *, public: bool = False) -> PublicPCA:
        from sklearn.decomposition import PCA

        flat = _flatten(x_public, "public data")
        if not (1 <= self.n_components <= min(flat.shape)):
            raise BadConfigError(f"n_components={self.n_components} must lie in 1..{min(flat.shape)}")
        self._remember(x_public, public)
        self.pca_ = PCA(n_components=self.n_components, random_state=self.seed).fit(flat)
        self.scale_ = float(np.mean(np.linalg.norm(self.pca_.transform(flat), axis=1))) or 1.0
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return self.pca_.transform(_flatten(x, "images")) / self.scale_


class PixelFeatures(_PublicFitted):
    """Raw pixels divided by the public mean norm: DPMix's identity map (``center=True`` also removes the public mean)."""

    def __init__(self, center: bool = False) -> None:
        self.center = center

    def fit(self, x_public: np.ndarray, *, public: bool = False) -> PixelFeatures:
        flat = _flatten(x_public, "public data")
        self._remember(x_public, public)
        self.mean_ = flat.mean(axis=0) if self.center else np.zeros(flat.shape[1])
        self.scale_ = float(np.mean(np.linalg.norm(flat - self.mean_, axis=1))) or 1.0
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (_flatten(x, "images") - self.mean_) / self.scale_


class HOGFeatures:
    """Histogram of oriented gradients (scikit-image): per-sample, nothing fitted, so always allowed."""

    def __init__(self, pixels_per_cell: int = 4, cells_per_block: int = 1, orientations: int = 8) -> None:
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.orientations = orientations

    def transform(self, images: np.ndarray) -> np.ndarray:
        from skimage.feature import hog

        images = np.asarray(images, dtype=np.float64)
        if images.ndim != 3:
            raise BadInputError(f"HOG expects grey images (n, H, W), got shape {images.shape}")
        feats = [
            hog(
                im,
                orientations=self.orientations,
                pixels_per_cell=(self.pixels_per_cell, self.pixels_per_cell),
                cells_per_block=(self.cells_per_block, self.cells_per_block),
            )
            for im in images
        ]
        return np.asarray(feats)

    transform_private = transform
