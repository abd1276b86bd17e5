"""The trigger's math: orthonormal block DCT, colour conversion, the additive pattern, analytic PSNR."""

import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ftrojan import FrequencyTrigger, analytic_psnr, block_dct, block_idct, dct_matrix
from tenfold.ftrojan.dct import rgb_to_ycrcb, ycrcb_to_rgb


def _images(n=3, size=32, channels=3, seed=0, low=0.2, high=0.8):
    return np.random.default_rng(seed).uniform(low, high, (n, size, size, channels)).astype(np.float32)


def test_dct_matrix_is_scipy_orthonormal_dct():
    vector = np.random.default_rng(1).normal(size=8)
    np.testing.assert_allclose(dct_matrix(8) @ vector, scipy.fft.dct(vector, norm="ortho"), atol=1e-12)
    np.testing.assert_allclose(dct_matrix(32) @ dct_matrix(32).T, np.eye(32), atol=1e-12)


def test_block_dct_matches_scipy_per_block_and_inverts():
    x = _images(2, 64, 3, seed=2).astype(np.float64)
    coefficients = block_dct(x, 32)
    assert coefficients.shape == (2, 2, 2, 3, 32, 32)
    np.testing.assert_allclose(coefficients[1, 0, 1, 2], scipy.fft.dctn(x[1, :32, 32:, 2], norm="ortho"), atol=1e-10)
    np.testing.assert_allclose(block_idct(coefficients), x, atol=1e-12)


def test_ycrcb_matches_opencv_formulas_and_round_trips():
    rgb = np.array([[200.0, 100.0, 50.0]])
    y = 0.299 * 200 + 0.587 * 100 + 0.114 * 50
    np.testing.assert_allclose(rgb_to_ycrcb(rgb), [[y, (200 - y) * 0.713 + 128, (50 - y) * 0.564 + 128]])
    pixels = np.random.default_rng(3).uniform(0, 255, (50, 3))
    np.testing.assert_allclose(ycrcb_to_rgb(rgb_to_ycrcb(pixels)), pixels, atol=1e-9)


def test_trigger_equals_literal_dct_algorithm():
    x = _images(4, 64, seed=4, low=0.0, high=1.0)  # clipping happens at the extremes: both clip once at the end
    trigger = FrequencyTrigger()
    np.testing.assert_allclose(trigger(x), trigger.apply_via_dct(x), atol=1e-6)


def test_trigger_writes_magnitude_into_chosen_coefficients_only():
    x = _images(1, 32, seed=5)
    trigger = FrequencyTrigger(magnitude=30.0)
    before = block_dct(rgb_to_ycrcb(x.astype(np.float64) * 255), 32)
    after = block_dct(rgb_to_ycrcb(trigger(x).astype(np.float64) * 255), 32)
    change = after - before
    expected = np.zeros_like(change)
    for channel in (1, 2):
        for u, v in ((15, 15), (31, 31)):
            expected[0, 0, 0, channel, u, v] = 30.0
    np.testing.assert_allclose(change, expected, atol=1e-3)  # float32 output round-off


def test_magnitude_zero_round_trip_is_exact():
    x = _images(2, 32, seed=6, low=0.0, high=1.0).astype(np.float64)
    with pytest.warns(UserWarning, match="no"):
        trigger = FrequencyTrigger(magnitude=0.0)
    np.testing.assert_allclose(trigger(x), x, atol=1e-12)
    uint8 = np.rint(x * 255).astype(np.uint8)
    assert np.array_equal(trigger(uint8, scale=255), uint8)


def test_analytic_psnr_by_hand():
    # Orthonormal DCT: +m at k positions adds per-pixel MSE k m^2 / 1024 in each chroma channel. Cr and Cb get the
    # same pattern p, so R = 1.403 p (Cr), B = 1.773 p (Cb), G = -(0.714 + 0.344) p: the G changes add, not their squares.
    m, k = 30.0, 2
    per_channel = k * m**2 / 1024
    inverse = np.linalg.inv(
        [[0.299, 0.587, 0.114], [0.713 * 0.701, -0.713 * 0.587, -0.713 * 0.114], [-0.564 * 0.299, -0.564 * 0.587, 0.564 * 0.886]]
    )
    gains = inverse[:, 1] + inverse[:, 2]
    expected = 10 * np.log10(255**2 / (per_channel * np.mean(gains**2)))
    assert analytic_psnr(FrequencyTrigger()) == pytest.approx(expected, abs=1e-9)
    assert 42.3 < expected < 42.7
    measured = FrequencyTrigger()(np.full((1, 32, 32, 3), 0.5))
    mse = np.mean((measured - 0.5) ** 2) * 255**2
    assert 10 * np.log10(255**2 / mse) == pytest.approx(expected, abs=1e-6)


def test_grey_images_use_channel_zero_and_no_yuv():
    x = _images(2, 32, 1, seed=7)[..., 0]  # (N, H, W)
    out = FrequencyTrigger()(x)
    assert out.shape == x.shape
    coefficients = block_dct((out - x)[..., None].astype(np.float64) * 255, 32)
    assert coefficients[0, 0, 0, 0, 31, 31] == pytest.approx(30.0, abs=1e-3)


def test_nchw_and_uint8_layouts():
    x = _images(2, 32, seed=8)
    nhwc = FrequencyTrigger()(x)
    nchw = FrequencyTrigger()(x.transpose(0, 3, 1, 2), layout="NCHW")
    np.testing.assert_allclose(nchw.transpose(0, 2, 3, 1), nhwc, atol=1e-6)
    uint8 = np.rint(x * 255).astype(np.uint8)
    out = FrequencyTrigger()(uint8, scale=255)
    assert out.dtype == np.uint8 and np.abs(out.astype(int) - uint8.astype(int)).max() <= 6


def test_tiled_blocks_for_large_images():
    x = _images(1, 96, seed=9)
    out = FrequencyTrigger(window=32)(x)
    difference = (out - x)[0, :, :, 0]
    np.testing.assert_allclose(difference[:32, :32], difference[64:, 32:64], atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(magnitude=st.floats(1.0, 60.0), seed=st.integers(0, 1000))
def test_trigger_stays_in_range_and_change_is_bounded(magnitude, seed):
    x = np.random.default_rng(seed).random((1, 32, 32, 3))
    out = FrequencyTrigger(magnitude=magnitude)(x)
    assert out.min() >= 0.0 and out.max() <= 1.0
    bound = FrequencyTrigger(magnitude=magnitude).delta(32, 32, 3)
    assert np.all(np.abs(out - x) <= np.abs(bound) / 255 + 1e-9)


@pytest.mark.parametrize(
    ("images", "kwargs", "message"),
    [
        (np.full((1, 32, 32, 3), 2.0), {}, "scale=255"),
        (np.full((1, 32, 32, 3), 128, np.uint8), {}, "uint8"),
        (np.zeros((0, 32, 32, 3)), {}, "empty"),
        (np.zeros((1, 30, 30, 3)), {}, "does not divide"),
        (np.full((1, 32, 32, 3), np.nan), {}, "NaN"),
        (np.zeros((32, 32)), {}, "shape"),
    ],
)
def test_bad_images_are_rejected(images, kwargs, message):
    with pytest.raises(BadInputError, match=message):
        FrequencyTrigger()(images, **kwargs)


def test_bad_configurations_are_rejected():
    with pytest.raises(BadConfigError, match="outside"):
        FrequencyTrigger(positions=[(32, 32)])
    with pytest.raises(BadConfigError, match="layout"):
        FrequencyTrigger()(_images(1), layout="HWCN")
    with pytest.raises(BadInputError, match="3-channel"):
        FrequencyTrigger(yuv=True)(_images(1, 32, 1))
    with pytest.raises(BadInputError, match="channel 2"):
        FrequencyTrigger(channels=[2], yuv=False)(_images(1, 32, 1))
