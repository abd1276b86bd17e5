"""Keypoints, skeleton maps, PAFs and the synthetic pair generator."""

import json

import numpy as np
import pytest

from tenfold.bodyreshape.flow_field import min_determinant, resize_flow
from tenfold.bodyreshape.keypoints import (
    LIMBS,
    check_keypoints,
    coco18_from_mediapipe,
    fixture_image,
    fixture_keypoints,
    has_body,
    keypoints_to_json,
    load_keypoints,
)
from tenfold.bodyreshape.skeleton import paf_directions, skeleton_maps
from tenfold.bodyreshape.synthetic import make_pair, make_set
from tenfold.bodyreshape.warp import remap
from tenfold.core.errors import BadInputError, MissingDataError


def test_fixtures_load_and_match_their_images():
    for name in ("astronaut", "camera"):
        keypoints = fixture_keypoints(name)
        assert keypoints.shape == (18, 3) and has_body(keypoints)
        assert fixture_image(name).shape == (512, 512, 3)
    assert fixture_keypoints("astronaut")[1, 0] == pytest.approx(207.4)


@pytest.mark.parametrize("bad", [np.zeros((17, 3)), np.zeros((18, 2)), np.zeros((2, 3, 18)), np.zeros((0, 18, 3)),
                                 "text"])
def test_wrong_keypoint_shapes_are_rejected(bad):
    with pytest.raises(BadInputError, match="keypoints"):
        check_keypoints(bad)


def test_nan_keypoints_are_rejected():
    keypoints = fixture_keypoints("camera").copy()
    keypoints[3, 0] = np.nan
    with pytest.raises(BadInputError, match="NaN"):
        check_keypoints(keypoints)


def test_keypoints_json_round_trip_and_missing_file(tmp_path):
    keypoints = fixture_keypoints("camera")
    path = tmp_path / "k.json"
    path.write_text(keypoints_to_json(keypoints))
    np.testing.assert_allclose(load_keypoints(path)[0], keypoints, atol=1e-3)
    path.write_text(json.dumps([keypoints.tolist(), keypoints.tolist()]))
    assert load_keypoints(path).shape == (2, 18, 3)
    with pytest.raises(MissingDataError):
        load_keypoints(tmp_path / "absent.json")
    path.write_text("{not json")
    with pytest.raises(BadInputError, match="JSON"):
        load_keypoints(path)


def test_no_shoulders_means_no_body():
    keypoints = fixture_keypoints("camera").copy()
    keypoints[[2, 5], 2] = 0.0
    assert not has_body(keypoints)


def test_mediapipe_mapping_puts_the_neck_between_the_shoulders():
    landmarks = np.zeros((33, 4))
    landmarks[:, 3] = 0.9
    landmarks[11, :2] = (0.6, 0.3)
    landmarks[12, :2] = (0.4, 0.5)
    coco = coco18_from_mediapipe(landmarks, 200, 100)
    np.testing.assert_allclose(coco[1], [100, 40, 0.9])
    np.testing.assert_allclose(coco[2, :2], [80, 50])  # COCO right shoulder = MediaPipe 12
    with pytest.raises(BadInputError):
        coco18_from_mediapipe(np.zeros((17, 4)), 10, 10)


def test_skeleton_maps_draw_present_limbs_only():
    keypoints = np.zeros((18, 3))
    keypoints[2] = (10, 10, 1)
    keypoints[3] = (10, 40, 1)  # right upper arm: limb (2, 3) is channel 6
    keypoints[5] = (40, 10, 0.01)  # below the 0.05 threshold: shoulder line not drawn
    maps = skeleton_maps(keypoints, 64, 64)
    assert maps.shape == (13, 64, 64) and set(np.unique(maps)) <= {-1.0, 1.0}
    assert (maps[LIMBS.index((2, 3))] > 0).sum() > 20
    assert (maps[LIMBS.index((2, 5))] < 0).all()
    assert np.array_equal(maps[12] > 0, (maps[:12] > 0).any(0))
    paf = paf_directions(keypoints, 64, 64)
    assert paf[1, 25, 10] > 0.5 and abs(paf[0, 25, 10]) < 0.1  # points along +y down the arm
    assert np.abs(paf[:, 25, 60]).max() < 1e-3


def test_synthetic_pair_is_deterministic_and_consistent():
    first, second = make_pair(3, size=64, flow_size=32), make_pair(3, size=64, flow_size=32)
    assert np.array_equal(first.image, second.image) and np.array_equal(first.flow, second.flow)
    assert first.image.shape == (64, 64, 3) and first.flow.shape == (32, 32, 2)
    np.testing.assert_allclose(first.flow_full, resize_flow(first.flow, 64, 64), atol=1e-6)
    np.testing.assert_allclose(first.target, remap(first.image, first.flow_full), atol=1e-6)
    assert min_determinant(first.flow) >= 0.3
    assert np.abs(first.flow).max() > 0.05  # something is slimmed
    assert not np.array_equal(make_pair(4, size=64, flow_size=32).image, first.image)


def test_distractors_do_not_move_in_the_ground_truth():
    moved = []
    for seed in range(6):
        pair = make_pair(seed, size=128, flow_size=32)
        if pair.distractor_mask.any():
            moved.append(np.linalg.norm(pair.flow_full, axis=-1)[pair.distractor_mask].max())
    assert moved and max(moved) <= 0.1


def test_make_set_shapes():
    data = make_set(3, 0, size=64, net_size=32, keep_full=True)
    assert data.images.shape == (3, 32, 32, 3) and data.skeletons.shape == (3, 13, 32, 32)
    assert data.full_images.shape == (3, 64, 64, 3) and data.body_masks.dtype == bool
    assert np.abs(data.keypoints[:, 1, :2]).max() < 64
