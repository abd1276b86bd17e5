"""Training a classifier on (possibly poisoned) NHWC images, and batched prediction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tenfold.core.errors import BadInputError
from tenfold.core.train import FitConfig, fit
from tenfold.ftrojan.model import FTrojanCNN


@dataclass(frozen=True)
class TrainConfig:
    """Recipe: Adam 1e-3, batch 64 as in the spec's miniature (official: Adam 5e-4, 130 epochs, width 32)."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 16
    seed: int = 0


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """NHWC (or grey NHW) floats in [0, 1] -> float32 NCHW tensor."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise BadInputError(f"expected images (N, H, W[, C]), got shape {x.shape}")
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _cross_entropy(model: nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
    images, labels = batch
    return nn.functional.cross_entropy(model(images), labels)


def train_classifier(x: np.ndarray, y: np.ndarray, config: TrainConfig = TrainConfig(), num_classes: int | None = None) -> FTrojanCNN:
    """Fit the official CNN on NHWC images ``x`` with labels ``y``; returns the model in eval mode."""
    tensor = to_tensor(x)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if len(tensor) != len(labels):
        raise BadInputError(f"{len(tensor)} images but {len(labels)} labels; they must match")
    size = tensor.shape[-1]
    if tensor.shape[-2] != size or size % 8:
        raise BadInputError(f"the CNN needs square images with a side divisible by 8, got {tuple(tensor.shape[-2:])}")
    classes = num_classes or int(labels.max()) + 1
    torch.manual_seed(config.seed)
    model = FTrojanCNN(tensor.shape[1], classes, config.width, size)
    fit(
        model,
        (tensor, labels),
        _cross_entropy,
        FitConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed, progress=False),
    )
    return model.eval()


@torch.no_grad()
def predict_proba(model: nn.Module, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Softmax outputs (N, classes) of ``model`` in eval mode."""
    model.eval()
    tensor = to_tensor(images)
    device = model_device(model)
    outputs = [
        torch.softmax(model(tensor[i : i + batch_size].to(device)), dim=1).cpu() for i in range(0, len(tensor), batch_size)
    ]
    return torch.cat(outputs).numpy()


def model_device(model: nn.Module) -> torch.device:
    """Where the model's weights live (Accelerate may have moved them to a GPU)."""
    return next(model.parameters()).device


def predict(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """Predicted labels (N,)."""
    return predict_proba(model, images).argmax(axis=1)
