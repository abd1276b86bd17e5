"""The official FTrojan code's uint8 pipeline, kept for bit-exact comparison with published results.

The official ``poison_frequency`` (SoftWiser-group/FTrojan ``data.py``/``image.py``) computes
``x * 255``, casts it to uint8 (``astype(np.uint8)``: truncation toward zero), converts RGB to YCrCb
with OpenCV's 8-bit fixed-point arithmetic, takes the float DCT of every block of *every* channel,
adds the trigger, inverts the DCT, casts to uint8 again (truncation), converts back to RGB with
OpenCV's 8-bit arithmetic, divides by 255 and clips. The difference from the float pipeline
(:meth:`FrequencyTrigger.apply`) is dominated by the two truncating casts: each floors a value that is
not an integer (on average half a level), and the untouched luma channel's DCT round trip comes back
a few 1e-13 below its integer in about one pixel in five, which the cast turns into a full level.
Wrap-around (a value below 0 or at least 256 after the inverse DCT, which the cast takes modulo 256)
is rare on natural images: about one pixel in 10^5 at magnitude 30.

The colour conversions and casts are ported here from OpenCV's and NumPy's integer rules; the DCT is
OpenCV's own (``cv2.dct``), because whether a round trip lands just below or just above an integer
depends on the transform's rounding, and the cast turns that into a whole level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tenfold.core.errors import BadConfigError

# OpenCV's 8-bit YCrCb coefficients (color_yuv: yuv_shift = 14, i.e. the float ones times 2^14, rounded).
_SHIFT = 14
_R2Y, _G2Y, _B2Y = 4899, 9617, 1868
_CR_SCALE, _CB_SCALE = 11682, 9241  # 0.713 and 0.564
_CR2R, _CR2G, _CB2G, _CB2B = 22987, -11698, -5636, 29049  # 1.403, -0.714, -0.344, 1.773
_HALF = 128


def _descale(value: np.ndarray) -> np.ndarray:
    """OpenCV's CV_DESCALE: add half a unit, arithmetic shift right (floor for negatives too)."""
    return (value + (1 << (_SHIFT - 1))) >> _SHIFT


def _saturate(value: np.ndarray) -> np.ndarray:
    return np.clip(value, 0, 255).astype(np.uint8)


def opencv_rgb_to_ycrcb(rgb: np.ndarray) -> np.ndarray:
    """``cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)`` for uint8 images (channels last), in integer arithmetic."""
    pixels = np.asarray(rgb).astype(np.int64)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    y = _descale(r * _R2Y + g * _G2Y + b * _B2Y)
    cr = _descale((r - y) * _CR_SCALE + (_HALF << _SHIFT))
    cb = _descale((b - y) * _CB_SCALE + (_HALF << _SHIFT))
    return _saturate(np.stack([y, cr, cb], axis=-1))


def opencv_ycrcb_to_rgb(ycrcb: np.ndarray) -> np.ndarray:
    """``cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)`` for uint8 images (channels last), in integer arithmetic."""
    pixels = np.asarray(ycrcb).astype(np.int64)
    y, cr, cb = pixels[..., 0], pixels[..., 1] - _HALF, pixels[..., 2] - _HALF
    r = y + _descale(cr * _CR2R)
    g = y + _descale(cb * _CB2G + cr * _CR2G)
    b = y + _descale(cb * _CB2B)
    return _saturate(np.stack([r, g, b], axis=-1))


def numpy_uint8_cast(values: np.ndarray) -> np.ndarray:
    """``values.astype(np.uint8)`` for float arrays as it behaves on x86-64: truncate toward zero, then
    keep the low 8 bits (so -1.5 becomes 255 and 256.2 becomes 0). Written out so the result does not
    depend on the platform's undefined out-of-range conversion."""
    return (np.trunc(np.asarray(values, dtype=np.float64)).astype(np.int64) & 0xFF).astype(np.uint8)


def _opencv_block_transform(planes: np.ndarray, window: int, inverse: bool) -> np.ndarray:
    """``cv2.dct``/``cv2.idct`` on every ``window`` block of (N, C, H, W) float64 planes, as the official loops."""
    try:
        import cv2
    except ImportError:
        raise BadConfigError(
            "official_uint8=True reproduces the official pipeline bit for bit, which needs OpenCV's DCT; "
            "install it with: pip install 'tenfold[vision]'"
        ) from None
    transform = cv2.idct if inverse else cv2.dct
    out = np.empty_like(planes)
    n, channels, height, width = planes.shape
    for i in range(n):
        for c in range(channels):
            for top in range(0, height, window):
                for left in range(0, width, window):
                    block = np.ascontiguousarray(planes[i, c, top : top + window, left : left + window])
                    out[i, c, top : top + window, left : left + window] = transform(block)
    return out


def official_trigger(
    x: np.ndarray,
    *,
    magnitude: float,
    positions: Sequence[tuple[int, int]],
    channels: Sequence[int],
    window: int,
    yuv: bool,
) -> np.ndarray:
    """The official ``poison_frequency`` on NHWC float images in [0, 1]; returns float64 in [0, 1]."""
    x255 = np.asarray(x, dtype=np.float64) * 255.0
    if yuv:
        x255 = opencv_rgb_to_ycrcb(numpy_uint8_cast(x255)).astype(np.float64)
    planes = _opencv_block_transform(np.ascontiguousarray(x255.transpose(0, 3, 1, 2)), window, inverse=False)
    for c in channels:
        for top in range(0, planes.shape[2], window):
            for left in range(0, planes.shape[3], window):
                for u, v in positions:
                    planes[:, c, top + u, left + v] += magnitude
    z = _opencv_block_transform(planes, window, inverse=True).transpose(0, 2, 3, 1)
    if yuv:
        z = opencv_ycrcb_to_rgb(numpy_uint8_cast(z)).astype(np.float64)
    return np.clip(z / 255.0, 0.0, 1.0)
