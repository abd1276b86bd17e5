"""COCO-18 keypoints: the joint order, the limbs the paper draws, validation, JSON I/O, fixtures.

Keypoints are float arrays (18, 3) or (P, 18, 3) of (x, y, conf) in pixels of the image they
belong to. A joint with conf < ``MIN_CONFIDENCE`` counts as absent (its limbs are not drawn);
out-of-frame coordinates are allowed (half-body portraits).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from tenfold.core.errors import BadInputError

JOINTS: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
# The 12 limbs in the official skeleton-channel order (channel 12 is their union).
LIMBS: tuple[tuple[int, int], ...] = (
    (2, 5), (5, 11), (2, 8), (8, 11), (5, 6), (6, 7), (2, 3), (3, 4), (11, 12), (12, 13), (8, 9), (9, 10),
)
# The 10 limbs that carry a PAF direction (every limb except the shoulder and hip lines).
PAF_LIMBS: tuple[tuple[int, int], ...] = tuple(limb for limb in LIMBS if limb not in ((2, 5), (8, 11)))
MIN_CONFIDENCE = 0.05  # the official threshold
# MediaPipe-33 landmark index for each COCO-18 joint; the neck (None) is the mid-shoulder point.
MEDIAPIPE_TO_COCO: tuple[int | None, ...] = (0, None, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
FIXTURES: tuple[str, ...] = ("astronaut", "camera")


def check_keypoints(keypoints: object, *, what: str = "keypoints") -> np.ndarray:
    """Validate and return keypoints as float64 (P, 18, 3); a single (18, 3) person becomes P = 1."""
    try:
        array = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInputError(f"{what}: not a numeric array; give (18, 3) or (P, 18, 3) rows of (x, y, conf)") from None
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (18, 3) or array.shape[0] == 0:
        raise BadInputError(
            f"{what}: shape {tuple(np.shape(keypoints))} is not (18, 3) or (P, 18, 3); "
            "give COCO-18 rows of (x, y, conf) per person"
        )
    if not np.isfinite(array).all():
        raise BadInputError(f"{what}: contains NaN or infinite values; mark a missing joint with conf 0 instead")
    return array


def present(keypoints: np.ndarray) -> np.ndarray:
    """Boolean mask of the joints that count as detected (conf >= MIN_CONFIDENCE), shape (..., 18)."""
    return keypoints[..., 2] >= MIN_CONFIDENCE


def has_body(person: np.ndarray) -> bool:
    """True when a person (18, 3) has at least one shoulder and one drawable limb."""
    seen = present(person)
    if not (seen[2] or seen[5]):
        return False
    return any(seen[a] and seen[b] for a, b in LIMBS)


def load_keypoints(path: str | Path, *, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Read keypoints from JSON: a list (18, 3) / (P, 18, 3), or an object with a ``keypoints`` key.

    An object may say which image the pixels belong to with ``"size": [width, height]``; given
    ``image_size`` (width, height), a file recorded for another size is refused, since its joints
    would land in the wrong places.
    """
    from tenfold.core.io import read_json

    data = read_json(path, option="--keypoints")
    size = None
    if isinstance(data, dict):
        if "keypoints" not in data:
            raise BadInputError(f"keypoints file {path} has no 'keypoints' key; give a list of (x, y, conf) rows")
        size = data.get("size")
        data = data["keypoints"]
    if size is not None:
        if not (isinstance(size, list) and len(size) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in size)):
            raise BadInputError(f"keypoints file {path}: 'size' must be [width, height] in pixels, got {size!r}")
        if image_size is not None and tuple(round(float(v)) for v in size) != tuple(image_size):
            raise BadInputError(
                f"keypoints file {path} was recorded for a {round(size[0])}x{round(size[1])} image, but the image is "
                f"{image_size[0]}x{image_size[1]}; detect them on this image or rescale them (and their 'size')"
            )
    return check_keypoints(data, what=f"keypoints file {path}")


def keypoints_to_json(keypoints: np.ndarray, *, image_size: tuple[int, int] | None = None) -> str:
    """Serialise (P, 18, 3) keypoints (and the (width, height) they belong to) as JSON :func:`load_keypoints` reads."""
    array = check_keypoints(keypoints)
    rows = array[0] if array.shape[0] == 1 else array
    document: dict = {"format": "coco18 (x, y, conf) pixels", "keypoints": np.round(rows, 3).tolist()}
    if image_size is not None:
        document["size"] = [int(image_size[0]), int(image_size[1])]
    return json.dumps(document)


def fixture_keypoints(name: str) -> np.ndarray:
    """The shipped COCO-18 keypoints (18, 3) for the bundled ``astronaut`` or ``camera`` portrait."""
    if name not in FIXTURES:
        raise BadInputError(f"no keypoint fixture {name!r}; choose one of: {', '.join(FIXTURES)}")
    text = resources.files("tenfold.bodyreshape").joinpath("fixtures").joinpath(f"{name}.json").read_text(encoding="utf-8")
    return check_keypoints(json.loads(text)["keypoints"])[0]


def fixture_image(name: str) -> np.ndarray:
    """The bundled portrait that matches :func:`fixture_keypoints`, float32 (512, 512, 3) in [0, 1]."""
    import skimage.data

    if name not in FIXTURES:
        raise BadInputError(f"no portrait {name!r}; choose one of: {', '.join(FIXTURES)}")
    image = np.asarray(getattr(skimage.data, name)(), dtype=np.float32) / 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image


def coco18_from_mediapipe(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """Map MediaPipe-33 landmarks (33, >=4: x, y normalised, z, visibility) to COCO-18 (x, y, conf) pixels."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 2 or landmarks.shape[0] != 33 or landmarks.shape[1] < 4:
        raise BadInputError(f"mediapipe landmarks must be (33, 4+), got {landmarks.shape}")
    out = np.zeros((18, 3))
    for coco, mp_index in enumerate(MEDIAPIPE_TO_COCO):
        if mp_index is None:  # neck: the midpoint of the shoulders (11, 12)
            point = (landmarks[11] + landmarks[12]) / 2
            confidence = min(landmarks[11, 3], landmarks[12, 3])
        else:
            point, confidence = landmarks[mp_index], landmarks[mp_index, 3]
        out[coco] = (point[0] * width, point[1] * height, confidence)
    return out
