"""Labelled grounding examples, the accuracy@IoU>0.5 metric, and seeded K-shot draws."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError
from tenfold.cpt.marking import box_iou, check_boxes


@dataclass
class GroundingExample:
    """An image (HxWx3), its proposals (xyxy unless ``box_format``), a query and the ground-truth box."""

    image: np.ndarray
    proposals: np.ndarray
    query: str
    target_box: np.ndarray | None = None
    tags: list[str] | None = None
    masks: np.ndarray | None = None

    def positive_index(self) -> int | None:
        """The proposal with the highest IoU to the ground truth if that IoU is > 0.5, else None.

        Never falls back to proposal 0 (the official code's silent default).
        """
        if self.target_box is None:
            raise BadInputError("example has no target_box; few-shot training needs the ground-truth box")
        height, width = self.image.shape[:2]
        boxes = check_boxes(self.proposals, height, width)
        ious = box_iou(torch.as_tensor(boxes), torch.as_tensor(np.asarray(self.target_box, np.float32)[None]))[:, 0]
        best = int(torch.argmax(ious))
        return best if float(ious[best]) > 0.5 else None


def example_from_item(item: Any) -> GroundingExample:
    """A synthetic :class:`~tenfold.cpt.synth.GroundingItem` as a labelled grounding example."""
    return GroundingExample(item.scene.image, item.proposals, item.query, item.target_box, item.tags)


def fingerprints(examples: list[GroundingExample]) -> set[str]:
    """One hash per example (its pixels and its query), to show that two sets share no example."""
    import hashlib

    return {hashlib.sha1(np.ascontiguousarray(e.image).tobytes() + e.query.encode()).hexdigest() for e in examples}


class Grounder(Protocol):
    def predict(self, image: np.ndarray, proposals: np.ndarray, query: str, *, tags: list[str] | None = None) -> int: ...


def hit(example: GroundingExample, chosen: int) -> bool:
    """Accuracy@0.5: the chosen proposal overlaps the ground truth with IoU > 0.5."""
    box = torch.as_tensor(np.asarray(example.proposals, np.float32)[chosen : chosen + 1])
    target = torch.as_tensor(np.asarray(example.target_box, np.float32)[None])
    return bool(box_iou(box, target)[0, 0] > 0.5)


def random_accuracy(examples: list[GroundingExample]) -> float:
    """Expected accuracy@0.5 of choosing a proposal uniformly at random."""
    rates = []
    for example in examples:
        proposals = torch.as_tensor(np.asarray(example.proposals, np.float32))
        target = torch.as_tensor(np.asarray(example.target_box, np.float32)[None])
        rates.append(float((box_iou(proposals, target)[:, 0] > 0.5).float().mean()))
    return float(np.mean(rates))


def accuracy(grounder: Grounder, examples: list[GroundingExample]) -> float:
    """Mean accuracy@0.5 of ``grounder.predict`` over the examples."""
    if not examples:
        raise BadInputError("accuracy: no examples to evaluate")
    hits = [hit(e, grounder.predict(e.image, e.proposals, e.query, tags=e.tags)) for e in examples]
    return float(np.mean(hits))


def draw_shots(pool_size: int, k: int, seed: int) -> np.ndarray:
    """The K-shot draw for ``seed``: ``default_rng(1000 * K + seed)``, shared by CPT and fine-tuning."""
    if k < 1:
        raise BadConfigError(f"K={k} shots; use K >= 1")
    if k > pool_size:
        raise BadConfigError(f"K={k} shots is larger than the pool of {pool_size} labelled examples")
    return np.sort(np.random.default_rng(1000 * k + seed).choice(pool_size, size=k, replace=False))


def read_examples(path: str | Path, *, option: str = "") -> list[GroundingExample]:
    """Read grounding examples from JSON Lines: {"image", "boxes" (xyxy), "query", "target" (xyxy), "tags"?}.

    Image paths are relative to the file's folder. Used by ``tenfold cpt fewshot --train/--test``.
    Every malformed line (not UTF-8 or JSON, a missing key, a bad box or image) is a BadInputError
    naming the file and the line.
    """
    from tenfold.core.data import read_image
    from tenfold.core.io import check_input_file, parse_json

    path = check_input_file(path, option=option, what="JSON Lines file of grounding examples")
    label = f"{option} {path}" if option else str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"{label} is not UTF-8 text; give a JSON Lines file of grounding examples") from None
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{label}:{number}"
        try:
            record = parse_json(line)
        except BadInputError as error:
            raise BadInputError(f"{where}: {error}; each line is one JSON object") from None
        if not isinstance(record, dict) or not {"image", "boxes", "query", "target"} <= set(record):
            raise BadInputError(f"{where}: not a grounding example; each line needs image, boxes, query and target")
        query, tags, box_format = record["query"], record.get("tags"), record.get("box_format", "xyxy")
        if not isinstance(query, str) or not query.strip():
            raise BadInputError(f"{where}: query must be a non-empty string")
        if not isinstance(record["image"], str) or not record["image"]:
            raise BadInputError(f"{where}: image must be a file name relative to {path.parent}")
        try:
            image = read_image(path.parent / record["image"])
            boxes = check_boxes(record["boxes"], image.shape[0], image.shape[1], box_format)
            target = check_boxes([record["target"]], image.shape[0], image.shape[1], box_format)[0]
        except (BadInputError, MissingDataError) as error:
            raise BadInputError(f"{where}: {error}") from None
        if tags is not None and (not isinstance(tags, list) or len(tags) != len(boxes)
                                 or not all(isinstance(t, str) for t in tags)):
            raise BadInputError(f"{where}: tags must be a list of {len(boxes)} words, one per box")
        examples.append(GroundingExample(image, boxes, query, target, tags))
    if not examples:
        raise BadInputError(f"{label} holds no examples")
    return examples
