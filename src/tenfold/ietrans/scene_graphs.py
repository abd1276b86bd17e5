"""The in-memory scene-graph split: objects and relations of many images in flat numpy arrays.

Flat arrays (not one dict per image) keep every IETrans stage a vectorised group-by, so transfer on a
VG-150-sized split takes seconds. Object indices in ``relations`` are *global* (row in ``object_labels``),
as in the VG h5 file; ``object_offsets[k]:object_offsets[k+1]`` are the objects of image k.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tenfold.core.errors import BadInputError


@dataclass
class SceneGraphs:
    """A split of scene graphs: labelled boxes per image and annotated (subject, object, predicate) triplets.

    ``relations`` is int64 (n_rel, 3) of (subject global index, object global index, predicate 1..P), sorted
    by image. ``pair_features`` (optional) holds one row per ordered pair of :func:`ordered_pairs` (e.g. a
    union-region appearance vector). ``h5_rows`` maps each image to its row in the source VG h5, if any.
    """

    object_labels: np.ndarray  # (n_obj,) int64 in 1..num_object_classes
    boxes: np.ndarray  # (n_obj, 4) float32 x1, y1, x2, y2
    object_offsets: np.ndarray  # (n_img + 1,) int64
    relations: np.ndarray  # (n_rel, 3) int64
    num_object_classes: int
    num_predicates: int
    image_sizes: np.ndarray | None = None  # (n_img, 2) width, height; None: use the boxes' extent
    pair_features: np.ndarray | None = None  # (n_pairs, D) float32, aligned with ordered_pairs(self)
    h5_rows: np.ndarray | None = None  # (n_img,) int64
    object_names: tuple[str, ...] = ()  # index 0 = "__background__"
    predicate_names: tuple[str, ...] = ()  # index 0 = "__background__"

    @property
    def num_images(self) -> int:
        return len(self.object_offsets) - 1

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @property
    def object_image(self) -> np.ndarray:
        """Image index of every object, (n_obj,)."""
        counts = np.diff(self.object_offsets)
        return np.repeat(np.arange(self.num_images, dtype=np.int64), counts)

    @property
    def relation_image(self) -> np.ndarray:
        """Image index of every relation, (n_rel,)."""
        return self.object_image[self.relations[:, 0]] if len(self.relations) else np.zeros(0, np.int64)

    @property
    def relation_offsets(self) -> np.ndarray:
        """Per-image start of its relations, (n_img + 1,); valid because relations are sorted by image."""
        counts = np.bincount(self.relation_image, minlength=self.num_images)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def triplet_classes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(subject class, predicate, object class) of every relation."""
        labels = self.object_labels
        return labels[self.relations[:, 0]], self.relations[:, 2], labels[self.relations[:, 1]]

    def with_relations(self, relations: np.ndarray) -> SceneGraphs:
        """A copy with other relations (sorted by image, stable), objects unchanged."""
        relations = np.asarray(relations, dtype=np.int64).reshape(-1, 3)
        image = self.object_image[relations[:, 0]] if len(relations) else np.zeros(0, np.int64)
        order = np.argsort(image, kind="stable")
        return dataclasses.replace(self, relations=relations[order])

    def validate(self) -> None:
        """Raise BadInputError if arrays disagree in shape or range."""
        n_obj = len(self.object_labels)
        if self.boxes.shape != (n_obj, 4):
            raise BadInputError(f"boxes has shape {self.boxes.shape}; expected ({n_obj}, 4)")
        if self.object_offsets[0] != 0 or self.object_offsets[-1] != n_obj or np.any(np.diff(self.object_offsets) < 0):
            raise BadInputError("object_offsets must start at 0, end at the object count and never decrease")
        if n_obj and (self.object_labels.min() < 1 or self.object_labels.max() > self.num_object_classes):
            raise BadInputError(f"object labels must lie in 1..{self.num_object_classes}")
        rel = self.relations
        if rel.ndim != 2 or rel.shape[1] != 3:
            raise BadInputError(f"relations has shape {rel.shape}; expected (n, 3)")
        if len(rel):
            if rel[:, :2].min() < 0 or rel[:, :2].max() >= n_obj:
                raise BadInputError("relation object indices fall outside the object arrays")
            if rel[:, 2].min() < 1 or rel[:, 2].max() > self.num_predicates:
                raise BadInputError(
                    f"predicate ids must lie in 1..{self.num_predicates} (0 means background, never an annotation)"
                )
            image = self.object_image
            if np.any(image[rel[:, 0]] != image[rel[:, 1]]):
                raise BadInputError("a relation links objects of two different images")
            if np.any(np.diff(image[rel[:, 0]]) < 0):
                raise BadInputError("relations must be sorted by image")
        if self.pair_features is not None and len(self.pair_features) != pair_offsets(self.object_offsets)[-1]:
            raise BadInputError("pair_features must have one row per ordered object pair")


def pair_offsets(object_offsets: np.ndarray) -> np.ndarray:
    """Start of each image's block of ordered pairs (n * (n - 1) pairs per image), (n_img + 1,)."""
    n = np.diff(object_offsets)
    return np.concatenate([[0], np.cumsum(n * (n - 1))]).astype(np.int64)


def ordered_pairs(graphs: SceneGraphs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ordered pair (i, j), i != j, of every image, row-major per image: (subject, object, image).

    Subject and object are global object indices. The order defines ``pair_index``.
    """
    offsets = graphs.object_offsets
    n = np.diff(offsets)
    starts = pair_offsets(offsets)
    total = int(starts[-1])
    image = np.repeat(np.arange(len(n), dtype=np.int64), n * (n - 1))
    k = np.arange(total, dtype=np.int64) - starts[:-1][image]
    m = np.maximum(n[image] - 1, 1)
    i = k // m
    jj = k % m
    j = jj + (jj >= i)
    return offsets[:-1][image] + i, offsets[:-1][image] + j, image


def pair_index(graphs: SceneGraphs, subject: np.ndarray, obj: np.ndarray) -> np.ndarray:
    """Row of each ordered pair (subject, object) (global indices, same image, i != j) in ``ordered_pairs``."""
    image = graphs.object_image[subject]
    first = graphs.object_offsets[:-1][image]
    n = np.diff(graphs.object_offsets)[image]
    i = subject - first
    j = obj - first
    return pair_offsets(graphs.object_offsets)[:-1][image] + i * (n - 1) + j - (j > i)


def image_extent(graphs: SceneGraphs) -> np.ndarray:
    """(width, height) used to normalise boxes: the image size when known, else the boxes' max corner."""
    if graphs.image_sizes is not None:
        return np.asarray(graphs.image_sizes, dtype=np.float32)
    extent = np.ones((graphs.num_images, 2), np.float32)
    if len(graphs.boxes):
        image = graphs.object_image
        np.maximum.at(extent[:, 0], image, graphs.boxes[:, 2])
        np.maximum.at(extent[:, 1], image, graphs.boxes[:, 3])
    return extent


def normalised_boxes(graphs: SceneGraphs) -> np.ndarray:
    """Boxes divided by their image's width/height, so geometry features are scale-free, (n_obj, 4)."""
    extent = image_extent(graphs)[graphs.object_image]
    return (graphs.boxes / np.concatenate([extent, extent], axis=1)).astype(np.float32)


def boxes_overlap(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """True where two x1y1x2y2 boxes have an intersection of positive area (the external-candidate filter)."""
    width = np.minimum(first[:, 2], second[:, 2]) - np.maximum(first[:, 0], second[:, 0])
    height = np.minimum(first[:, 3], second[:, 3]) - np.maximum(first[:, 1], second[:, 1])
    return (width > 0) & (height > 0)


def pair_geometry(subject_boxes: np.ndarray, object_boxes: np.ndarray) -> np.ndarray:
    """Nine pair-geometry features of normalised boxes: offsets, log size ratios, IoU and the four sizes.

    (dcx / w_o, dcy / h_o, log w_s/w_o, log h_s/h_o, IoU, w_s, h_s, w_o, h_o), float32 (n, 9).
    """
    eps = 1e-6
    ws = np.maximum(subject_boxes[:, 2] - subject_boxes[:, 0], eps)
    hs = np.maximum(subject_boxes[:, 3] - subject_boxes[:, 1], eps)
    wo = np.maximum(object_boxes[:, 2] - object_boxes[:, 0], eps)
    ho = np.maximum(object_boxes[:, 3] - object_boxes[:, 1], eps)
    dcx = (subject_boxes[:, 0] + subject_boxes[:, 2] - object_boxes[:, 0] - object_boxes[:, 2]) / 2 / wo
    dcy = (subject_boxes[:, 1] + subject_boxes[:, 3] - object_boxes[:, 1] - object_boxes[:, 3]) / 2 / ho
    iw = np.clip(np.minimum(subject_boxes[:, 2], object_boxes[:, 2]) - np.maximum(subject_boxes[:, 0], object_boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(subject_boxes[:, 3], object_boxes[:, 3]) - np.maximum(subject_boxes[:, 1], object_boxes[:, 1]), 0, None)
    inter = iw * ih
    iou = inter / (ws * hs + wo * ho - inter)
    features = np.stack([np.clip(dcx, -10, 10), np.clip(dcy, -10, 10), np.log(ws / wo), np.log(hs / ho), iou, ws, hs, wo, ho], axis=1)
    return features.astype(np.float32)


def annotated_pair_mask(graphs: SceneGraphs) -> np.ndarray:
    """Boolean per ordered pair: True where the pair carries at least one annotation."""
    mask = np.zeros(int(pair_offsets(graphs.object_offsets)[-1]), dtype=bool)
    if graphs.num_relations:
        mask[pair_index(graphs, graphs.relations[:, 0], graphs.relations[:, 1])] = True
    return mask


def clean_relations(relations: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Drop self-relations and exact duplicate triplets (first kept, order kept); returns (kept, n_self, n_dup)."""
    relations = np.asarray(relations, dtype=np.int64).reshape(-1, 3)
    self_mask = relations[:, 0] == relations[:, 1]
    kept = relations[~self_mask]
    _, first = np.unique(kept, axis=0, return_index=True)
    first.sort()
    return kept[first], int(self_mask.sum()), int(len(kept) - len(first))


def select_images(graphs: SceneGraphs, images: np.ndarray) -> SceneGraphs:
    """The sub-split of the given images (in the given order), with objects, relations and pair rows remapped."""
    images = np.asarray(images, dtype=np.int64)
    counts = np.diff(graphs.object_offsets)[images]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    starts = graphs.object_offsets[:-1][images]
    objects = np.repeat(starts - offsets[:-1], counts) + np.arange(int(offsets[-1]))
    new_index = np.full(len(graphs.object_labels), -1, np.int64)
    new_index[objects] = np.arange(len(objects))
    relations = graphs.relations[np.isin(graphs.relation_image, images)] if graphs.num_relations else graphs.relations
    relations = np.stack([new_index[relations[:, 0]], new_index[relations[:, 1]], relations[:, 2]], axis=1)
    features = None
    if graphs.pair_features is not None:
        pair_starts = pair_offsets(graphs.object_offsets)
        pair_counts = counts * (counts - 1)
        new_pairs = np.concatenate([[0], np.cumsum(pair_counts)])
        rows = np.repeat(pair_starts[:-1][images] - new_pairs[:-1], pair_counts) + np.arange(int(new_pairs[-1]))
        features = graphs.pair_features[rows]
    subset = dataclasses.replace(
        graphs,
        object_labels=graphs.object_labels[objects],
        boxes=graphs.boxes[objects],
        object_offsets=offsets,
        relations=np.zeros((0, 3), np.int64),
        image_sizes=None if graphs.image_sizes is None else graphs.image_sizes[images],
        pair_features=features,
        h5_rows=None if graphs.h5_rows is None else graphs.h5_rows[images],
    )
    return subset.with_relations(relations)


def images_with_relations(graphs: SceneGraphs) -> np.ndarray:
    """Indices of images that carry at least one annotation (the official filter_empty_rels)."""
    return np.flatnonzero(np.bincount(graphs.relation_image, minlength=graphs.num_images) > 0)
