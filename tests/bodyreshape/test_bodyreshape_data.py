"""Keypoints, skeleton maps, PAFs and the synthetic pair generator."""

import json

import numpy as np
import pytest

from tenfold.bodyreshape.capsule import slimming_flow
from tenfold.bodyreshape.flow_field import end_point_error, min_determinant, resize_flow
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
from tenfold.bodyreshape.retoucher import RATIO_RANGE, retoucher_strength, silhouette_flow
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


def test_keypoints_recorded_for_another_image_size_are_refused(tmp_path):
    path = tmp_path / "k.json"
    path.write_text(keypoints_to_json(fixture_keypoints("camera"), image_size=(512, 512)))
    assert load_keypoints(path, image_size=(512, 512)).shape == (1, 18, 3)
    with pytest.raises(BadInputError, match="512x512 image, but the image is 128x128"):
        load_keypoints(path, image_size=(128, 128))
    path.write_text(json.dumps({"size": [512], "keypoints": fixture_keypoints("camera").tolist()}))
    with pytest.raises(BadInputError, match="width, height"):
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


def _straight_edge(horizontal_bone: bool = False, strength: float = 1.5, sigma: float = 4.0):
    """A body filling x < 31.5 (anti-aliased), with one bone along it or across it."""
    xs = np.arange(64, dtype=np.float64)
    mask = np.broadcast_to(np.clip(31.5 - xs + 0.5, 0, 1)[None, :], (64, 64)).copy()
    bone = ((np.array([16.0, 32.0]), np.array([31.0, 32.0]), 8.0) if horizontal_bone
            else (np.array([16.0, -40.0]), np.array([16.0, 104.0]), 8.0))
    return silhouette_flow(mask, [bone], sigma=sigma, strength=strength)


def test_retoucher_profile_on_a_straight_edge_by_hand():
    # B = G_sigma * mask is Phi((31.5 - x) / sigma) across the edge, so F_x = k sigma phi((x - 31.5) / sigma):
    # at most k sigma / sqrt(2 pi), centred on the contour, pointing outward (samples from outside: slimming).
    flow = _straight_edge(strength=1.5, sigma=4.0)
    row = flow[32, :, 0]
    assert row.max() == pytest.approx(1.5 * 4.0 / np.sqrt(2 * np.pi), rel=0.03)
    assert abs(int(np.argmax(row)) - 31.5) <= 0.5
    assert np.abs(flow[..., 1]).max() < 1e-6 and row.min() > -1e-9
    assert row[:12].max() < 0.02 * row.max() and row[52:].max() < 0.02 * row.max()
    assert min_determinant(flow) > 1 - 1.5 * 0.26  # det = 1 - k t phi(t) >= 1 - 0.242 k


def test_retoucher_moves_contours_across_bones_never_along_them():
    along = _straight_edge(horizontal_bone=True)  # the edge's normal lies along this bone: nothing moves
    assert np.abs(along).max() < 1e-3 * np.abs(_straight_edge()).max()


def test_retoucher_strength_follows_the_visible_width():
    low, high = RATIO_RANGE
    assert retoucher_strength(low) < retoucher_strength((low + high) / 2) < retoucher_strength(high)
    assert retoucher_strength(0.0) == retoucher_strength(low) and retoucher_strength(1.0) == retoucher_strength(high)
    rng = np.random.default_rng(0)
    draws = np.array([retoucher_strength(0.3, rng) for _ in range(400)])
    assert abs(draws.mean() / retoucher_strength(0.3) - 1) < 0.02 and 0.03 < draws.std() / draws.mean() < 0.1


def test_ground_truth_is_no_baseline_family():
    """The capsule field and MLS, even tuned, leave most of the truth unexplained; the truth is learnable."""
    data = make_set(6, 0, size=64, net_size=32)
    zero = end_point_error(np.zeros_like(data.flows), data.flows)
    best = min(end_point_error(np.stack([slimming_flow(k, 32, 32, strength=strength, width_scale=scale)
                                         for k in data.keypoints]), data.flows)
               for strength in (0.1, 0.2, 0.3, 0.45) for scale in (1.0, 1.4, 1.8))
    assert best > 0.7 * zero
