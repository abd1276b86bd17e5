"""Training and scoring predicate classifiers on scene graphs: CE, the official reweighted CE, logit adjustment.

Images are the batch unit (as in SGG codebases): each item is one image padded to the split's largest
object and pair counts, so the core fit loop's default collation works. Every ordered pair of an image is
a training example (background = unannotated), as in the official "all pairs up to 1,024" setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ietrans.scene_graphs import (
    SceneGraphs,
    normalised_boxes,
    ordered_pairs,
    pair_geometry,
    pair_index,
    pair_offsets,
)

MODELS = ("pairmlp", "motifs")
LOSSES = ("ce", "rwt")
IGNORE = -100
PAIR_CHUNK = 32  # pairs per dataset item: the fit loop's per-item collation would dominate single pairs


def pair_targets(graphs: SceneGraphs) -> np.ndarray:
    """One training label per ordered pair: 0 for background, else the pair's first annotated predicate.

    Multi-label pairs keep their first label (Tang's loader samples one per epoch; we fix it for determinism).
    """
    targets = np.zeros(int(pair_offsets(graphs.object_offsets)[-1]), np.int64)
    if graphs.num_relations:
        rows = pair_index(graphs, graphs.relations[:, 0], graphs.relations[:, 1])
        targets[rows[::-1]] = graphs.relations[::-1, 2]  # reversed so the first annotation wins
    return targets


class ImagePairs(Dataset):
    """Per-image padded tensors: labels, boxes, pair indices, pair geometry, pair features, pair targets."""

    def __init__(self, graphs: SceneGraphs, images: np.ndarray | None = None) -> None:
        self.graphs = graphs
        self.images = np.arange(graphs.num_images) if images is None else np.asarray(images, np.int64)
        self.boxes = normalised_boxes(graphs)
        subject, obj, _ = ordered_pairs(graphs)
        self.pair_starts = pair_offsets(graphs.object_offsets)
        first = graphs.object_offsets[:-1][graphs.object_image[subject]] if len(subject) else subject
        self.local_subject = subject - first
        self.local_object = obj - first
        self.geometry = pair_geometry(self.boxes[subject], self.boxes[obj])
        features = graphs.pair_features
        self.features = np.zeros((len(subject), 0), np.float32) if features is None else features.astype(np.float32)
        self.targets = pair_targets(graphs)
        counts = np.diff(graphs.object_offsets)[self.images] if len(self.images) else np.zeros(1, np.int64)
        self.max_objects = max(int(counts.max()), 2)
        self.max_pairs = self.max_objects * (self.max_objects - 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, ...]:
        image = self.images[item]
        lo, hi = self.graphs.object_offsets[image], self.graphs.object_offsets[image + 1]
        plo, phi = self.pair_starts[image], self.pair_starts[image + 1]
        n, q = hi - lo, phi - plo
        labels = np.zeros(self.max_objects, np.int64)
        labels[:n] = self.graphs.object_labels[lo:hi]
        boxes = np.zeros((self.max_objects, 4), np.float32)
        boxes[:n] = self.boxes[lo:hi]
        subject = np.zeros(self.max_pairs, np.int64)
        subject[:q] = self.local_subject[plo:phi]
        obj = np.zeros(self.max_pairs, np.int64)
        obj[:q] = self.local_object[plo:phi]
        geometry = np.zeros((self.max_pairs, 9), np.float32)
        geometry[:q] = self.geometry[plo:phi]
        features = np.zeros((self.max_pairs, self.features.shape[1]), np.float32)
        features[:q] = self.features[plo:phi]
        targets = np.full(self.max_pairs, IGNORE, np.int64)
        targets[:q] = self.targets[plo:phi]
        return tuple(torch.from_numpy(a) for a in (labels, boxes, subject, obj, geometry, features, targets))


class FlatPairs:
    """Every ordered pair as flat arrays (classes, geometry, features, target): PairMLP's input."""

    def __init__(self, graphs: SceneGraphs) -> None:
        boxes = normalised_boxes(graphs)
        subject, obj, self.image = ordered_pairs(graphs)
        self.subject_class = graphs.object_labels[subject]
        self.object_class = graphs.object_labels[obj]
        self.geometry = pair_geometry(boxes[subject], boxes[obj])
        features = graphs.pair_features
        self.features = np.zeros((len(subject), 0), np.float32) if features is None else features.astype(np.float32)
        self.targets = pair_targets(graphs)

    def tensors(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        return tuple(
            torch.from_numpy(np.ascontiguousarray(a[rows]))
            for a in (self.subject_class, self.object_class, self.geometry, self.features, self.targets)
        )


def sample_background(targets: np.ndarray, image: np.ndarray, images: np.ndarray, ratio: float | None, seed: int) -> np.ndarray:
    """Rows to train on: every foreground pair of ``images`` plus, per image, up to ratio x its foreground
    count of random background pairs (all of them when ratio is None: the official all-pairs setting)."""
    in_set = np.isin(image, images)
    if ratio is None:
        return np.flatnonzero(in_set)
    rng = np.random.default_rng(seed)
    foreground = in_set & (targets > 0)
    background = np.flatnonzero(in_set & (targets == 0))
    quota = np.ceil(ratio * np.bincount(image[foreground], minlength=image.max(initial=0) + 1)).astype(np.int64)
    shuffled = background[rng.permutation(len(background))]
    shuffled = shuffled[np.argsort(image[shuffled], kind="stable")]  # random order within each image
    per_image = np.bincount(image[shuffled], minlength=len(quota))
    starts = np.concatenate([[0], np.cumsum(per_image)[:-1]])
    rank = np.arange(len(shuffled)) - starts[image[shuffled]]
    chosen = shuffled[rank < quota[image[shuffled]]]
    return np.sort(np.concatenate([np.flatnonzero(foreground), chosen]))


def _chunked(tensors: tuple[torch.Tensor, ...], chunk: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Shuffle pairs once (seeded) and group them in items of ``chunk`` pairs; padding rows are ignored."""
    n = len(tensors[0])
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    pad = (-n) % chunk
    out = []
    for position, tensor in enumerate(tensors):
        tensor = tensor[order]
        if pad:
            filler = tensor[:1].expand(pad, *tensor.shape[1:]).clone()
            if position == len(tensors) - 1:
                filler.fill_(IGNORE)
            tensor = torch.cat([tensor, filler])
        out.append(tensor.reshape((n + pad) // chunk, chunk, *tensor.shape[1:]))
    return tuple(out)


def reweighting_weights(predicate_counts: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Official Rwt class weights w_p = median_p' N(p') / N(p) over foreground; background weight 1.

    ``predicate_counts`` is (P + 1,) with column 0 ignored. Predicates with N(p) = 0 get weight 0 (they never
    appear as targets) and are returned so callers can report them; the official code silently misaligns them.
    """
    counts = np.asarray(predicate_counts, dtype=np.float64)
    foreground = counts[1:]
    present = foreground > 0
    if not present.any():
        raise BadInputError("cannot reweight: no predicate has any training instance")
    median = np.median(foreground[present])
    weights = np.ones_like(counts)
    weights[1:] = np.divide(median, foreground, out=np.zeros_like(foreground), where=present)
    return weights, [int(p) + 1 for p in np.flatnonzero(~present)]


def weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """(1/B) sum_b w[y_b] CE_b over non-ignored pairs: the official plain batch mean, not torch's sum-of-w mean."""
    valid = targets != IGNORE
    losses = torch.nn.functional.cross_entropy(logits[valid], targets[valid], reduction="none")
    if weights is not None:
        losses = losses * weights[targets[valid]]
    return losses.mean() if losses.numel() else logits.sum() * 0.0


@dataclass
class PredicateClassifier:
    """A PredCls relation model (PairMLP or MotifsLite) trained on every ordered pair of each image.

    ``loss="rwt"`` uses the official reweighted CE with weights from the training counts given to ``fit``;
    ``logit_adjustment`` (tau) subtracts tau * log prior(p) from foreground logits at prediction time.
    """

    model: str = "pairmlp"
    loss: str = "ce"
    epochs: int = 6
    lr: float = 2e-3
    batch_images: int = 16  # MotifsLite: images per step
    batch_pairs: int = 1024  # PairMLP: pairs per step (the spec's recipe)
    hidden: int = 256
    frequency_bias: bool = False
    logit_adjustment: float = 0.0
    skip_empty_images: bool = True
    background_ratio: float | None = None  # None: every pair (official); 3: the spec's fast option
    seed: int = 0
    progress: bool = False
    network_: torch.nn.Module | None = field(default=None, repr=False)
    prior_: np.ndarray | None = field(default=None, repr=False)
    weights_: np.ndarray | None = field(default=None, repr=False)
    history_: list[float] = field(default_factory=list, repr=False)
    feature_dim_: int = 0
    shape_: tuple[int, int] = (0, 0)

    def validate(self) -> None:
        if self.model not in MODELS:
            raise BadConfigError(f"model={self.model!r}; use one of {', '.join(MODELS)}")
        if self.loss not in LOSSES:
            raise BadConfigError(f"loss={self.loss!r}; use one of {', '.join(LOSSES)}")
        if self.epochs < 1 or self.batch_images < 1 or self.batch_pairs < 1 or not (0 < self.lr < 10) or self.hidden < 1:
            raise BadConfigError("epochs, batch_images and hidden must be positive and 0 < lr < 10")
        if self.background_ratio is not None and self.background_ratio <= 0:
            raise BadConfigError("background_ratio must be positive (or None for every pair)")

    def build(self, num_object_classes: int, num_predicates: int, feature_dim: int, counts: np.ndarray | None = None):
        """Create the network (and its frequency-bias table from pair counts, if enabled)."""
        from tenfold.ietrans.frequency_bias import FrequencyBias
        from tenfold.ietrans.motifs_lite import MotifsLite
        from tenfold.ietrans.pair_mlp import PairMLP

        torch.manual_seed(self.seed)
        bias = None
        if self.frequency_bias:
            if counts is None:
                counts = np.zeros(((num_object_classes + 1) ** 2, num_predicates + 1))
            bias = FrequencyBias(counts, num_object_classes)
        if self.model == "pairmlp":
            network = PairMLP(num_object_classes, num_predicates, feature_dim, hidden=self.hidden, frequency_bias=bias)
        else:
            network = MotifsLite(num_object_classes, num_predicates, feature_dim, head_hidden=self.hidden, frequency_bias=bias)
        self.network_ = network
        self.feature_dim_ = feature_dim
        self.shape_ = (num_object_classes, num_predicates)
        return network

    def fit(self, graphs: SceneGraphs) -> PredicateClassifier:
        """Train from scratch on ``graphs`` (its relations are the labels; all other pairs are background)."""
        from tenfold.core.train import FitConfig, fit

        self.validate()
        graphs.validate()
        num_c, num_p = graphs.num_object_classes, graphs.num_predicates
        counts = np.bincount(graphs.relations[:, 2], minlength=num_p + 1)
        self.prior_ = counts[1:] / max(counts[1:].sum(), 1)
        images = np.arange(graphs.num_images)
        if self.skip_empty_images:
            images = images[np.bincount(graphs.relation_image, minlength=graphs.num_images) > 0]
        images = images[np.diff(graphs.object_offsets)[images] >= 2]
        if len(images) == 0:
            raise BadInputError("no training image has two objects and a relation; nothing to learn from")
        targets = pair_targets(graphs)
        pair_image = np.repeat(np.arange(graphs.num_images), np.diff(pair_offsets(graphs.object_offsets)))
        rows = sample_background(targets, pair_image, images, self.background_ratio, self.seed)
        table = None
        if self.frequency_bias:
            subject, obj, _ = ordered_pairs(graphs)
            key = graphs.object_labels[subject] * (num_c + 1) + graphs.object_labels[obj]
            table = np.bincount(key[rows] * (num_p + 1) + targets[rows], minlength=(num_c + 1) ** 2 * (num_p + 1))
            table = table.reshape((num_c + 1) ** 2, num_p + 1)
        feature_dim = 0 if graphs.pair_features is None else graphs.pair_features.shape[1]
        network = self.build(num_c, num_p, feature_dim, table)
        weights = None
        if self.loss == "rwt":
            self.weights_, _ = reweighting_weights(counts)
            weights = torch.as_tensor(self.weights_, dtype=torch.float32)

        if self.model == "pairmlp":
            dataset = _chunked(FlatPairs(graphs).tensors(rows), PAIR_CHUNK, self.seed)
            batch_size = max(1, self.batch_pairs // PAIR_CHUNK)
        else:
            keep = np.zeros(len(targets), bool)
            keep[rows] = True
            masked = ImagePairs(graphs, images)
            masked.targets = np.where(keep, masked.targets, IGNORE)  # unsampled background pairs are ignored
            dataset, batch_size = masked, self.batch_images

        def loss_fn(model: torch.nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
            *inputs, target = batch
            return weighted_cross_entropy(model(*inputs), target, weights)

        history = fit(
            network,
            dataset,
            loss_fn,
            FitConfig(epochs=self.epochs, batch_size=batch_size, lr=self.lr, seed=self.seed, progress=self.progress),
        )
        self.history_ = list(history.epoch_losses)
        network.eval()
        return self

    def predict_logits(self, graphs: SceneGraphs, batch_images: int = 64) -> np.ndarray:
        """Raw logits (n_pairs, P + 1) for every ordered pair of ``ordered_pairs(graphs)``."""
        if self.network_ is None:
            raise BadConfigError("the classifier is not fitted; call fit() or load weights first")
        if (graphs.num_object_classes, graphs.num_predicates) != self.shape_:
            raise BadInputError(
                f"the model was built for {self.shape_[0]} object classes and {self.shape_[1]} predicates, "
                f"the data has {graphs.num_object_classes} and {graphs.num_predicates}"
            )
        starts = pair_offsets(graphs.object_offsets)
        out = np.zeros((int(starts[-1]), graphs.num_predicates + 1), np.float32)
        network = self.network_.eval()
        device = next(network.parameters()).device
        dim = 0 if graphs.pair_features is None else graphs.pair_features.shape[1]
        if dim != self.feature_dim_:
            raise BadInputError(f"the model expects {self.feature_dim_} pair features per pair but the data has {dim}")
        with torch.no_grad():
            if self.model == "pairmlp":
                pairs = FlatPairs(graphs)
                for first in range(0, len(out), 65536):
                    rows = np.arange(first, min(first + 65536, len(out)))
                    inputs = [t.to(device) for t in pairs.tensors(rows)[:-1]]
                    out[rows] = network(*inputs).cpu().numpy()
            else:
                dataset = ImagePairs(graphs)
                for first in range(0, len(dataset), batch_images):
                    items = [dataset[i] for i in range(first, min(first + batch_images, len(dataset)))]
                    batch = [torch.stack(column).to(device) for column in zip(*items, strict=True)]
                    logits = network(*batch[:-1]).cpu().numpy()
                    for offset, image in enumerate(range(first, first + len(items))):
                        q = starts[image + 1] - starts[image]
                        out[starts[image] : starts[image + 1]] = logits[offset, :q]
        if self.logit_adjustment and self.prior_ is not None:
            out[:, 1:] -= self.logit_adjustment * np.log(np.maximum(self.prior_, 1e-12)).astype(np.float32)
        return out

    def predict_proba(self, graphs: SceneGraphs) -> np.ndarray:
        """Softmax over all P + 1 classes for every ordered pair (background at column 0)."""
        logits = torch.from_numpy(self.predict_logits(graphs))
        return torch.softmax(logits.double(), dim=1).numpy()

    def state(self) -> dict[str, Any]:
        """Hyper-parameters and shapes needed to rebuild the network before loading its weights."""
        keys = ("model", "loss", "epochs", "lr", "batch_images", "batch_pairs", "hidden", "frequency_bias", "logit_adjustment",
                "background_ratio", "seed")
        state = {k: getattr(self, k) for k in keys}
        state.update(
            num_object_classes=self.shape_[0],
            num_predicates=self.shape_[1],
            feature_dim=self.feature_dim_,
            prior=None if self.prior_ is None else self.prior_.tolist(),
        )
        return state
