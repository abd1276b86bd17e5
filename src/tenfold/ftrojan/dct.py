"""Block-wise orthonormal 2-D DCT-II (the transform FTrojan writes its trigger into) and colour conversion.

``block_dct``/``block_idct`` are the batched matrix form: one broadcast matrix product over every block of every
image, identical to ``scipy.fft.dctn(block, norm="ortho")`` (and OpenCV's ``cv2.dct``) per block.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from tenfold.core.errors import BadConfigError

# OpenCV's RGB -> YCrCb (COLOR_RGB2YCrCb) on the 0..255 scale, the conversion the official code uses:
# Y = .299R + .587G + .114B, Cr = (R - Y) * .713 + 128, Cb = (B - Y) * .564 + 128.
_RGB_TO_YCRCB = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.713 * (1 - 0.299), 0.713 * -0.587, 0.713 * -0.114],
        [0.564 * -0.299, 0.564 * -0.587, 0.564 * (1 - 0.114)],
    ],
    dtype=np.float64,
)
# The exact inverse, so a magnitude-0 round trip is exact in float64 (OpenCV's inverse uses the rounded
# 1.403/.714/.344/1.773; the official pipeline's loss, though, comes from its truncating uint8 casts).
_YCRCB_TO_RGB = np.linalg.inv(_RGB_TO_YCRCB)
_CHROMA_OFFSET = np.array([0.0, 128.0, 128.0])


def rgb_to_ycrcb(x255: np.ndarray) -> np.ndarray:
    """RGB on the 0..255 scale, channels last -> YCrCb (float64), as OpenCV's COLOR_RGB2YCrCb."""
    return np.asarray(x255, dtype=np.float64) @ _RGB_TO_YCRCB.T + _CHROMA_OFFSET


def ycrcb_to_rgb(z: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`rgb_to_ycrcb` (float64, no clipping)."""
    return (np.asarray(z, dtype=np.float64) - _CHROMA_OFFSET) @ _YCRCB_TO_RGB.T


def ycrcb_to_rgb_matrix() -> np.ndarray:
    """The 3x3 linear map from a YCrCb change to the RGB change it causes (offsets cancel)."""
    return _YCRCB_TO_RGB.copy()


@lru_cache(maxsize=16)
def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``C`` (n x n): ``C @ v`` is ``scipy.fft.dct(v, norm='ortho')``."""
    if n < 1:
        raise BadConfigError(f"DCT size must be positive, got {n}")
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    matrix[0] /= np.sqrt(2.0)
    matrix.setflags(write=False)
    return matrix


def _blocks(x: np.ndarray, window: int) -> np.ndarray:
    """(N, H, W, C) -> (N, H/w, W/w, C, w, w) view of non-overlapping blocks."""
    n, h, w, c = x.shape
    if h % window or w % window:
        raise BadConfigError(f"window {window} does not divide the image size {h}x{w}; pick a divisor")
    return x.reshape(n, h // window, window, w // window, window, c).transpose(0, 1, 3, 5, 2, 4)


def _unblocks(b: np.ndarray) -> np.ndarray:
    n, bh, bw, c, window, _ = b.shape
    return b.transpose(0, 1, 4, 2, 5, 3).reshape(n, bh * window, bw * window, c)


def block_dct(x: np.ndarray, window: int) -> np.ndarray:
    """Orthonormal 2-D DCT-II of every ``window x window`` block of NHWC ``x``; returns the block array
    ``(N, H/w, W/w, C, w, w)`` in float64."""
    matrix = dct_matrix(window)
    return matrix @ _blocks(np.asarray(x, np.float64), window) @ matrix.T  # C B C^T on every block at once


def block_idct(coefficients: np.ndarray) -> np.ndarray:
    """Inverse of :func:`block_dct`: block coefficients -> NHWC image (float64)."""
    window = coefficients.shape[-1]
    matrix = dct_matrix(window)
    pixels = matrix.T @ coefficients @ matrix
    return _unblocks(pixels)
