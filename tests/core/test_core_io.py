import json
import os

import numpy as np
import pytest

from tenfold.core.errors import BadInputError, MissingDataError
from tenfold.core.io import (
    OUTPUT_MARKER,
    atomic_directory,
    atomic_save_npz,
    atomic_write_json,
    atomic_write_text,
    check_input_dir,
    check_input_file,
    check_output_path,
    parse_json,
    read_json,
    read_npy,
    read_npz,
)


def test_atomic_write_leaves_old_content_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    atomic_write_text(target, "old")

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", explode)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_atomic_json_writes_nan_as_null_and_secret_files_owner_only(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": float("nan"), "y": np.float32(1.5), "z": np.arange(2)})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": None, "y": 1.5, "z": [0, 1]}
    atomic_write_text(tmp_path / "key", "secret", mode=0o600)
    assert (os.stat(tmp_path / "key").st_mode & 0o777) == 0o600


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_output_path_below_a_file_is_refused_before_work(tmp_path, kind):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(BadInputError, match="is a file, not a folder"):
        check_output_path(tmp_path / "plain" / "out", option="--output", kind=kind)


def test_output_file_that_is_a_folder_and_folder_that_is_a_file_are_refused(tmp_path):
    (tmp_path / "existing.json").write_text("{}")
    with pytest.raises(BadInputError, match="is a folder"):
        check_output_path(tmp_path, option="-o")
    with pytest.raises(BadInputError, match="existing file"):
        check_output_path(tmp_path / "existing.json", kind="directory")
    with pytest.raises(BadInputError, match="longer than 255"):
        check_output_path(tmp_path / ("n" * 300 + ".json"))
    with pytest.raises(BadInputError, match="not valid text"):
        check_output_path(tmp_path / "bad\udcffname\ud800.json")
    with pytest.raises(BadInputError, match=r"\.npz"):
        check_output_path(tmp_path / "x.txt", suffixes=(".npz",))
    assert check_output_path(tmp_path / "new" / "deeper" / "x.npz", suffixes=(".npz",)).name == "x.npz"
    assert not (tmp_path / "new").exists()  # checking creates nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_output_path_in_a_read_only_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(BadInputError, match="permission"):
            check_output_path(locked / "x.json")
    finally:
        locked.chmod(0o700)


def test_input_checks_name_missing_folder_and_empty(tmp_path):
    with pytest.raises(MissingDataError, match="does not exist"):
        check_input_file(tmp_path / "nope.npy", option="DATA")
    with pytest.raises(BadInputError, match="is a folder"):
        check_input_file(tmp_path, option="DATA")
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(BadInputError, match="is empty"):
        check_input_file(tmp_path / "empty.npy")
    (tmp_path / "file.zip").write_bytes(b"PK")
    with pytest.raises(BadInputError, match="is a file"):
        check_input_dir(tmp_path / "file.zip", option="DATA")
    with pytest.raises(MissingDataError):
        check_input_dir(tmp_path / "none")


def test_array_readers_refuse_truncated_pickled_and_wrong_kind(tmp_path):
    np.save(tmp_path / "ok.npy", np.arange(4.0))
    assert read_npy(tmp_path / "ok.npy").tolist() == [0, 1, 2, 3]
    (tmp_path / "cut.npy").write_bytes((tmp_path / "ok.npy").read_bytes()[:60])
    with pytest.raises(BadInputError, match="not a readable .npy"):
        read_npy(tmp_path / "cut.npy", option="FEATURES")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(BadInputError):
        read_npy(tmp_path / "obj.npy")
    atomic_save_npz(tmp_path / "a.npz", {"x": np.ones(2)})
    with pytest.raises(BadInputError, match="npz archive"):
        read_npy(tmp_path / "a.npz")
    with pytest.raises(BadInputError, match="lacks the arrays y"):
        read_npz(tmp_path / "a.npz", required=["x", "y"])
    with pytest.raises(BadInputError, match="single .npy"):
        read_npz(tmp_path / "ok.npy")
    (tmp_path / "garbage.npz").write_bytes(b"\x89PNG not an archive")
    with pytest.raises(BadInputError):
        read_npz(tmp_path / "garbage.npz")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xfe{}", "UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[" * 100000, "nested too deeply"),
        (b"1" * 5000, "out of range"),
    ],
)
def test_json_reader_turns_every_failure_into_a_named_error(tmp_path, payload, message):
    (tmp_path / "x.json").write_bytes(payload)
    with pytest.raises(BadInputError, match=message):
        read_json(tmp_path / "x.json", option="--boxes")
    assert parse_json('{"a": 1}') == {"a": 1}


def test_a_folder_the_command_replaces_may_hold_only_what_it_wrote(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "grid.json").write_text("{}")
    assert check_output_path(out, kind="directory", owned=("grid.json", "grid.png")) == out
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(BadInputError, match="thesis.tex"):
        check_output_path(out, kind="directory", owned=("grid.json", "grid.png"))
    assert check_output_path(out, kind="directory") == out  # writing inside, not replacing: allowed


def test_a_folder_given_as_a_file_is_named_a_folder_before_its_suffix(tmp_path):
    with pytest.raises(BadInputError, match="is a folder"):
        check_output_path(tmp_path, suffixes=(".json",))


def test_a_replaced_folder_must_be_empty_or_made_by_tenfold(tmp_path):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(BadInputError, match="thesis.tex"):
        check_output_path(mine, kind="directory", replaced=True)
    # the library path refuses too, after the work, and leaves the user's folder as it was
    with pytest.raises(BadInputError, match="did not write"):
        with atomic_directory(mine) as staging:
            (staging / "result.json").write_text("{}")
    assert (mine / "thesis.tex").read_text() == "years of work"
    assert [p.name for p in tmp_path.iterdir()] == ["documents"]  # no staging folder left behind

    ours = tmp_path / "run"
    with atomic_directory(ours) as staging:
        (staging / "a.json").write_text("{}")
    assert check_output_path(ours, kind="directory", replaced=True) == ours
    with atomic_directory(ours) as staging:
        (staging / "b.json").write_text("{}")
    assert sorted(p.name for p in ours.iterdir()) == [OUTPUT_MARKER, "b.json"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output_path(empty, kind="directory", replaced=True) == empty


def test_a_file_the_user_adds_to_a_tenfold_folder_stops_its_replacement(tmp_path):
    ours = tmp_path / "run"
    with atomic_directory(ours) as staging:
        (staging / "a.json").write_text("{}")
    (ours / "my-notes.txt").write_text("notes")
    with pytest.raises(BadInputError, match="my-notes.txt"):
        check_output_path(ours, kind="directory", replaced=True)
