"""The two .npz files that let any model feed IETrans: the pairs to score, and the scores.

``pairs.npz`` (written by ``tenfold ietrans pairs``; all box indices are global rows of the h5's boxes):
  rel_boxes (n_rel, 2) int64, rel_predicates (n_rel,), rel_h5_rows (n_rel,)   annotated training relations
  cand_boxes (n_cand, 2) int64, cand_h5_rows (n_cand,)                        external-transfer candidates
``probs.npz`` (written by your model, or ``tenfold ietrans train --probs-out``), rows in the same order:
  rel_probs (n_rel, P + 1) or rel_logits (n_rel, P + 1)                       column 0 = background
  cand_probs (n_cand, P + 1) or cand_logits (n_cand, P + 1)                   optional: no external transfer without
  rel_boxes / cand_boxes                                                      optional: checked against ours if present
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tenfold.core.errors import BadInputError
from tenfold.core.io import atomic_save_npz, read_npz
from tenfold.ietrans.scene_graphs import SceneGraphs
from tenfold.ietrans.transfer import Candidates, softmax


def h5_box_indices(graphs: SceneGraphs, global_objects: np.ndarray, first_box: np.ndarray) -> np.ndarray:
    """Our global object indices -> the h5's global box rows, using each image's img_to_first_box."""
    image = graphs.object_image[global_objects]
    return first_box[graphs.h5_rows[image]] + (global_objects - graphs.object_offsets[image])


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Compressed .npz, written atomically."""
    atomic_save_npz(Path(path), arrays)


def load_npz(path: Path, option: str = "--probs") -> dict[str, np.ndarray]:
    """Arrays of an .npz without unpickling anything."""
    return read_npz(path, option=option)


def probabilities_from(arrays: dict[str, np.ndarray], prefix: str, rows: int, num_predicates: int) -> np.ndarray | None:
    """``<prefix>_probs`` as is, or softmax of ``<prefix>_logits``; None when neither is present."""
    if f"{prefix}_probs" in arrays and f"{prefix}_logits" in arrays:
        raise BadInputError(f"give either {prefix}_probs or {prefix}_logits, not both")
    key = f"{prefix}_probs" if f"{prefix}_probs" in arrays else f"{prefix}_logits"
    if key not in arrays:
        return None
    values = np.asarray(arrays[key])
    if values.ndim != 2 or values.shape != (rows, num_predicates + 1):
        raise BadInputError(
            f"{key} has shape {values.shape}; expected ({rows}, {num_predicates + 1}): one row per "
            f"{'annotated relation' if prefix == 'rel' else 'candidate pair'} and P + 1 columns (background first)"
        )
    if not np.all(np.isfinite(values)):
        raise BadInputError(f"{key} contains NaN or infinite values")
    return softmax(values) if key.endswith("_logits") else values.astype(np.float64)


def check_alignment(arrays: dict[str, np.ndarray], key: str, expected: np.ndarray) -> None:
    """If the file carries its own pair list, it must be ours (same pairs, same order)."""
    if key in arrays and not np.array_equal(np.asarray(arrays[key]).reshape(-1, 2), expected):
        raise BadInputError(
            f"{key} in the probabilities file lists other pairs than this h5's training split; "
            "score the pairs written by `tenfold ietrans pairs` in their order"
        )


def candidate_pairs(candidates: Candidates) -> np.ndarray:
    return np.stack([candidates.subject, candidates.object], axis=1)
