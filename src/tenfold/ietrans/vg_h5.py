"""Reader and writer of the Visual Genome SGG files (``VG-SGG-with-attri.h5``, the dicts json, image_data.json).

The reader checks every alignment the official loaders assume silently (spec 2.2 and 7) and raises a
named error instead of a CUDA index assert later. The writer rewrites only the relation datasets and the
``img_to_first_rel``/``img_to_last_rel`` index arrays, so Scene-Graph-Benchmark trains on the output unchanged.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.io import atomic_file, atomic_write_text, check_input_file, read_json
from tenfold.ietrans.scene_graphs import SceneGraphs, clean_relations

PER_IMAGE = ("split", "img_to_first_box", "img_to_last_box", "img_to_first_rel", "img_to_last_rel")
REQUIRED = PER_IMAGE + ("labels", "relationships", "predicates")
CORRUPTED_IMAGE_IDS = (1592, 1722, 4616, 4617)
VG150_IMAGES = 108_073
SPLIT_FLAGS = {"train": 0, "val": 1, "test": 2}


def _ranges(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Concatenate inclusive ranges first[k]..last[k] without a Python loop."""
    counts = np.maximum(last - first + 1, 0)
    total = int(counts.sum())
    starts = np.repeat(first, counts)
    return starts + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def read_dicts(path: str | Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Object and predicate names (index 0 = "__background__") from ``VG-SGG-dicts-with-attri.json``."""
    path = Path(path)
    data = read_json(path, option="--dicts")
    names = []
    for key in ("idx_to_label", "idx_to_predicate"):
        table = data.get(key) if isinstance(data, dict) else None
        if not isinstance(table, dict) or not table:
            raise BadInputError(f"{path} has no '{key}' mapping; is it VG-SGG-dicts-with-attri.json?")
        try:
            ids = sorted(int(k) for k in table)
        except ValueError:
            raise BadInputError(f"{path}: '{key}' keys must be integers as strings starting at '1'") from None
        if ids != list(range(1, len(ids) + 1)):
            raise BadInputError(f"{path}: '{key}' ids must be 1..{len(ids)} without gaps")
        names.append(("__background__",) + tuple(str(table[str(i)]) for i in ids))
    return names[0], names[1]


def read_image_data(path: str | Path, expected_rows: int) -> np.ndarray:
    """(width, height) per h5 row from ``image_data.json`` after dropping the 4 corrupted images."""
    path = Path(path)
    entries = read_json(path, option="--image-data")
    if not isinstance(entries, list):
        raise BadInputError(f"{path} must be a JSON list of {{image_id, width, height, ...}}")
    try:
        kept = [e for e in entries if int(e["image_id"]) not in CORRUPTED_IMAGE_IDS]
        sizes = np.array([[float(e["width"]), float(e["height"])] for e in kept], dtype=np.float32)
    except (KeyError, TypeError, ValueError):
        raise BadInputError(f"{path}: every entry needs numeric image_id, width and height") from None
    if len(kept) != expected_rows:
        raise BadInputError(
            f"{path} has {len(kept)} images after dropping the corrupted ids {list(CORRUPTED_IMAGE_IDS)} but the h5 has "
            f"{expected_rows} rows (real VG-150: {VG150_IMAGES}); the two files are out of alignment"
        )
    if len(sizes) and np.any(sizes <= 0):
        raise BadInputError(f"{path}: image widths and heights must be positive")
    return sizes.reshape(-1, 2)


def _open_h5(path: Path):
    import h5py

    check_input_file(path, option="--h5", what="VG-SGG h5 file")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise BadInputError(f"--h5 {path} is not a readable HDF5 file; give VG-SGG-with-attri.h5") from None


def _select_rows(flags: np.ndarray, split: str, val_mode: str, val_size: int) -> np.ndarray:
    """Rows of the requested split; val either from split flag 1 or carved from the end of train."""
    has_val_flag = bool(np.any(flags == 1))
    if val_mode == "carve" and has_val_flag:
        raise BadConfigError(
            "the h5 already marks validation images with split=1 (IETrans's convention) but val_mode='carve' "
            "was asked; use val_mode='flag' or 'auto'"
        )
    if val_mode == "flag" and not has_val_flag:
        raise BadConfigError(
            "val_mode='flag' needs images with split=1 but this h5 has none (Tang's convention carves val from "
            "train at load time); use val_mode='carve'"
        )
    carve = val_mode == "carve"
    if split == "test":
        return np.flatnonzero(flags == 2)
    if not carve:
        if split == "val" and not has_val_flag:
            raise BadConfigError("this h5 has no split=1 images; pass val_mode='carve' to carve val from train")
        return np.flatnonzero(flags == SPLIT_FLAGS[split])
    train = np.flatnonzero(flags == 0)
    if val_size < 1 or val_size >= len(train):
        raise BadConfigError(f"cannot carve {val_size} validation images from {len(train)} training images")
    return train[-val_size:] if split == "val" else train[:-val_size]


def read_vg_h5(
    h5_path: str | Path,
    dicts_path: str | Path,
    *,
    split: str = "train",
    image_data_path: str | Path | None = None,
    filter_empty_rels: bool = True,
    val_mode: str = "auto",
    val_size: int = 5000,
    box_scale: int = 1024,
) -> SceneGraphs:
    """Load one split of a VG-150 h5 as :class:`SceneGraphs` (boxes x1y1x2y2; pixels when image_data is given).

    ``val_mode``: "auto" (split=1 images if present), "flag" (require them) or "carve" (the last ``val_size``
    training images become val and leave train). Self-relations are dropped and exact duplicate triplets
    removed, each with a warning; multi-label pairs are kept. ``filter_empty_rels=False`` keeps images that
    have boxes but no annotated relation: the official external transfer draws candidates from them too.
    """
    if split not in SPLIT_FLAGS:
        raise BadConfigError(f"split={split!r}; use train, val or test")
    if val_mode not in ("auto", "flag", "carve"):
        raise BadConfigError(f"val_mode={val_mode!r}; use auto, flag or carve")
    object_names, predicate_names = read_dicts(dicts_path)
    num_c, num_p = len(object_names) - 1, len(predicate_names) - 1
    h5_path = Path(h5_path)
    box_key = f"boxes_{box_scale}"
    with _open_h5(h5_path) as h5:
        missing = [k for k in REQUIRED + (box_key,) if k not in h5]
        if missing:
            raise BadInputError(f"{h5_path} lacks the datasets {', '.join(missing)}; is it VG-SGG-with-attri.h5?")
        per_image = {k: np.asarray(h5[k][:]).reshape(-1).astype(np.int64) for k in PER_IMAGE}
        n_rows = len(per_image["split"])
        bad_length = [k for k, v in per_image.items() if len(v) != n_rows]
        if bad_length:
            raise BadInputError(f"{h5_path}: {', '.join(bad_length)} do not have one entry per image ({n_rows})")
        all_boxes = np.asarray(h5[box_key][:], dtype=np.float64)
        labels = np.asarray(h5["labels"][:]).reshape(-1).astype(np.int64)
        relationships = np.asarray(h5["relationships"][:]).astype(np.int64)
        predicates = np.asarray(h5["predicates"][:]).reshape(-1).astype(np.int64)
    if all_boxes.ndim != 2 or all_boxes.shape[1] != 4 or len(all_boxes) != len(labels):
        raise BadInputError(f"{box_key} must be (n_boxes, 4) cx, cy, w, h with one row per label; got {all_boxes.shape}")
    if relationships.ndim != 2 or relationships.shape[1] != 2 or len(relationships) != len(predicates):
        raise BadInputError("relationships must be (n_rel, 2) with one predicate per row")
    sizes = read_image_data(image_data_path, n_rows) if image_data_path is not None else None

    rows = _select_rows(per_image["split"], split, val_mode, val_size)
    first_box, last_box = per_image["img_to_first_box"][rows], per_image["img_to_last_box"][rows]
    first_rel, last_rel = per_image["img_to_first_rel"][rows], per_image["img_to_last_rel"][rows]
    inconsistent = ((first_rel < 0) != (last_rel < 0)) | ((first_rel >= 0) & (last_rel < first_rel))
    if np.any(inconsistent):
        row = int(rows[np.flatnonzero(inconsistent)[0]])
        raise BadInputError(
            f"h5 row {row}: img_to_first_rel={per_image['img_to_first_rel'][row]} and "
            f"img_to_last_rel={per_image['img_to_last_rel'][row]} disagree about whether the image has relations"
        )
    if np.any(last_rel >= len(predicates)):
        raise BadInputError("img_to_last_rel points past the end of the relationships dataset")
    keep = (first_box >= 0) & (last_box >= first_box)
    if filter_empty_rels:
        keep &= first_rel >= 0
    rows, first_box, last_box, first_rel, last_rel = (a[keep] for a in (rows, first_box, last_box, first_rel, last_rel))
    if np.any(last_box >= len(labels)):
        raise BadInputError("img_to_last_box points past the end of the labels dataset")

    box_rows = _ranges(first_box, last_box)
    boxes = all_boxes[box_rows]
    bad = (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0) | (boxes[:, 0] < 0) | (boxes[:, 1] < 0)
    if np.any(bad):
        raise BadInputError(
            f"{int(bad.sum())} boxes in {box_key} have non-positive width/height or negative centres "
            f"(first at box row {int(box_rows[np.flatnonzero(bad)[0]])}); boxes must be cx, cy, w, h"
        )
    object_labels = labels[box_rows]
    if len(object_labels) and (object_labels.min() < 1 or object_labels.max() > num_c):
        raise BadInputError(f"object labels must be 1..{num_c} (the dicts file's idx_to_label)")
    corners = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], axis=1)
    image_sizes = None
    counts = last_box - first_box + 1
    object_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if sizes is not None:
        image_sizes = sizes[rows]
        scale = np.repeat(image_sizes.max(axis=1) / box_scale, counts)
        corners = corners * scale[:, None]

    rel_counts = np.where(first_rel >= 0, last_rel - first_rel + 1, 0)
    rel_rows = _ranges(np.where(first_rel >= 0, first_rel, 0), np.where(first_rel >= 0, last_rel, -1))
    rel_image = np.repeat(np.arange(len(rows)), rel_counts)
    pairs = relationships[rel_rows]
    outside = (pairs < first_box[rel_image, None]) | (pairs > last_box[rel_image, None])
    if np.any(outside):
        at = int(rel_rows[np.flatnonzero(outside.any(axis=1))[0]])
        raise BadInputError(
            f"relationship row {at} links boxes {relationships[at].tolist()} outside its image's "
            "[img_to_first_box, img_to_last_box]"
        )
    rel_predicates = predicates[rel_rows]
    if np.any(rel_predicates == 0):
        raise BadInputError("predicate id 0 (background) appears among the annotations; annotations must be 1..P")
    if len(rel_predicates) and (rel_predicates.min() < 0 or rel_predicates.max() > num_p):
        raise BadInputError(f"predicate ids must be 1..{num_p} (the dicts file's idx_to_predicate)")
    local = pairs - first_box[rel_image, None]
    relations = np.stack(
        [object_offsets[rel_image] + local[:, 0], object_offsets[rel_image] + local[:, 1], rel_predicates], axis=1
    )
    relations, n_self, n_duplicate = clean_relations(relations)
    if n_self:
        warnings.warn(f"dropped {n_self} self-relations (subject == object)", stacklevel=2)
    if n_duplicate:
        warnings.warn(f"removed {n_duplicate} exact duplicate triplets", stacklevel=2)
    graphs = SceneGraphs(
        object_labels=object_labels,
        boxes=corners.astype(np.float32),
        object_offsets=object_offsets,
        relations=np.zeros((0, 3), np.int64),
        num_object_classes=num_c,
        num_predicates=num_p,
        image_sizes=image_sizes,
        h5_rows=rows.astype(np.int64),
        object_names=object_names,
        predicate_names=predicate_names,
    )
    return graphs.with_relations(relations)


def _atomic_h5(path: Path, write) -> None:
    """Write an h5 file through a temp file in the same folder, renamed only when complete."""
    import h5py

    with atomic_file(path) as temporary, h5py.File(temporary, "w") as out:
        write(out)


def write_transferred_h5(source: str | Path, output: str | Path, graphs: SceneGraphs) -> dict[str, int]:
    """Copy ``source`` to ``output`` with the relations of ``graphs``' images replaced (rows via ``h5_rows``).

    Other images keep their relations; the index arrays are rebuilt; images left without relations get -1.
    """

    source, output = Path(source), Path(output)
    if source.resolve() == output.resolve():
        raise BadConfigError("refusing to overwrite the source h5; choose another output path")
    if graphs.h5_rows is None:
        raise BadInputError("these scene graphs were not read from an h5 file (no h5_rows); cannot write them back")
    with _open_h5(source) as h5:
        missing = [k for k in REQUIRED if k not in h5]
        if missing:
            raise BadInputError(f"{source} lacks the datasets {', '.join(missing)}")
        first_box = np.asarray(h5["img_to_first_box"][:]).reshape(-1).astype(np.int64)
        last_box = np.asarray(h5["img_to_last_box"][:]).reshape(-1).astype(np.int64)
        first_rel = np.asarray(h5["img_to_first_rel"][:]).reshape(-1).astype(np.int64)
        last_rel = np.asarray(h5["img_to_last_rel"][:]).reshape(-1).astype(np.int64)
        relationships = np.asarray(h5["relationships"][:]).astype(np.int64)
        predicates = np.asarray(h5["predicates"][:]).reshape(-1).astype(np.int64)
        n_rows = len(first_box)
        rows = graphs.h5_rows
        if rows.max(initial=-1) >= n_rows or np.any(
            last_box[rows] - first_box[rows] + 1 != np.diff(graphs.object_offsets)
        ):
            raise BadInputError(f"the scene graphs do not match {source}'s images (object counts differ)")
        # Old relations of untouched rows, tagged with their row.
        counts = np.where(first_rel >= 0, last_rel - first_rel + 1, 0)
        old_row = np.repeat(np.arange(n_rows), counts)
        old_index = _ranges(np.where(first_rel >= 0, first_rel, 0), np.where(first_rel >= 0, last_rel, -1))
        replaced = np.zeros(n_rows, bool)
        replaced[rows] = True
        keep_old = ~replaced[old_row]
        image = graphs.relation_image
        new_row = rows[image]
        to_box = lambda g: first_box[new_row] + (g - graphs.object_offsets[image])  # noqa: E731
        new_pairs = np.stack([to_box(graphs.relations[:, 0]), to_box(graphs.relations[:, 1])], axis=1)
        all_row = np.concatenate([old_row[keep_old], new_row])
        all_pairs = np.concatenate([relationships[old_index[keep_old]], new_pairs])
        all_predicates = np.concatenate([predicates[old_index[keep_old]], graphs.relations[:, 2]])
        order = np.argsort(all_row, kind="stable")
        all_row, all_pairs, all_predicates = all_row[order], all_pairs[order], all_predicates[order]
        per_row = np.bincount(all_row, minlength=n_rows)
        ends = np.cumsum(per_row)
        new_first = np.where(per_row > 0, ends - per_row, -1)
        new_last = np.where(per_row > 0, ends - 1, -1)
        replacements = {
            "relationships": all_pairs.astype(h5["relationships"].dtype),
            "predicates": all_predicates.reshape(-1, 1).astype(h5["predicates"].dtype)
            if h5["predicates"].ndim == 2
            else all_predicates.astype(h5["predicates"].dtype),
            "img_to_first_rel": new_first.astype(h5["img_to_first_rel"].dtype),
            "img_to_last_rel": new_last.astype(h5["img_to_last_rel"].dtype),
        }

        def write(out) -> None:
            for key, value in h5.attrs.items():
                out.attrs[key] = value
            for key in h5:
                if key in replacements:
                    out.create_dataset(key, data=replacements[key])
                else:
                    h5.copy(h5[key], out, name=key)

        _atomic_h5(output, write)
    return {"images_replaced": int(len(rows)), "relations_written": int(len(all_predicates))}


def write_vg_files(
    folder: str | Path,
    splits: dict[str, SceneGraphs],
    *,
    box_scale: int = 1024,
) -> dict[str, Path]:
    """Write scene graphs as a fresh VG-150 file set (h5, dicts json, image_data json) in ``folder``.

    Used to hand synthetic data to the real-data tools. Boxes are stored as cx, cy, w, h at ``box_scale``.
    """
    folder = Path(folder)
    if not splits:
        raise BadConfigError("give at least one split to write")
    reference = next(iter(splits.values()))
    for name, graphs in splits.items():
        if name not in SPLIT_FLAGS:
            raise BadConfigError(f"split name {name!r}; use train, val or test")
        if (graphs.num_object_classes, graphs.num_predicates) != (reference.num_object_classes, reference.num_predicates):
            raise BadInputError("all splits must share the object and predicate vocabularies")
    flags, labels, boxes, rels, preds, sizes = [], [], [], [], [], []
    first_box, last_box, first_rel, last_rel = [], [], [], []
    n_box = n_rel = 0
    for name, graphs in splits.items():
        extent = (
            np.asarray(graphs.image_sizes, np.float64)
            if graphs.image_sizes is not None
            else np.maximum(np.ceil(_extent(graphs)), 1.0)
        )
        # Synthetic unit-square images become box_scale pixels on their long side.
        if extent.max(initial=0) <= 1.0:
            extent = extent * box_scale
            pixel_boxes = graphs.boxes.astype(np.float64) * box_scale
        else:
            pixel_boxes = graphs.boxes.astype(np.float64)
        image = graphs.object_image
        scale = box_scale / extent.max(axis=1)[image]
        b = pixel_boxes * scale[:, None]
        boxes.append(np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1))
        labels.append(graphs.object_labels)
        rel_counts = np.bincount(graphs.relation_image, minlength=graphs.num_images)
        rel_starts = np.concatenate([[0], np.cumsum(rel_counts)[:-1]])
        obj_counts = np.diff(graphs.object_offsets)
        first_box.append(n_box + graphs.object_offsets[:-1])
        last_box.append(n_box + graphs.object_offsets[:-1] + obj_counts - 1)
        first_rel.append(np.where(rel_counts > 0, n_rel + rel_starts, -1))
        last_rel.append(np.where(rel_counts > 0, n_rel + rel_starts + rel_counts - 1, -1))
        rels.append(graphs.relations[:, :2] + n_box)
        preds.append(graphs.relations[:, 2])
        flags.append(np.full(graphs.num_images, SPLIT_FLAGS[name]))
        sizes.append(extent)
        n_box += len(graphs.object_labels)
        n_rel += graphs.num_relations

    def write(out) -> None:
        out.create_dataset("split", data=np.concatenate(flags).astype(np.int32))
        out.create_dataset("img_to_first_box", data=np.concatenate(first_box).astype(np.int32))
        out.create_dataset("img_to_last_box", data=np.concatenate(last_box).astype(np.int32))
        out.create_dataset("img_to_first_rel", data=np.concatenate(first_rel).astype(np.int32))
        out.create_dataset("img_to_last_rel", data=np.concatenate(last_rel).astype(np.int32))
        out.create_dataset("labels", data=np.concatenate(labels).reshape(-1, 1).astype(np.int32))
        out.create_dataset(f"boxes_{box_scale}", data=np.concatenate(boxes).astype(np.float32))
        out.create_dataset("relationships", data=np.concatenate(rels).astype(np.int32))
        out.create_dataset("predicates", data=np.concatenate(preds).reshape(-1, 1).astype(np.int32))
        # Scene-Graph-Benchmark's loader reads the attributes dataset unconditionally; SynthSGG has none (all 0).
        out.create_dataset("attributes", data=np.zeros((n_box, 10), np.int32))

    paths = {"h5": folder / "VG-SGG-with-attri.h5", "dicts": folder / "VG-SGG-dicts-with-attri.json",
             "image_data": folder / "image_data.json"}
    _atomic_h5(paths["h5"], write)
    objects = reference.object_names or ("__background__",) + tuple(f"object{i}" for i in range(1, reference.num_object_classes + 1))
    predicates_names = reference.predicate_names or ("__background__",) + tuple(
        f"predicate{i}" for i in range(1, reference.num_predicates + 1)
    )
    all_labels = np.concatenate(labels)
    all_predicates = np.concatenate(preds)
    dicts = {
        "idx_to_label": {str(i): objects[i] for i in range(1, len(objects))},
        "label_to_idx": {objects[i]: i for i in range(1, len(objects))},
        "idx_to_predicate": {str(i): predicates_names[i] for i in range(1, len(predicates_names))},
        "predicate_to_idx": {predicates_names[i]: i for i in range(1, len(predicates_names))},
        # The standard VG loader (load_info) indexes attribute_to_idx unconditionally: present, and empty
        # because these scene graphs carry no attributes.
        "idx_to_attribute": {},
        "attribute_to_idx": {},
        "object_count": {objects[i]: int(c) for i, c in enumerate(np.bincount(all_labels, minlength=len(objects))) if i},
        "predicate_count": {
            predicates_names[i]: int(c) for i, c in enumerate(np.bincount(all_predicates, minlength=len(predicates_names))) if i
        },
        "attribute_count": {},
    }
    atomic_write_text(paths["dicts"], json.dumps(dicts, indent=1))
    all_sizes = np.concatenate(sizes)
    image_data = [
        {"image_id": 10_000 + k, "width": int(round(w)), "height": int(round(h)), "url": "", "coco_id": None, "flickr_id": None}
        for k, (w, h) in enumerate(all_sizes)
    ]
    atomic_write_text(paths["image_data"], json.dumps(image_data))
    return paths


def _extent(graphs: SceneGraphs) -> np.ndarray:
    extent = np.zeros((graphs.num_images, 2))
    if len(graphs.boxes):
        np.maximum.at(extent[:, 0], graphs.object_image, graphs.boxes[:, 2])
        np.maximum.at(extent[:, 1], graphs.object_image, graphs.boxes[:, 3])
    return extent


def read_first_box(h5_path: str | Path) -> np.ndarray:
    """``img_to_first_box`` of an h5: maps an image's local object index to the h5's global box row."""
    with _open_h5(Path(h5_path)) as h5:
        if "img_to_first_box" not in h5:
            raise BadInputError(f"{h5_path} lacks the dataset img_to_first_box")
        return np.asarray(h5["img_to_first_box"][:]).reshape(-1).astype(np.int64)
