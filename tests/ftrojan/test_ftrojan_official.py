"""``official_uint8`` mode against a hand-made port of the official code's casts (OpenCV and NumPy as the
official ``image.py``/``data.py`` call them), and the integer colour ports against OpenCV itself."""

import platform
import warnings

import numpy as np
import pytest

from tenfold.ftrojan import FrequencyTrigger
from tenfold.ftrojan.official import numpy_uint8_cast, opencv_rgb_to_ycrcb, opencv_ycrcb_to_rgb

cv2 = pytest.importorskip("cv2")


def _official_port(x, magnitude=30.0, positions=((15, 15), (31, 31)), channels=(1, 2), window=32, yuv=True):
    """The official poison_frequency, step by step: per-image cvtColor on astype(uint8), per-block cv2.dct."""
    x = x.astype(np.float64) * 255.0
    if yuv:
        converted = np.zeros(x.shape)
        for i in range(x.shape[0]):
            converted[i] = cv2.cvtColor(x[i].astype(np.uint8), cv2.COLOR_RGB2YCrCb)
        x = converted
    x = np.transpose(x, (0, 3, 1, 2))
    coefficients = np.zeros(x.shape)
    for i in range(x.shape[0]):
        for ch in range(x.shape[1]):
            for w in range(0, x.shape[2], window):
                for h in range(0, x.shape[3], window):
                    coefficients[i][ch][w : w + window, h : h + window] = cv2.dct(x[i][ch][w : w + window, h : h + window].astype(np.float64))
    for i in range(coefficients.shape[0]):
        for ch in channels:
            for w in range(0, coefficients.shape[2], window):
                for h in range(0, coefficients.shape[3], window):
                    for u, v in positions:
                        coefficients[i][ch][w + u][h + v] += magnitude
    pixels = np.zeros(coefficients.shape)
    for i in range(coefficients.shape[0]):
        for ch in range(coefficients.shape[1]):
            for w in range(0, coefficients.shape[2], window):
                for h in range(0, coefficients.shape[3], window):
                    pixels[i][ch][w : w + window, h : h + window] = cv2.idct(coefficients[i][ch][w : w + window, h : h + window].astype(np.float64))
    x = np.transpose(pixels, (0, 2, 3, 1))
    if yuv:
        converted = np.zeros(x.shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # out-of-range casts wrap, as in the official code
            for i in range(x.shape[0]):
                converted[i] = cv2.cvtColor(x[i].astype(np.uint8), cv2.COLOR_YCrCb2RGB)
        x = converted
    return np.clip(x / 255.0, 0, 1)


def _photos(n=12, seed=0):
    from tenfold.core.data import photopatch10

    split = photopatch10(-(-n // 10), 1, seed=seed)
    return split.x_train[:n].astype(np.float64)


@pytest.mark.parametrize("quantised", [False, True])
def test_official_mode_equals_the_port_bit_for_bit_on_photos(quantised):
    x = _photos()
    if quantised:
        x = np.rint(x * 255) / 255
    ours = FrequencyTrigger(official_uint8=True)(x)
    np.testing.assert_array_equal(ours, _official_port(x))


def test_official_mode_matches_on_tiled_blocks_other_positions_and_grey():
    crops = _photos(16, seed=1)
    x = np.concatenate([np.concatenate([crops[0::4], crops[1::4]], axis=2), np.concatenate([crops[2::4], crops[3::4]], axis=2)], axis=1)
    trigger = FrequencyTrigger(magnitude=50.0, positions=[(31, 31)], window=32, official_uint8=True)
    np.testing.assert_array_equal(trigger(x), _official_port(x, 50.0, ((31, 31),)))
    grey = x[..., :1]
    np.testing.assert_array_equal(
        FrequencyTrigger(official_uint8=True)(grey), _official_port(grey, channels=(0,), yuv=False)
    )


def test_wrap_around_is_reproduced_where_values_leave_the_byte_range():
    # Saturated red with a large magnitude pushes Cr past 255 after the inverse DCT: the cast wraps it.
    x = np.zeros((1, 32, 32, 3))
    x[..., 0] = 1.0
    trigger = FrequencyTrigger(magnitude=400.0, official_uint8=True)
    out = trigger(x)
    np.testing.assert_array_equal(out, _official_port(x, 400.0))
    float_out = FrequencyTrigger(magnitude=400.0)(x)
    assert np.abs(out - float_out).max() > 0.5  # wrapped pixels jump by about a whole range


def test_the_official_difference_is_truncation_not_wrap_around():
    x = np.rint(_photos(20, seed=2) * 255) / 255
    official = np.rint(FrequencyTrigger(official_uint8=True)(x) * 255)
    ours = np.rint(FrequencyTrigger()(x) * 255)
    difference = official - ours
    # Truncation floors: most changed values move down, by about one level, never by a wrap-sized jump.
    assert np.mean(difference != 0) > 0.3
    assert -1.0 < difference.mean() < -0.2
    assert np.abs(difference).max() <= 6
    with pytest.warns(UserWarning):
        zero = FrequencyTrigger(magnitude=0.0, official_uint8=True)
    assert np.any(np.rint(zero(x) * 255) != np.rint(x * 255))  # lossy even with no trigger
    with pytest.warns(UserWarning):
        np.testing.assert_allclose(FrequencyTrigger(magnitude=0.0)(x), x, atol=1e-12)  # the float pipeline is exact


def test_integer_colour_ports_equal_opencv():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    pixels[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]]
    np.testing.assert_array_equal(opencv_rgb_to_ycrcb(pixels), cv2.cvtColor(pixels, cv2.COLOR_RGB2YCrCb))
    np.testing.assert_array_equal(opencv_ycrcb_to_rgb(pixels), cv2.cvtColor(pixels, cv2.COLOR_YCrCb2RGB))


def test_uint8_cast_truncates_then_wraps():
    values = np.array([-300.5, -1.5, -0.9, 0.0, 0.99, 127.999, 255.7, 256.0, 511.2])
    assert numpy_uint8_cast(values).tolist() == [212, 255, 0, 0, 0, 127, 255, 0, 255]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        native = values.astype(np.uint8)
    if platform.machine() in ("x86_64", "AMD64"):  # where the official results were produced; ARM saturates
        np.testing.assert_array_equal(numpy_uint8_cast(values), native)
