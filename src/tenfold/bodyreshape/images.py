"""Image intake and output for the reshape commands: dtype/range rules, grey and RGBA, EXIF, atomic writes.

Accepted arrays: (H, W) grey (replicated to RGB), (H, W, 3) RGB, (H, W, 4) RGBA (the alpha is
warped too). uint8 is read as /255, uint16 as /65535, floats must already be in [0, 1].
Both sides must be at least 32 px; NaN or infinite values are rejected.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tenfold.core.errors import BadInputError, MissingDataError

MIN_SIDE = 32
_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
            ".webp": "WEBP"}


def prepare_image(image: object, *, what: str = "image") -> tuple[np.ndarray, np.ndarray | None]:
    """Validate and convert to (float32 RGB (H, W, 3) in [0, 1], float32 alpha (H, W) or None)."""
    if image is None:
        raise BadInputError(f"{what}: got None; pass an (H, W), (H, W, 3) or (H, W, 4) array")
    array = np.asarray(image)
    if array.size == 0:
        raise BadInputError(f"{what}: the array is empty")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise BadInputError(f"{what}: shape {array.shape} is not (H, W), (H, W, 3) or (H, W, 4)")
    if min(array.shape[:2]) < MIN_SIDE:
        raise BadInputError(f"{what}: {array.shape[1]}x{array.shape[0]} px is too small; both sides need >= {MIN_SIDE} px")
    if array.dtype == np.uint8:
        values = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        values = array.astype(np.float32) / 65535.0
    elif np.issubdtype(array.dtype, np.floating):
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise BadInputError(f"{what}: contains NaN or infinite values")
        if values.min() < 0.0 or values.max() > 1.0:
            raise BadInputError(f"{what}: float pixels span [{values.min():.3g}, {values.max():.3g}]; scale them to [0, 1]")
    elif array.dtype == bool or np.issubdtype(array.dtype, np.integer):
        raise BadInputError(f"{what}: dtype {array.dtype} is not supported; use uint8, uint16 or float in [0, 1]")
    else:
        raise BadInputError(f"{what}: dtype {array.dtype} is not an image type")
    if values.ndim == 2:
        return np.repeat(values[..., None], 3, axis=-1), None
    if values.shape[2] == 4:
        return np.ascontiguousarray(values[..., :3]), np.ascontiguousarray(values[..., 3])
    return values, None


def read_image_file(path: str | Path) -> np.ndarray:
    """Read an image file with its EXIF orientation applied; returns uint8/uint16 (H, W[, 3|4]) as stored."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"image {path} does not exist")
    try:
        with Image.open(path) as opened:
            picture = ImageOps.exif_transpose(opened)
            if picture.mode in ("I;16", "I;16B", "I;16L"):
                return np.asarray(picture, dtype=np.uint16)
            if picture.mode not in ("L", "RGB", "RGBA"):
                picture = picture.convert("RGBA" if "A" in picture.mode or "transparency" in picture.info else "RGB")
            return np.asarray(picture)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise BadInputError(f"{path} is not a readable image ({error}); use PNG or JPEG") from None


def write_image_file(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None) -> Path:
    """Write float RGB (+ alpha) in [0, 1] as 8-bit, atomically; the format follows the suffix."""
    from PIL import Image

    from tenfold.core.io import atomic_write_bytes

    path = Path(path)
    image_format = _FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise BadInputError(f"output {path}: unknown image suffix; use one of {', '.join(sorted(_FORMATS))}")
    channels = rgb if alpha is None else np.concatenate([rgb, alpha[..., None]], axis=-1)
    if alpha is not None and image_format == "JPEG":
        channels = rgb  # JPEG has no alpha channel
    data = (np.clip(channels, 0, 1) * 255 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(data).save(buffer, format=image_format)
    atomic_write_bytes(path, buffer.getvalue())
    return path
