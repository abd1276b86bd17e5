"""The FTrojan trigger: fixed values added to chosen DCT coefficients of chosen channels, block by block.

Because the block DCT is orthonormal and linear, adding ``magnitude`` at ``(u, v)`` of every block is
the same as adding one fixed spatial pattern ``C^T E C`` to every block; in YCrCb mode the change is
mapped back to RGB by the (linear) inverse colour matrix. So the trigger is computed once and added
to the images in float64, with a single clip at the end. The official code instead casts to uint8
before and after the chroma round trip; those casts truncate, which moves about two pixel levels in three
by one and makes even magnitude 0 lossy (wrap-around of out-of-range values is rare). ``official_uint8=True``
reproduces that pipeline bit for bit (:mod:`tenfold.ftrojan.official`) for comparison with published numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ftrojan.dct import (
    block_dct,
    block_idct,
    dct_matrix,
    rgb_to_ycrcb,
    ycrcb_to_rgb,
    ycrcb_to_rgb_matrix,
)

DEFAULT_POSITIONS: tuple[tuple[int, int], ...] = ((15, 15), (31, 31))  # "mid" and "high" frequency


def to_nhwc(images: np.ndarray, layout: str) -> np.ndarray:
    """Return a 4-D NHWC view of ``images`` given as NHWC, NCHW or a grey (N, H, W) stack."""
    x = np.asarray(images)
    if x.ndim == 3:
        return x[..., None]
    if x.ndim != 4:
        raise BadInputError(f"images must be (N, H, W), NHWC or NCHW; got shape {x.shape}")
    if layout == "NHWC":
        return x
    if layout == "NCHW":
        return x.transpose(0, 2, 3, 1)
    raise BadConfigError(f"unknown layout {layout!r}; use 'NHWC' or 'NCHW'")


def from_nhwc(x: np.ndarray, like: np.ndarray, layout: str) -> np.ndarray:
    """Undo :func:`to_nhwc` so the output has the caller's layout."""
    if np.ndim(like) == 3:
        return x[..., 0]
    return x.transpose(0, 3, 1, 2) if layout == "NCHW" else x


def validate_pixels(x: np.ndarray, scale: float) -> np.ndarray:
    """Check range and dtype for pixels on the ``[0, scale]`` scale; returns float64 on the 0..255 scale."""
    if x.size == 0 or x.shape[0] == 0:
        raise BadInputError("the image batch is empty; give at least one image")
    if scale not in (1.0, 255.0):
        raise BadConfigError(f"scale must be 1 (floats in [0, 1]) or 255 (0..255 pixels), got {scale}")
    if x.dtype == np.uint8 and scale != 255.0:
        raise BadInputError("got uint8 pixels with scale=1; pass scale=255 (or divide by 255 first)")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise BadInputError(f"pixels must be real numbers, got dtype {x.dtype}")
    x64 = x.astype(np.float64)
    if not np.isfinite(x64).all():
        raise BadInputError("images contain NaN or infinite values; clean them first")
    low, high = float(x64.min()), float(x64.max())
    if low < 0.0 or high > scale:
        hint = "; these look like 0..255 pixels: pass scale=255" if scale == 1.0 and high <= 255.0 else ""
        raise BadInputError(f"pixel values span [{low:.4g}, {high:.4g}] but scale={scale:g} needs [0, {scale:g}]{hint}")
    return x64 * (255.0 / scale)


class FrequencyTrigger:
    """FTrojan's invisible trigger (Wang et al., ECCV 2022): ``+magnitude`` at DCT ``positions`` of every
    ``window x window`` block of ``channels`` (YCrCb channels when ``yuv``; chroma 1, 2 by default).

    ``channels=None`` means chroma ``(1, 2)`` for colour images and ``(0,)`` for grey ones; ``yuv=None``
    means YCrCb for 3-channel images and raw channels otherwise. Magnitudes are on the 0..255 scale.
    ``official_uint8=True`` follows the official code's truncating uint8 casts and OpenCV's 8-bit colour
    conversion instead of the float pipeline (needs OpenCV; for parity with published numbers only).
    """

    def __init__(
        self,
        magnitude: float = 30.0,
        positions: Sequence[tuple[int, int]] = DEFAULT_POSITIONS,
        channels: Sequence[int] | None = None,
        window: int = 32,
        yuv: bool | None = None,
        official_uint8: bool = False,
    ) -> None:
        if not np.isfinite(magnitude):
            raise BadConfigError(f"magnitude must be finite, got {magnitude}")
        if int(window) != window or window < 1:
            raise BadConfigError(f"window must be a positive integer, got {window}")
        positions = tuple((int(u), int(v)) for u, v in positions)
        if not positions:
            raise BadConfigError("positions is empty; give at least one (u, v) DCT position")
        for u, v in positions:
            if not (0 <= u < window and 0 <= v < window):
                raise BadConfigError(
                    f"position ({u}, {v}) is outside the {window}x{window} window; indices run 0..{window - 1}"
                )
        if channels is not None:
            channels = tuple(int(c) for c in channels)
            if not channels or min(channels) < 0:
                raise BadConfigError(f"channels must be non-empty and non-negative, got {channels}")
        if magnitude <= 0:
            warnings.warn(f"FrequencyTrigger magnitude={magnitude}: no (or an inverted) trigger", stacklevel=2)
        self.magnitude = float(magnitude)
        self.positions = positions
        self.channels = channels
        self.window = int(window)
        self.yuv = yuv
        self.official_uint8 = bool(official_uint8)

    def __repr__(self) -> str:
        return (
            f"FrequencyTrigger(magnitude={self.magnitude:g}, positions={list(self.positions)}, "
            f"channels={self.channels}, window={self.window}, yuv={self.yuv}"
            + (", official_uint8=True)" if self.official_uint8 else ")")
        )

    def config(self) -> dict:
        """The trigger's parameters as plain JSON values."""
        return {
            "magnitude": self.magnitude,
            "positions": [list(p) for p in self.positions],
            "channels": None if self.channels is None else list(self.channels),
            "window": self.window,
            "yuv": self.yuv,
            "official_uint8": self.official_uint8,
        }

    def resolve(self, n_channels: int) -> tuple[tuple[int, ...], bool]:
        """The channel list and colour mode used for images with ``n_channels`` channels."""
        yuv = (n_channels == 3) if self.yuv is None else self.yuv
        if yuv and n_channels != 3:
            raise BadInputError(f"yuv=True needs 3-channel RGB images, got {n_channels} channel(s); use yuv=False")
        channels = self.channels if self.channels is not None else ((1, 2) if n_channels == 3 else (0,))
        if max(channels) >= n_channels:
            raise BadInputError(f"channel {max(channels)} does not exist in {n_channels}-channel images")
        return channels, yuv

    def block_pattern(self) -> np.ndarray:
        """The spatial pattern ``C^T E C`` (window x window) that the trigger adds to each block."""
        coefficients = np.zeros((self.window, self.window))
        for u, v in self.positions:
            coefficients[u, v] += self.magnitude
        matrix = dct_matrix(self.window)
        return matrix.T @ coefficients @ matrix

    def delta(self, height: int, width: int, n_channels: int) -> np.ndarray:
        """The additive change on the 0..255 RGB (or raw-channel) scale, ``(H, W, C)``, before clipping."""
        if height % self.window or width % self.window:
            raise BadInputError(
                f"window {self.window} does not divide the image size {height}x{width}; "
                "choose a window that divides both sides (32 for 32x32, 32 or 8 for 224x224 is not: use 32 -> 7x7 blocks)"
            )
        channels, yuv = self.resolve(n_channels)
        pattern = np.tile(self.block_pattern(), (height // self.window, width // self.window))
        change = np.zeros((height, width, n_channels))
        for c in channels:
            change[..., c] = pattern
        if yuv:
            change = change @ ycrcb_to_rgb_matrix().T
        return change

    def apply(self, images: np.ndarray, *, layout: str = "NHWC", scale: float = 1.0) -> np.ndarray:
        """Trigger a batch. ``images``: NHWC/NCHW (or grey NHW) in ``[0, scale]``; returns the same layout,
        dtype and scale (uint8 in -> rounded uint8 out)."""
        original = np.asarray(images)
        x = to_nhwc(original, layout)
        x255 = validate_pixels(x, float(scale))
        _, height, width, n_channels = x255.shape
        if self.official_uint8:
            out = self._official(x255 / 255.0) * float(scale)
        else:
            out = np.clip(x255 + self.delta(height, width, n_channels), 0.0, 255.0) * (float(scale) / 255.0)
        if original.dtype == np.uint8:
            out = np.rint(out).astype(np.uint8)
        elif np.issubdtype(original.dtype, np.floating):
            out = out.astype(original.dtype)
        return from_nhwc(out, original, layout)

    __call__ = apply

    def _official(self, x: np.ndarray) -> np.ndarray:
        from tenfold.ftrojan.official import official_trigger

        _, height, width, n_channels = x.shape
        if height % self.window or width % self.window:
            raise BadInputError(f"window {self.window} does not divide the image size {height}x{width}")
        channels, yuv = self.resolve(n_channels)
        return official_trigger(
            x, magnitude=self.magnitude, positions=self.positions, channels=channels, window=self.window, yuv=yuv
        )

    def apply_via_dct(self, images: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
        """The literal algorithm (colour convert, block DCT, add, inverse DCT, convert back, clip), NHWC.

        Equal to :meth:`apply` up to float round-off; kept as the reference and for the benchmark."""
        x = to_nhwc(np.asarray(images), "NHWC")
        x255 = validate_pixels(x, float(scale))
        channels, yuv = self.resolve(x255.shape[-1])
        z = rgb_to_ycrcb(x255) if yuv else x255
        coefficients = block_dct(z, self.window)
        for c in channels:
            for u, v in self.positions:
                coefficients[:, :, :, c, u, v] += self.magnitude
        z = block_idct(coefficients)
        out = ycrcb_to_rgb(z) if yuv else z
        return np.clip(out, 0.0, 255.0) * (float(scale) / 255.0)


def analytic_psnr(trigger: FrequencyTrigger, n_channels: int = 3) -> float:
    """PSNR (dB, 0..255 scale) of the trigger before clipping: the DCT is orthonormal, so the per-pixel
    MSE in a channel is ``sum(magnitude^2 at positions) / window^2`` mapped through the colour matrix."""
    delta = trigger.delta(trigger.window, trigger.window, n_channels)
    mse = float(np.mean(delta**2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
