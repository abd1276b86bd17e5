"""The VG-150 h5 reader and writers on tiny files written here with h5py."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError
from tenfold.ietrans.scene_graphs import SceneGraphs
from tenfold.ietrans.vg_h5 import read_vg_h5, write_transferred_h5, write_vg_files


def tiny_split(seed: int, images: int = 3) -> SceneGraphs:
    rng = np.random.default_rng(seed)
    counts = rng.integers(2, 5, images)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    x1 = rng.uniform(0.0, 0.5, (offsets[-1], 2))
    boxes = np.concatenate([x1, x1 + rng.uniform(0.1, 0.4, (offsets[-1], 2))], axis=1).astype(np.float32)
    relations = [[offsets[k], offsets[k] + 1, 1 + (k % 3)] for k in range(images)]
    relations += [[offsets[k] + 1, offsets[k], 2] for k in range(images) if k % 2 == 0]
    graphs = SceneGraphs(
        object_labels=rng.integers(1, 5, offsets[-1]),
        boxes=boxes,
        object_offsets=offsets.astype(np.int64),
        relations=np.zeros((0, 3), np.int64),
        num_object_classes=4,
        num_predicates=3,
        image_sizes=np.ones((images, 2), np.float32),
        predicate_names=("__background__", "on", "riding", "near"),
    )
    return graphs.with_relations(np.array(relations))


@pytest.fixture
def vg_files(tmp_path):
    train, test = tiny_split(0), tiny_split(1, images=2)
    paths = write_vg_files(tmp_path / "vg", {"train": train, "test": test})
    return paths, train, test


def read(paths, **kwargs) -> SceneGraphs:
    return read_vg_h5(paths["h5"], paths["dicts"], image_data_path=paths["image_data"], **kwargs)


def test_round_trip_of_a_written_split(vg_files):
    paths, train, test = vg_files
    loaded = read(paths)
    np.testing.assert_array_equal(loaded.object_labels, train.object_labels)
    np.testing.assert_array_equal(loaded.relations, train.relations)
    np.testing.assert_allclose(loaded.boxes / 1024, train.boxes, atol=1e-5)
    assert loaded.predicate_names[1:] == ("on", "riding", "near")
    assert loaded.h5_rows.tolist() == [0, 1, 2]
    assert read(paths, split="test").h5_rows.tolist() == [3, 4]


def test_transferred_h5_rebuilds_the_index_arrays(vg_files, tmp_path):
    paths, train, test = vg_files
    loaded = read(paths)
    relations = loaded.relations.copy()
    relations[:, 2] = 3
    extra = np.array([[loaded.object_offsets[2] + 1, loaded.object_offsets[2], 1]])
    changed = loaded.with_relations(np.concatenate([relations[loaded.relation_image != 1], extra]))
    out = tmp_path / "out.h5"
    write_transferred_h5(paths["h5"], out, changed)
    again = read_vg_h5(out, paths["dicts"], image_data_path=paths["image_data"], filter_empty_rels=False)
    np.testing.assert_array_equal(again.relations, changed.relations)
    with h5py.File(out) as h5:
        assert h5["img_to_first_rel"][1] == -1 and h5["img_to_last_rel"][1] == -1
    np.testing.assert_array_equal(read_vg_h5(out, paths["dicts"], split="test").relations, test.relations)
    assert read_vg_h5(out, paths["dicts"]).num_images == 2  # the emptied image is filtered like Tang's loader


def rewrite(path, **changes):
    with h5py.File(path, "a") as h5:
        for key, value in changes.items():
            if value is None:
                del h5[key]
            else:
                del h5[key]
                h5.create_dataset(key, data=value)


def test_missing_dataset_is_named(vg_files):
    paths, _, _ = vg_files
    rewrite(paths["h5"], predicates=None)
    with pytest.raises(BadInputError, match="predicates"):
        read(paths)


def test_bad_boxes_are_rejected(vg_files):
    paths, _, _ = vg_files
    with h5py.File(paths["h5"]) as h5:
        boxes = h5["boxes_1024"][:]
    boxes[0, 2] = 0
    rewrite(paths["h5"], boxes_1024=boxes)
    with pytest.raises(BadInputError, match="width/height"):
        read(paths)


def test_relation_outside_its_image_is_rejected(vg_files):
    paths, _, _ = vg_files
    with h5py.File(paths["h5"]) as h5:
        rels = h5["relationships"][:]
        last = h5["img_to_last_box"][0]
    rels[0, 1] = last + 1
    rewrite(paths["h5"], relationships=rels)
    with pytest.raises(BadInputError, match="outside its image"):
        read(paths)


def test_inconsistent_relation_index_is_rejected(vg_files):
    paths, _, _ = vg_files
    with h5py.File(paths["h5"]) as h5:
        first = h5["img_to_first_rel"][:]
    first[1] = -1
    rewrite(paths["h5"], img_to_first_rel=first)
    with pytest.raises(BadInputError, match="disagree"):
        read(paths)


def test_background_predicate_in_annotations_is_rejected(vg_files):
    paths, _, _ = vg_files
    with h5py.File(paths["h5"]) as h5:
        predicates = h5["predicates"][:]
    predicates[0] = 0
    rewrite(paths["h5"], predicates=predicates)
    with pytest.raises(BadInputError, match="background"):
        read(paths)


def test_self_relations_and_duplicates_are_cleaned_with_warnings(vg_files):
    paths, train, _ = vg_files
    with h5py.File(paths["h5"]) as h5:
        rels, predicates = h5["relationships"][:], h5["predicates"][:]
    rels[1] = rels[0]
    predicates[1] = predicates[0]  # an exact duplicate of row 0 (same image)
    rels[2, 1] = rels[2, 0]  # a self-relation
    rewrite(paths["h5"], relationships=rels, predicates=predicates)
    with pytest.warns(UserWarning) as record:
        loaded = read(paths)
    messages = " ".join(str(w.message) for w in record)
    assert "self-relations" in messages and "duplicate" in messages
    assert loaded.num_relations == train.num_relations - 2


def test_misaligned_image_data_is_rejected(vg_files):
    paths, _, _ = vg_files
    entries = json.loads(paths["image_data"].read_text())
    paths["image_data"].write_text(json.dumps(entries[:-1]))
    with pytest.raises(BadInputError, match="out of alignment"):
        read(paths)
    entries[0]["image_id"] = 1592  # a corrupted id is dropped, so the count no longer matches
    paths["image_data"].write_text(json.dumps(entries))
    with pytest.raises(BadInputError, match="108,073|108073"):
        read(paths)


def test_val_conventions_are_checked(vg_files):
    paths, _, _ = vg_files
    with pytest.raises(BadConfigError, match="carve"):
        read(paths, split="val")
    assert read(paths, split="val", val_mode="carve", val_size=1).num_images == 1
    assert read(paths, split="train", val_mode="carve", val_size=1).num_images == 2
    with h5py.File(paths["h5"]) as h5:
        split = h5["split"][:]
    split[0] = 1
    rewrite(paths["h5"], split=split)
    with pytest.raises(BadConfigError, match="split=1"):
        read(paths, split="val", val_mode="carve")
    assert read(paths, split="val").h5_rows.tolist() == [0]


def test_missing_files_and_bad_dicts(vg_files, tmp_path):
    paths, _, _ = vg_files
    with pytest.raises(MissingDataError):
        read_vg_h5(tmp_path / "none.h5", paths["dicts"])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(BadInputError, match="idx_to_label"):
        read_vg_h5(paths["h5"], tmp_path / "bad.json")
    (tmp_path / "notes.h5").write_text("not hdf5")
    with pytest.raises(BadInputError, match="HDF5"):
        read_vg_h5(tmp_path / "notes.h5", paths["dicts"])


def test_unannotated_training_images_are_read_when_asked(tmp_path):
    train = tiny_split(0, images=4)
    keep = train.relation_image != 3  # image 3 keeps its boxes but loses every relation
    train = train.with_relations(train.relations[keep])
    paths = write_vg_files(tmp_path / "vg", {"train": train, "test": tiny_split(1, images=2)})
    assert read(paths).num_images == 3  # the official training filter drops it
    everything = read(paths, filter_empty_rels=False)
    assert everything.num_images == 4 and everything.h5_rows.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(everything.relations, train.relations)


def test_dicts_file_loads_like_the_standard_vg_loader(vg_files):
    """Scene-Graph-Benchmark's load_info adds __background__ to each *_to_idx table and sorts by index; its
    load_graphs reads the attributes dataset. Both must work on what we write."""
    paths, train, _ = vg_files
    info = json.loads(paths["dicts"].read_text())
    for table in ("label_to_idx", "predicate_to_idx", "attribute_to_idx"):
        info[table]["__background__"] = 0
        names = sorted(info[table], key=lambda k: info[table][k])
        assert names[0] == "__background__"
    assert info["idx_to_attribute"] == {}
    assert sum(info["predicate_count"].values()) == train.num_relations + 3  # train (6) + test (3) relations
    with h5py.File(paths["h5"], "r") as h5:
        assert h5["attributes"].shape == (len(h5["labels"]), 10)
