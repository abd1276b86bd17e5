"""Backdoor defences, in torch on our models, with the parameters written out.

Detectors of inputs (STRIP), of poisoned training samples (activation clustering, spectral
signatures), a model repair (pruning of dormant channels, the first stage of fine-pruning) and input
filters (Gaussian 5x5, Wiener 5x5, JPEG). The model detector, Neural Cleanse, has its own module
(:mod:`tenfold.ftrojan.neural_cleanse`); ART's only supports Keras classifiers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tenfold.core.errors import BadConfigError
from tenfold.ftrojan.model import FTrojanCNN
from tenfold.ftrojan.training import model_device, predict, predict_proba, to_tensor

# ------------------------------------------------------------------ STRIP (Gao et al. 2019)


def strip_entropy(
    model: nn.Module, x: np.ndarray, pool: np.ndarray, *, overlays: int = 64, alpha: float = 0.5, seed: int = 0
) -> np.ndarray:
    """Mean prediction entropy of each input blended ``alpha * x + (1 - alpha) * p`` with ``overlays`` random
    clean images ``p`` from ``pool``. A trigger that survives blending keeps the entropy low."""
    if len(pool) == 0 or overlays < 1:
        raise BadConfigError("STRIP needs a non-empty pool of clean images and at least one overlay")
    rng = np.random.default_rng(seed)
    entropies = np.empty(len(x))
    for i, image in enumerate(np.asarray(x)):
        chosen = pool[rng.integers(0, len(pool), size=overlays)]
        probs = predict_proba(model, alpha * image[None] + (1.0 - alpha) * chosen)
        entropies[i] = float(np.mean(-np.sum(probs * np.log(probs + 1e-12), axis=1)))
    return entropies


@dataclass(frozen=True)
class StripReport:
    """STRIP at a fixed false-rejection rate: the entropy threshold and how many triggered inputs pass."""

    threshold: float
    frr: float  # clean inputs rejected (below the threshold)
    far: float  # triggered inputs accepted (at or above the threshold): high = not detected


def strip_report(clean_entropy: np.ndarray, triggered_entropy: np.ndarray, *, frr: float = 0.05) -> StripReport:
    """Threshold at the ``frr`` quantile of clean entropies; FAR = triggered inputs above it."""
    if not 0.0 < frr < 1.0:
        raise BadConfigError(f"STRIP false-rejection rate must be in (0, 1), got {frr}")
    threshold = float(np.quantile(clean_entropy, frr))
    return StripReport(
        threshold,
        float(np.mean(clean_entropy < threshold)),
        float(np.mean(triggered_entropy >= threshold)),
    )


# ------------------------------------------------------------------ poisoned-sample detectors


@torch.no_grad()
def penultimate_features(model: FTrojanCNN, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The flattened features before the classifier (N, D)."""
    model.eval()
    tensor = to_tensor(x)
    device = model_device(model)
    chunks = [model.embed(tensor[i : i + batch_size].to(device)).cpu() for i in range(0, len(tensor), batch_size)]
    return torch.cat(chunks).numpy()


def activation_clustering(
    features: np.ndarray, labels: np.ndarray, *, components: int = 10, size_threshold: float = 0.35, seed: int = 0
) -> np.ndarray:
    """Activation clustering (Chen et al. 2018): per class, reduce features (PCA) and split them with 2-means;
    a cluster holding less than ``size_threshold`` of its class is flagged as poisoned. Returns a bool mask."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    flagged = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if len(rows) < 4:
            continue
        reduced = PCA(n_components=min(components, len(rows) - 1, features.shape[1]), random_state=seed).fit_transform(
            features[rows]
        )
        assignment = KMeans(n_clusters=2, n_init=4, random_state=seed).fit_predict(reduced)
        small = int(np.argmin(np.bincount(assignment, minlength=2)))
        if np.mean(assignment == small) < size_threshold:
            flagged[rows[assignment == small]] = True
    return flagged


def spectral_signatures(features: np.ndarray, labels: np.ndarray, *, expected_rate: float = 0.1) -> np.ndarray:
    """Spectral signatures (Tran et al. 2018): per class, flag the ``1.5 * expected_rate`` share of samples with the
    largest squared projection on the top singular vector of the centred features. Returns a bool mask."""
    if not 0.0 < expected_rate < 1.0:
        raise BadConfigError(f"expected_rate must be in (0, 1), got {expected_rate}")
    flagged = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        centred = features[rows] - features[rows].mean(axis=0)
        top = np.linalg.svd(centred, full_matrices=False)[2][0]
        scores = (centred @ top) ** 2
        count = min(len(rows), int(np.ceil(1.5 * expected_rate * len(rows))))
        flagged[rows[np.argsort(scores)[::-1][:count]]] = True
    return flagged


def detection_f1(flagged: np.ndarray, poisoned: np.ndarray) -> float:
    """F1 of a flagged-sample mask against the true poisoned mask (0 when nothing is flagged or poisoned)."""
    true_positive = float(np.sum(flagged & poisoned))
    if true_positive == 0:
        return 0.0
    precision = true_positive / float(np.sum(flagged))
    recall = true_positive / float(np.sum(poisoned))
    return 2 * precision * recall / (precision + recall)


# ------------------------------------------------------------------ pruning (fine-pruning, Liu et al. 2018)


@dataclass(frozen=True)
class PruningReport:
    """Channels of the last conv block pruned (most dormant on clean data first) while BA stays within budget."""

    pruned: int
    total: int
    accuracy: float
    attack_success: float


def prune_dormant_channels(
    model: FTrojanCNN,
    x_val: np.ndarray,
    y_val: np.ndarray,
    x_triggered: np.ndarray,
    target: int,
    *,
    max_accuracy_drop: float = 0.02,
    step: int = 2,
) -> PruningReport:
    """Zero the last block's channels in order of increasing mean clean activation until BA would fall more
    than ``max_accuracy_drop``; report BA and ASR (``x_triggered`` are triggered non-target images) there."""
    norm = [m for m in model.features if isinstance(m, nn.BatchNorm2d)][-1]
    captured: list[torch.Tensor] = []
    hook = norm.register_forward_hook(lambda _m, _i, out: captured.append(out.mean(dim=(0, 2, 3))))
    predict(model, x_val)
    hook.remove()
    order = np.argsort(torch.stack(captured).mean(dim=0).cpu().numpy())
    keep = torch.ones(norm.num_features, device=model_device(model))
    hook = norm.register_forward_hook(lambda _m, _i, out: out * keep[None, :, None, None])
    try:
        base = float(np.mean(predict(model, x_val) == y_val))
        best = PruningReport(0, len(order), base, float(np.mean(predict(model, x_triggered) == target)))
        for count in range(step, len(order), step):
            keep[:] = 1.0
            keep[torch.as_tensor(order[:count].copy())] = 0.0
            accuracy = float(np.mean(predict(model, x_val) == y_val))
            if accuracy < base - max_accuracy_drop:
                break
            best = PruningReport(count, len(order), accuracy, float(np.mean(predict(model, x_triggered) == target)))
    finally:
        hook.remove()
    return best


# ------------------------------------------------------------------ input filters


def gaussian_filter(images: np.ndarray, sigma: float = 1.1) -> np.ndarray:
    """5x5 Gaussian blur per channel (OpenCV's ``GaussianBlur(x, (5, 5), 0)`` has sigma 1.1), NHWC."""
    from scipy.ndimage import gaussian_filter as blur

    x = np.asarray(images, dtype=np.float64)
    return blur(x, sigma=(0, sigma, sigma, 0), truncate=2.0 / sigma, mode="mirror")


def wiener_filter(images: np.ndarray, size: int = 5) -> np.ndarray:
    """Adaptive 5x5 Wiener filter per image and channel (``scipy.signal.wiener``), NHWC, clipped to [0, 1]."""
    from scipy.signal import wiener

    x = np.asarray(images, dtype=np.float64)
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[3]):
            plane = x[n, :, :, c]
            out[n, :, :, c] = plane if np.ptp(plane) == 0 else wiener(plane, (size, size))
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)


def jpeg_filter(images: np.ndarray, quality: int = 75) -> np.ndarray:
    """JPEG compression round trip with Pillow at ``quality`` (NHWC, grey or RGB)."""
    from PIL import Image

    from tenfold.ftrojan.metrics import to_uint8

    pixels = to_uint8(images)
    out = np.empty(pixels.shape, dtype=np.float64)
    for n, image in enumerate(pixels):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="JPEG", quality=quality)
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float64) / 255.0
        out[n] = decoded.reshape(image.shape)
    return out


INPUT_FILTERS = {"gaussian": gaussian_filter, "wiener": wiener_filter, "jpeg": jpeg_filter}
