"""Bad input to every `tenfold ietrans` command ends in one named line, exit 2, nothing written."""

from __future__ import annotations

import numpy as np
import pytest

from tenfold.ietrans.synth import make_synth
from tenfold.ietrans.vg_h5 import write_vg_files

COMMANDS = ("pairs", "transfer", "train", "evaluate", "synth")


@pytest.fixture
def files(tmp_path):
    _, train, test = make_synth(1, 12, 6)
    paths = write_vg_files(tmp_path / "vg", {"train": train.annotated, "test": test.annotated})
    probs = tmp_path / "probs.npz"
    np.savez(probs, rel_probs=np.full((train.annotated.num_relations, 35), 1 / 35))
    model = tmp_path / "model"
    model.mkdir()
    return paths, probs, model, tmp_path


def _cases(bad_input, files):
    paths, probs, model, root = files
    h5, dicts, image_data = str(paths["h5"]), str(paths["dicts"]), str(paths["image_data"])
    vg = ["--h5", h5, "--dicts", dicts]
    inputs = {h5: ".h5", dicts: ".json"}
    out_npz, out_h5, out_dir, out_json = root / "out.npz", root / "out.h5", root / "out_model", root / "m.json"
    cases = []
    cases += bad_input.cases(
        ["ietrans", "pairs", *vg, "--image-data", image_data, "-o", out_npz],
        inputs={**inputs, image_data: ".json"}, output=(out_npz, "file"),
    )
    cases += bad_input.cases(
        ["ietrans", "transfer", *vg, "--probs", probs, "-o", out_h5, "--k-int", "0.7", "--k-ext", "1.0"],
        inputs={**inputs, str(probs): ".npz"}, output=(out_h5, "file"),
        numbers={"--k-int": ["nan", "-0.1", "1.5"], "--k-ext": ["inf", "2"]},
    )
    cases += bad_input.cases(
        ["ietrans", "train", *vg, "-o", out_dir, "--epochs", "1", "--lr", "0.002", "--background-ratio", "3"],
        inputs=inputs, output=(out_dir, "directory"),
        numbers={"--epochs": ["0", "-3"], "--lr": ["nan", "0", "-1"], "--background-ratio": ["-1", "nan"]},
    )
    cases += bad_input.cases(
        ["ietrans", "evaluate", *vg, "--model", model, "--json", out_json, "--logit-adjustment", "0"],
        inputs={**inputs, str(model): ""}, output=(out_json, "file"),
        numbers={"--logit-adjustment": ["nan", "-1"]},
    )
    synth_out = root / "synth_out"
    cases += bad_input.cases(
        ["ietrans", "synth", "-o", synth_out, "--train", "5", "--test", "3", "--alpha", "0.5", "--beta", "0.6"],
        output=(synth_out, "directory"),
        numbers={"--train": ["0"], "--alpha": ["nan", "1.5"], "--beta": ["0", "inf"]},
    )
    return cases


def test_every_bad_input_is_one_named_line(bad_input, files):
    cases = _cases(bad_input, files)
    assert {case.argv[1] for case in cases} == set(COMMANDS)
    for case in cases:
        bad_input.check(case)


def test_wrong_suffixes_and_wrong_content_are_named(files, cli):
    paths, probs, model, root = files
    vg = ["--h5", str(paths["h5"]), "--dicts", str(paths["dicts"])]
    outcome = cli(["ietrans", "pairs", *vg, "-o", root / "pairs.txt"])
    assert outcome.code == 2 and ".npz" in outcome.err
    outcome = cli(["ietrans", "evaluate", *vg, "--model", model])
    assert outcome.code == 2 and "config.json" in outcome.err and len(outcome.err.strip().splitlines()) == 1
    (root / "dicts.json").write_text('{"idx_to_label": []}')
    outcome = cli(["ietrans", "pairs", "--h5", str(paths["h5"]), "--dicts", root / "dicts.json", "-o", root / "p.npz"])
    assert outcome.code == 2 and "idx_to_label" in outcome.err
    (root / "deep.json").write_text("[" * 100000)
    outcome = cli(["ietrans", "pairs", "--h5", str(paths["h5"]), "--dicts", root / "deep.json", "-o", root / "p.npz"])
    assert outcome.code == 2 and "nested too deeply" in outcome.err
    assert not (root / "p.npz").exists()
