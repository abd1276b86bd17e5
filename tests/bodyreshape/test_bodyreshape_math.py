"""Hand-checked math: warps, flow measures, MLS, the capsule field, liquify, metrics."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold.bodyreshape.capsule import Bone, capsule_field
from tenfold.bodyreshape.flow_field import (
    clamp_magnitude,
    end_point_error,
    fold_guard,
    guard_folds,
    jacobian_determinant,
    largest_safe_factor,
    min_determinant,
    resize_flow,
    soft_threshold,
)
from tenfold.bodyreshape.liquify import liquify_flow, waist_flow
from tenfold.bodyreshape.metrics import leakage, ssim
from tenfold.bodyreshape.mls import mls_map
from tenfold.bodyreshape.warp import remap, remap_reference, warp_tensor
from tenfold.core.image_quality import psnr


def _image(height=24, width=20, channels=3, seed=0):
    return np.random.default_rng(seed).random((height, width, channels)).astype(np.float32)


def test_zero_flow_is_an_exact_copy():
    image = _image()
    out = remap(image, np.zeros((24, 20, 2), np.float32))
    assert np.array_equal(out, image) and out is not image


def test_integer_shift_samples_the_neighbour_and_clamps_at_the_border():
    image = _image()
    flow = np.zeros((24, 20, 2), np.float32)
    flow[..., 0] = 2.0  # out(x) = in(x + 2)
    for backend in ("cv2", "torch"):
        out = remap(image, flow, backend=backend)
        np.testing.assert_allclose(out[:, :-2], image[:, 2:], atol=1e-5)
        np.testing.assert_allclose(out[:, -2:], image[:, -1:].repeat(2, axis=1), atol=1e-5)  # no black bars


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 6.0))
def test_cv2_torch_and_reference_warps_agree(seed, amplitude):
    rng = np.random.default_rng(seed)
    image = rng.random((12, 10, 3)).astype(np.float32)
    flow = (rng.standard_normal((12, 10, 2)) * amplitude).astype(np.float32)
    cv = remap(image, flow, backend="cv2")
    th = remap(image, flow, backend="torch")
    ref = remap_reference(image, flow)
    np.testing.assert_allclose(cv, ref, atol=2e-3)  # cv2 quantises weights to 1/32
    np.testing.assert_allclose(th, ref, atol=1e-4)


def test_training_warp_matches_the_numpy_warp():
    image = _image()
    flow = np.random.default_rng(1).standard_normal((24, 20, 2)).astype(np.float32) * 3
    tensor = warp_tensor(torch.from_numpy(image).permute(2, 0, 1)[None], torch.from_numpy(flow).permute(2, 0, 1)[None])
    np.testing.assert_allclose(tensor[0].permute(1, 2, 0).numpy(), remap_reference(image, flow), atol=1e-4)


def test_determinant_of_a_linear_flow():
    ys, xs = np.mgrid[0:16, 0:16].astype(np.float64)
    a = np.array([[0.1, 0.2], [-0.3, 0.05]])  # F(x) = A x
    flow = np.stack([a[0, 0] * xs + a[0, 1] * ys, a[1, 0] * xs + a[1, 1] * ys], -1)
    np.testing.assert_allclose(jacobian_determinant(flow), np.linalg.det(np.eye(2) + a), atol=1e-5)


def test_guard_shrinks_a_folding_flow_by_the_exact_factor():
    xs = np.arange(32, dtype=np.float64)
    flow = np.zeros((32, 32, 2), np.float32)
    flow[..., 0] = -1.5 * xs[None, :]  # 1 + c dFx/dx = 1 - 1.5 c: folded at c = 1, det 0.3 at c = 0.7 / 1.5
    guarded, factor, smallest = fold_guard(flow)
    assert factor == pytest.approx(0.7 / 1.5, rel=2e-3) and smallest >= 0.3
    assert min_determinant(flow * (factor * 1.01)) < 0.3  # a hair more would cross the floor
    same, one = guard_folds(np.zeros((8, 8, 2), np.float32))
    assert one == 1.0 and not same.any()


def test_largest_safe_factor_of_a_linear_flow_by_hand():
    # F(x) = A x: det(I + cA) = 1 + c tr A + c^2 det A everywhere; tr A = -1, det A = -0.25 gives
    # 1 - c - 0.25 c^2 = 0.3 at c = 2 (sqrt(1.7) - 1).
    ys, xs = np.mgrid[0:16, 0:16].astype(np.float64)
    a = np.array([[-0.5, 1.0], [0.5, -0.5]])
    flow = np.stack([a[0, 0] * xs + a[0, 1] * ys, a[1, 0] * xs + a[1, 1] * ys], -1)
    exact = 2 * (np.sqrt(1.7) - 1)
    assert largest_safe_factor(4 * flow) == pytest.approx(exact / 4, rel=1e-6)
    assert largest_safe_factor(0.1 * flow) == 1.0  # already safe: left alone
    _, factor, _ = fold_guard(1.5 * flow)  # a stronger flow is cut only to the floor, not below
    assert 1.5 * factor == pytest.approx(exact, rel=2e-3)


def test_resize_flow_rescales_vectors():
    flow = np.ones((8, 8, 2), np.float32)
    flow[..., 1] = 2
    out = resize_flow(flow, 32, 16)
    np.testing.assert_allclose(out[..., 0], 2.0, atol=1e-5)
    np.testing.assert_allclose(out[..., 1], 8.0, atol=1e-5)


def test_soft_threshold_and_clamp_keep_direction():
    flow = np.array([[[3.0, 4.0], [0.3, 0.4]]], np.float32)  # magnitudes 5 and 0.5
    out = soft_threshold(flow, 3.0)
    np.testing.assert_allclose(out[0, 0], [1.2, 1.6], atol=1e-6)
    np.testing.assert_allclose(out[0, 1], [0, 0], atol=1e-7)
    np.testing.assert_allclose(clamp_magnitude(flow, 1.0)[0, 0], [0.6, 0.8], atol=1e-6)


def test_end_point_error_psnr_ssim_and_leakage_by_hand():
    a = np.zeros((2, 2, 2))
    b = np.zeros((2, 2, 2))
    b[0, 0] = (3, 4)
    assert end_point_error(a, b) == pytest.approx(5 / 4)
    assert end_point_error(a, b, np.array([[True, False], [False, False]])) == pytest.approx(5.0)
    assert leakage(b, np.array([[True, True], [False, False]])) == pytest.approx(2.5)
    image = np.full((16, 16, 3), 0.5)
    assert psnr(image, image + 0.1) == pytest.approx(20.0)  # core's one psnr
    assert ssim(_image(32, 32), _image(32, 32)) == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["affine", "similarity", "rigid"])
def test_mls_reproduces_a_rotation_and_is_identity_without_motion(kind):
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 50, (8, 2))
    points = rng.uniform(0, 50, (20, 2))
    np.testing.assert_allclose(mls_map(source, source, points, kind=kind), points, atol=1e-8)
    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    destination = source @ rotation.T + (5, -2)
    np.testing.assert_allclose(mls_map(source, destination, points, kind=kind), points @ rotation.T + (5, -2),
                               atol=1e-6)


def test_mls_affine_reproduces_a_shear_but_rigid_does_not():
    rng = np.random.default_rng(1)
    source = rng.uniform(0, 50, (8, 2))
    shear = np.array([[1.0, 0.5], [0.0, 1.0]])
    points = rng.uniform(0, 50, (10, 2))
    np.testing.assert_allclose(mls_map(source, source @ shear.T, points, kind="affine"), points @ shear.T, atol=1e-6)
    assert not np.allclose(mls_map(source, source @ shear.T, points, kind="rigid"), points @ shear.T, atol=1e-2)


def test_capsule_field_matches_the_formula_at_mid_bone():
    # Vertical bone x = 20, y 0..40, W = 4, k = 0.2; at mid-bone v = W: D = k W (1 - 1/4)^2 along +x.
    bone = Bone(np.array([20.0, 0.0]), np.array([20.0, 40.0]), 4.0, 0.2, "arms")
    field = capsule_field([bone], 41, 41, smooth_fraction=0.0)
    normal_x = np.sign(field[20, 24, 0])
    assert field[20, 24, 0] == pytest.approx(normal_x * 0.2 * 4 * 0.75**2, rel=1e-3)
    assert field[20, 16, 0] == pytest.approx(-field[20, 24, 0], rel=1e-3)  # symmetric across the axis
    assert (field[20, 24, 0] > 0) == (normal_x > 0) and field[20, 24, 0] > 0  # samples farther out: slimming
    assert not field[20, 29:].any() and not field[20, :12].any()  # zero beyond 2W
    assert abs(field[0, 24]).max() < 1e-9  # faded out at the bone ends


def test_waist_preset_moves_the_contour_by_strength_times_width_without_folds():
    keypoints = np.zeros((18, 3))
    keypoints[[1, 2, 5, 8, 11, 3, 6], 2] = 1.0
    keypoints[1, :2], keypoints[2, :2], keypoints[5, :2] = (64, 20), (44, 20), (84, 20)
    keypoints[8, :2], keypoints[11, :2] = (54, 110), (74, 110)
    keypoints[3, :2], keypoints[6, :2] = (40, 60), (88, 60)
    flow = waist_flow(keypoints, 128, 128, strength=0.2)
    half_width = (40 + 20) / 4  # (shoulder width + hip width) / 4
    waist = (64, 20 + 0.65 * 90)
    contour = int(round(waist[0] + half_width)), int(round(waist[1]))
    assert flow[contour[1], contour[0], 0] == pytest.approx(0.2 * half_width, rel=0.02)  # samples from outside
    assert min_determinant(flow) >= 0.3 and min_determinant(1.2 * flow) >= 0.3


def test_liquify_moves_the_centre_by_the_gustafsson_factor():
    flow = liquify_flow(41, 41, (20, 20), 10.0, (3.0, 0.0))
    expected = (100 / (100 + 9)) ** 2 * 3
    np.testing.assert_allclose(flow[20, 20], [-expected, 0], atol=1e-5)
    assert not flow[20, 31].any() and not flow[5, 5].any()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.5, 20.0))
def test_guard_always_reaches_the_determinant_floor(seed, amplitude):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    flow = np.stack([gaussian_filter(rng.standard_normal((32, 32)), 2) for _ in range(2)], -1) * amplitude
    guarded, factor = guard_folds(flow.astype(np.float32))
    assert 0 < factor <= 1 and min_determinant(guarded) >= 0.3 - 1e-6
    assert factor == 1.0 or min_determinant(flow * min(1.0, factor * 1.02)) < 0.3 + 1e-6  # no more cut than needed
    np.testing.assert_allclose(guarded, flow * factor, rtol=1e-5, atol=1e-6)
