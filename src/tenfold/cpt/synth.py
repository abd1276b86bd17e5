"""A seeded synthetic "coloured shapes" world with captions and referring expressions (spec 5.2).

Why synthetic: no vision-language model with a masked-language head ships offline, so CPT's
premise (a backbone pre-trained with MLM on image-text pairs, whose captions name colours of
objects) is rebuilt in miniature. What it keeps of real data: captions describe objects by
attributes, colours and relations without ever pointing at a region (like COCO captions in
VinVL pre-training); some coloured objects are grey shapes under a semi-transparent colour
block, standing for the "reddish regions" of real photos that CPT's marks resemble; downstream
referring expressions are the shortest unique phrases over uncoloured distractors of the same
shape, as in RefCOCO's same-category distractors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from tenfold.cpt.vocabulary import FILLS, PALETTE, SHAPES, SIZES

CANVAS = 64
RADIUS = {"small": 5, "big": 9}
PALETTE_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 20, 30),
    "green": (30, 160, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 210, 30),
    "purple": (140, 40, 170),
    "orange": (245, 130, 20),
}
# Unequal colour frequencies of pre-training (spec 5.2).
PALETTE_WEIGHTS = np.array([1.0, 1.0, 1.0, 0.7, 0.35, 0.35])
ATTRIBUTE_SETS: tuple[tuple[str, ...], ...] = (("shape",), ("size", "shape"), ("fill", "shape"), ("size", "fill", "shape"))


@dataclass
class ShapeObject:
    """One object: its attributes, centre, and how it is coloured (None means grey)."""

    shape: str
    size: str
    fill: str
    grey: int
    center: tuple[int, int]  # (x, y) pixel
    color: str | None = None
    tinted: bool = False
    tint_alpha: float = 0.5
    rgb: tuple[int, int, int] | None = None

    @property
    def radius(self) -> int:
        return RADIUS[self.size]

    @property
    def box(self) -> np.ndarray:
        """Tight box, xyxy in pixels with exclusive right/bottom edges."""
        x, y = self.center
        r = self.radius
        return np.array([x - r, y - r, x + r + 1, y + r + 1], dtype=np.float32)

    @property
    def color_word(self) -> str:
        return self.color if self.color is not None else "gray"


@dataclass
class Scene:
    """An image (float32 HxWx3 in [0, 1]) and the objects drawn in it."""

    image: np.ndarray
    objects: list[ShapeObject] = field(default_factory=list)


@dataclass
class GroundingItem:
    """A referring-expression query over a scene: proposals (xyxy), the target index and box."""

    scene: Scene
    query: str
    proposals: np.ndarray  # [n, 4] xyxy float32
    target: int
    tags: list[str]

    @property
    def target_box(self) -> np.ndarray:
        return self.scene.objects[self.target].box


def shape_mask(shape: str, center: tuple[int, int], radius: int, hollow: bool, size: int = CANVAS) -> np.ndarray:
    """Boolean HxW mask of one shape; hollow shapes keep a 2-pixel outline."""
    ys, xs = np.mgrid[0:size, 0:size]
    dx = xs - center[0]
    dy = ys - center[1]
    r = radius
    if shape == "circle":
        mask = dx * dx + dy * dy <= r * r
    elif shape == "square":
        mask = (np.abs(dx) <= r) & (np.abs(dy) <= r)
    elif shape == "diamond":
        mask = np.abs(dx) + np.abs(dy) <= r
    elif shape == "triangle":  # apex up, base at the bottom of the box
        mask = (dy >= -r) & (dy <= r) & (2 * np.abs(dx) <= dy + r)
    elif shape == "cross":
        arm = max(1, r // 3)
        mask = ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    else:
        raise ValueError(f"unknown shape {shape!r}")
    if hollow:
        mask = mask & ~ndimage.binary_erosion(mask, iterations=2)
    return mask


def render(objects: list[ShapeObject], rng: np.random.Generator) -> np.ndarray:
    """Draw objects on a noisy light-grey canvas; returns float32 HxWx3 in [0, 1]."""
    background = rng.uniform(195, 230)
    image = background + rng.normal(0.0, 6.0, size=(CANVAS, CANVAS, 1))
    image = np.repeat(image, 3, axis=2)
    for obj in objects:
        mask = shape_mask(obj.shape, obj.center, obj.radius, obj.fill == "hollow")
        if obj.color is not None and not obj.tinted:
            image[mask] = obj.rgb
        else:
            image[mask] = obj.grey
        if obj.color is not None and obj.tinted:
            x1, y1, x2, y2 = obj.box.astype(int)
            block = image[max(y1, 0) : y2, max(x1, 0) : x2]
            image[max(y1, 0) : y2, max(x1, 0) : x2] = (1 - obj.tint_alpha) * block + obj.tint_alpha * np.asarray(obj.rgb)
    return np.clip(image / 255.0, 0.0, 1.0).astype(np.float32)


def _jittered_rgb(color: str, rng: np.random.Generator) -> tuple[int, int, int]:
    base = np.asarray(PALETTE_RGB[color], dtype=float)
    return tuple(int(v) for v in np.clip(base + rng.integers(-25, 26, size=3), 0, 255))


def place_objects(count: int, rng: np.random.Generator, shapes: list[str] | None = None) -> list[ShapeObject]:
    """Sample ``count`` objects on non-overlapping boxes (fewer if the canvas is full)."""
    objects: list[ShapeObject] = []
    for index in range(count):
        shape = shapes[index] if shapes is not None else str(rng.choice(SHAPES))
        size = str(rng.choice(SIZES))
        r = RADIUS[size]
        for _ in range(200):
            center = (int(rng.integers(r + 1, CANVAS - r - 1)), int(rng.integers(r + 1, CANVAS - r - 1)))
            candidate = ShapeObject(shape, size, str(rng.choice(FILLS)), int(rng.integers(40, 101)), center)
            box = candidate.box
            if all(_boxes_apart(box, other.box, margin=2) for other in objects):
                objects.append(candidate)
                break
    return objects


def _boxes_apart(a: np.ndarray, b: np.ndarray, margin: float) -> bool:
    return bool(a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def phrase(obj: ShapeObject, attributes: tuple[str, ...], article: str = "the") -> str:
    """'the big hollow triangle' for attributes ('size', 'fill', 'shape')."""
    words = [getattr(obj, a) for a in ("size", "fill", "shape") if a in attributes]
    return " ".join([article, *words])


def unique_attribute_sets(objects: list[ShapeObject], index: int) -> list[tuple[str, ...]]:
    """Attribute sets (shortest first) that single out ``objects[index]`` among all objects."""
    target = objects[index]
    found = []
    for attributes in ATTRIBUTE_SETS:
        matches = [o for o in objects if all(getattr(o, a) == getattr(target, a) for a in attributes)]
        if len(matches) == 1:
            found.append(attributes)
    return found


def relation(a: ShapeObject, b: ShapeObject) -> str:
    """Where a lies relative to b, from the centre offset: left of / right of / above / below."""
    dx = a.center[0] - b.center[0]
    dy = a.center[1] - b.center[1]
    if abs(dx) >= abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def referring_expression(objects: list[ShapeObject], index: int) -> str | None:
    """Shortest unique attribute phrase, else 'attributes + relation + unique landmark'; None if neither."""
    unique = unique_attribute_sets(objects, index)
    if unique:
        return phrase(objects[index], unique[0])
    target = objects[index]
    for attributes in ATTRIBUTE_SETS:
        rivals = [
            k for k, o in enumerate(objects) if all(getattr(o, a) == getattr(target, a) for a in attributes)
        ]
        for landmark, other in enumerate(objects):
            if landmark in rivals:
                continue
            landmark_sets = unique_attribute_sets(objects, landmark)
            if not landmark_sets:
                continue
            rel = relation(target, other)
            if sum(relation(objects[k], other) == rel for k in rivals) == 1:
                return f"{phrase(target, attributes)} {rel} {phrase(other, landmark_sets[0])}"
    return None


def _color_objects(objects: list[ShapeObject], rng: np.random.Generator, probability: float) -> None:
    weights = PALETTE_WEIGHTS / PALETTE_WEIGHTS.sum()
    for obj in objects:
        if rng.random() < probability:
            obj.color = str(rng.choice(PALETTE, p=weights))
            obj.rgb = _jittered_rgb(obj.color, rng)
            obj.tinted = bool(rng.random() < 0.5)
            obj.tint_alpha = float(rng.uniform(0.4, 0.6))


def pretraining_scene(rng: np.random.Generator, color_probability: float = 0.75) -> tuple[Scene, str]:
    """A scene of 1-5 objects (25% single), each coloured with p=0.75, and a 2-3 clause caption."""
    count = 1 if rng.random() < 0.25 else int(rng.integers(2, 6))
    objects = place_objects(count, rng)
    _color_objects(objects, rng, color_probability)
    scene = Scene(render(objects, rng), objects)
    return scene, caption(objects, rng)


def caption(objects: list[ShapeObject], rng: np.random.Generator, max_words: int = 22) -> str:
    """2-3 clauses joined by 'and': attribute (25%), relation (25%), 'X is C' (50%)."""
    clauses: list[str] = []
    wanted = int(rng.integers(2, 4))
    for _ in range(wanted * 3):
        if len(clauses) == wanted:
            break
        kind = rng.random()
        if kind < 0.25:
            obj = objects[int(rng.integers(len(objects)))]
            text = f"a {obj.size} {obj.fill} {obj.color_word} {obj.shape}"
        elif kind < 0.5:
            if len(objects) < 2:
                continue
            i, j = rng.choice(len(objects), size=2, replace=False)
            text = f"{_any_phrase(objects, int(i), rng)} is {relation(objects[i], objects[j])} {_any_phrase(objects, int(j), rng)}"
        else:
            index = int(rng.integers(len(objects)))
            color = objects[index].color_word
            subject = _any_phrase(objects, index, rng)
            text = f"{subject} is {color}" if rng.random() < 0.5 else f"{subject} is in {color} color"
        if text in clauses:
            continue
        candidate = " and ".join([*clauses, text])
        if len(candidate.split()) > max_words:
            continue
        clauses.append(text)
    return " and ".join(clauses)


def _any_phrase(objects: list[ShapeObject], index: int, rng: np.random.Generator) -> str:
    """A random attribute phrase that singles the object out, or its full description if none does."""
    unique = unique_attribute_sets(objects, index)
    attributes = unique[int(rng.integers(len(unique)))] if unique else ATTRIBUTE_SETS[-1]
    return phrase(objects[index], attributes)


def jitter_boxes(boxes: np.ndarray, rng: np.random.Generator, pixels: int = 2) -> np.ndarray:
    """Proposal boxes: object boxes moved by up to +-``pixels`` per edge, clipped to the canvas."""
    moved = boxes + rng.integers(-pixels, pixels + 1, size=boxes.shape)
    moved = np.clip(moved, 0, CANVAS)
    moved[:, 2] = np.maximum(moved[:, 2], moved[:, 0] + 2)
    moved[:, 3] = np.maximum(moved[:, 3], moved[:, 1] + 2)
    return moved.astype(np.float32)


def grounding_item(rng: np.random.Generator) -> GroundingItem:
    """A downstream query: 3-5 grey objects, distractors share the target's shape with p=0.8."""
    while True:
        count = int(rng.integers(3, 6))
        target_shape = str(rng.choice(SHAPES))
        shapes = [target_shape] + [
            target_shape if rng.random() < 0.8 else str(rng.choice(SHAPES)) for _ in range(count - 1)
        ]
        objects = place_objects(count, rng, shapes)
        if len(objects) < 3:
            continue
        order = rng.permutation(len(objects))
        objects = [objects[k] for k in order]
        target = int(np.flatnonzero(order == 0)[0])
        query = referring_expression(objects, target)
        if query is None:
            continue
        scene = Scene(render(objects, rng), objects)
        proposals = jitter_boxes(np.stack([o.box for o in objects]), rng)
        return GroundingItem(scene, query, proposals, target, [o.shape for o in objects])


def gate_item(rng: np.random.Generator) -> GroundingItem:
    """Grounding gate G0: 2-4 objects, each tinted with a different palette colour."""
    while True:
        count = int(rng.integers(2, 5))
        objects = place_objects(count, rng)
        if len(objects) < 2:
            continue
        colors = rng.choice(PALETTE, size=len(objects), replace=False)
        for obj, color in zip(objects, colors, strict=True):
            obj.color = str(color)
            obj.rgb = _jittered_rgb(obj.color, rng)
            obj.tinted = True
            obj.tint_alpha = 0.5
        target = int(rng.integers(len(objects)))
        query = referring_expression(objects, target)
        if query is None:
            continue
        scene = Scene(render(objects, rng), objects)
        proposals = jitter_boxes(np.stack([o.box for o in objects]), rng)
        return GroundingItem(scene, query, proposals, target, [o.shape for o in objects])


def grounding_items(count: int, seed: int, kind: str = "grounding") -> list[GroundingItem]:
    """``count`` seeded queries of the downstream ('grounding') or gate ('gate') kind."""
    rng = np.random.default_rng(seed)
    make = grounding_item if kind == "grounding" else gate_item
    return [make(rng) for _ in range(count)]
