"""SynthSGG: a seeded synthetic scene-graph world with VG's two biases and the latent truth kept (spec 5.1).

It reproduces (a) a long-tailed predicate prior where general predicates (on, has, near, in, of) spread over
many class pairs, so their attraction factor is small, and (b) lazy annotation: a specific predicate is
often written as its general parent, and many true relations are not annotated at all. Evidence per pair is
a box geometry template and an 8-d "appearance" vector that separates children of one parent only noisily.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.ietrans.scene_graphs import SceneGraphs, ordered_pairs, pair_index

GENERAL = {
    "on": ["sitting on", "standing on", "riding", "lying on", "parked on", "walking on", "mounted on", "painted on"],
    "has": ["holding", "wearing", "carrying", "eating", "using"],
    "near": ["in front of", "behind", "beside", "along"],
    "in": ["inside of", "walking in", "covered in"],
    "of": ["part of", "belonging to", "made of"],
}
STANDALONE = ["looking at", "playing", "says", "flying in", "growing on", "hanging from"]


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator; defaults are the spec's (C = 40, P = 34, alpha 0.5, beta 0.6)."""

    num_object_classes: int = 40
    object_zipf: float = 0.8
    predicate_zipf: float = 1.6
    truly_general: float = 1.0  # general mass = this x the sum of its children's mass
    alpha: float = 0.5  # P(a child predicate is written as its parent)
    beta: float = 0.6  # P(a latent triplet is annotated at all)
    appearance_dim: int = 8
    appearance_noise: float = 1.6
    geometry_noise: float = 0.15
    min_triplets: int = 2
    max_triplets: int = 6
    max_distractors: int = 5
    hard_negative_rate: float = 0.3

    def validate(self) -> None:
        if not (0 <= self.alpha <= 1 and 0 < self.beta <= 1):
            raise BadConfigError(f"alpha={self.alpha} must be in [0, 1] and beta={self.beta} in (0, 1]")
        if self.num_object_classes < 4 or not (1 <= self.min_triplets <= self.max_triplets):
            raise BadConfigError("need at least 4 object classes and 1 <= min_triplets <= max_triplets")


@dataclass
class SynthWorld:
    """The latent rules of one world: predicate tree, prior, class pairs per predicate and evidence templates."""

    predicate_names: tuple[str, ...]  # index 0 = background
    parent: np.ndarray  # (P + 1,) parent predicate id, 0 for general/standalone
    prior: np.ndarray  # (P + 1,) latent predicate probabilities (0 at background)
    pairs: list[np.ndarray]  # per predicate: (m, 2) allowed (s, o) classes
    pair_weights: list[np.ndarray]  # per predicate: (m,) sampling weights
    geometry: np.ndarray  # (P + 1, 3) dx, dy, log-scale templates
    appearance: np.ndarray  # (P + 1, D) appearance prototypes
    object_frequency: np.ndarray  # (C + 1,) class probabilities (0 at index 0)
    config: SynthConfig

    @property
    def num_predicates(self) -> int:
        return len(self.predicate_names) - 1

    @property
    def general_predicates(self) -> tuple[int, ...]:
        """Predicates that have children: the analogue of VG's head list for external head exclusion."""
        return tuple(sorted({int(p) for p in self.parent if p}))


@dataclass
class SynthSplit:
    """Annotated (biased) graphs and the latent-truth graphs over the same objects and pair features."""

    annotated: SceneGraphs
    latent: SceneGraphs


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def make_world(seed: int, config: SynthConfig | None = None) -> SynthWorld:
    """Draw the latent rules of a world from one numpy Generator seed."""
    config = config or SynthConfig()
    config.validate()
    rng = np.random.default_rng(seed)
    names = ["__background__"]
    parent = [0]
    for general, children in GENERAL.items():
        names.append(general)
        parent.append(0)
        general_id = len(names) - 1
        for child in children:
            names.append(child)
            parent.append(general_id)
    for name in STANDALONE:
        names.append(name)
        parent.append(0)
    parent_arr = np.array(parent)
    num_p = len(names) - 1
    is_general = np.zeros(num_p + 1, bool)
    is_general[np.unique(parent_arr[parent_arr > 0])] = True
    specific = np.flatnonzero(~is_general[1:]) + 1
    prior = np.zeros(num_p + 1)
    prior[rng.permutation(specific)] = _zipf(len(specific), config.predicate_zipf)
    for g in np.flatnonzero(is_general):
        prior[g] = config.truly_general * prior[parent_arr == g].sum()
    prior /= prior.sum()

    c = config.num_object_classes
    object_frequency = np.concatenate([[0.0], _zipf(c, config.object_zipf)[rng.permutation(c)]])
    pairs: list[np.ndarray] = [np.zeros((0, 2), np.int64)] * (num_p + 1)
    weights: list[np.ndarray] = [np.zeros(0)] * (num_p + 1)
    for p in range(1, num_p + 1):
        m = int(rng.integers(3, 8))
        chosen = np.stack([rng.choice(np.arange(c + 1), m, p=object_frequency) for _ in range(2)], axis=1)
        pairs[p] = chosen
        weights[p] = 1.0 / np.arange(1, m + 1)
    for g in np.flatnonzero(is_general):
        children = np.flatnonzero(parent_arr == g)
        own = weights[g] / weights[g].sum()
        parts, part_weights = [pairs[g]], [own * 1.0]
        child_mass = prior[children] / prior[children].sum()
        for child, mass in zip(children, child_mass, strict=True):
            parts.append(pairs[child])
            part_weights.append(weights[child] / weights[child].sum() * mass)
        pairs[g] = np.concatenate(parts)
        weights[g] = np.concatenate(part_weights)
    for p in range(1, num_p + 1):
        weights[p] = weights[p] / weights[p].sum()

    geometry = np.zeros((num_p + 1, 3))
    appearance = np.zeros((num_p + 1, config.appearance_dim))
    for p in range(1, num_p + 1):
        if parent_arr[p] == 0:
            geometry[p] = rng.normal(0, 0.4, 3)
            appearance[p] = rng.normal(0, 1.0, config.appearance_dim)
    for p in range(1, num_p + 1):
        if parent_arr[p]:
            geometry[p] = geometry[parent_arr[p]] + rng.normal(0, 0.25, 3)
            appearance[p] = appearance[parent_arr[p]] + rng.normal(0, 0.9, config.appearance_dim)
    return SynthWorld(tuple(names), parent_arr, prior, pairs, weights, geometry, appearance, object_frequency, config)


def sample_split(world: SynthWorld, num_images: int, seed: int) -> SynthSplit:
    """Draw images from a world: latent triplets, distractors, lazy/missing annotation and pair features."""
    cfg = world.config
    rng = np.random.default_rng(seed)
    num_p = world.num_predicates
    labels: list[np.ndarray] = []
    boxes: list[np.ndarray] = []
    latent_rel: list[np.ndarray] = []
    annotated_rel: list[np.ndarray] = []
    counts = np.zeros(num_images + 1, np.int64)
    start = 0
    for image in range(num_images):
        n_triplets = int(rng.integers(cfg.min_triplets, cfg.max_triplets + 1))
        n_distractors = int(rng.integers(0, cfg.max_distractors + 1))
        predicates = rng.choice(num_p + 1, n_triplets, p=world.prior)
        image_labels, image_boxes = [], []
        for p in predicates:
            row = rng.choice(len(world.pairs[p]), p=world.pair_weights[p])
            s_class, o_class = world.pairs[p][row]
            w, h = rng.uniform(0.1, 0.4, 2)
            cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
            dx, dy, scale = world.geometry[p] + rng.normal(0, cfg.geometry_noise, 3)
            sw, sh = w * np.exp(scale), h * np.exp(scale)
            sx, sy = cx + dx * w, cy + dy * h
            image_labels += [s_class, o_class]
            image_boxes += [[sx - sw / 2, sy - sh / 2, sx + sw / 2, sy + sh / 2], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]]
        for _ in range(n_distractors):
            image_labels.append(rng.choice(np.arange(cfg.num_object_classes + 1), p=world.object_frequency))
            w, h = rng.uniform(0.1, 0.4, 2)
            x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
            image_boxes.append([x, y, x + w, y + h])
        local = np.arange(n_triplets) * 2 + start
        latent = np.stack([local, local + 1, predicates], axis=1)
        written = np.where(
            (world.parent[predicates] > 0) & (rng.random(n_triplets) < cfg.alpha), world.parent[predicates], predicates
        )
        keep = rng.random(n_triplets) < cfg.beta
        latent_rel.append(latent)
        annotated_rel.append(np.stack([local, local + 1, written], axis=1)[keep])
        labels.append(np.array(image_labels, np.int64))
        boxes.append(_clip_to_image(np.array(image_boxes, np.float64)))
        start += len(image_labels)
        counts[image + 1] = start
    base = SceneGraphs(
        object_labels=np.concatenate(labels),
        boxes=np.concatenate(boxes),
        object_offsets=counts,
        relations=np.zeros((0, 3), np.int64),
        num_object_classes=cfg.num_object_classes,
        num_predicates=num_p,
        image_sizes=np.ones((num_images, 2), np.float32),
        predicate_names=world.predicate_names,
        object_names=("__background__",) + tuple(f"object{c}" for c in range(1, cfg.num_object_classes + 1)),
    )
    latent_all = np.concatenate(latent_rel).astype(np.int64)
    annotated_all = np.concatenate(annotated_rel).astype(np.int64)
    base = dataclasses.replace(base, pair_features=_pair_appearance(world, base, latent_all, rng))
    return SynthSplit(base.with_relations(annotated_all), base.with_relations(latent_all))


def _clip_to_image(boxes: np.ndarray, min_size: float = 0.01) -> np.ndarray:
    """Keep boxes inside the unit image (as annotated boxes are) with a minimal positive size."""
    x1 = np.clip(boxes[:, 0], 0.0, 1.0 - min_size)
    y1 = np.clip(boxes[:, 1], 0.0, 1.0 - min_size)
    x2 = np.clip(boxes[:, 2], x1 + min_size, 1.0)
    y2 = np.clip(boxes[:, 3], y1 + min_size, 1.0)
    return np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)


def _pair_appearance(world: SynthWorld, graphs: SceneGraphs, latent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Union-region appearance per ordered pair: the latent predicate's prototype plus noise; hard negatives."""
    cfg = world.config
    subject, _, _ = ordered_pairs(graphs)
    n = len(subject)
    features = rng.normal(0, 1.2, (n, cfg.appearance_dim))
    hard = rng.random(n) < cfg.hard_negative_rate
    prototypes = rng.integers(1, world.num_predicates + 1, int(hard.sum()))
    features[hard] = world.appearance[prototypes] + rng.normal(0, 1.3 * cfg.appearance_noise, (int(hard.sum()), cfg.appearance_dim))
    rows = pair_index(graphs, latent[:, 0], latent[:, 1])
    features[rows] = world.appearance[latent[:, 2]] + rng.normal(0, cfg.appearance_noise, (len(rows), cfg.appearance_dim))
    return features.astype(np.float32)


def make_synth(
    seed: int, num_train: int = 2500, num_test: int = 1000, config: SynthConfig | None = None
) -> tuple[SynthWorld, SynthSplit, SynthSplit]:
    """One world and its train and test splits, all from ``seed``."""
    world = make_world(seed, config)
    return world, sample_split(world, num_train, seed * 7919 + 1), sample_split(world, num_test, seed * 7919 + 2)
