"""Optional pose provider: MediaPipe's legacy BlazePose (extra ``[pose]``, mediapipe 0.10.21, numpy<2).

mediapipe 0.10.21 is the last wheel that ships its pose model offline (``model_complexity=1`` only);
newer releases have no ``solutions`` API and download ``.task`` files. The default path of this
package never needs it: pass COCO-18 keypoints as JSON instead.
"""

from __future__ import annotations

import numpy as np

from tenfold.bodyreshape.keypoints import coco18_from_mediapipe
from tenfold.core.errors import BadConfigError

INSTALL_HINT = ("pip install 'tenfold[pose]' (mediapipe==0.10.21, needs numpy<2), or pass COCO-18 keypoints "
                "as JSON with --keypoints")


def _mediapipe():
    try:
        import mediapipe
    except ImportError:
        raise BadConfigError(f"pose estimation needs the optional mediapipe package: {INSTALL_HINT}") from None
    if not hasattr(mediapipe, "solutions") or not hasattr(mediapipe.solutions, "pose"):
        version = getattr(mediapipe, "__version__", "?")
        raise BadConfigError(f"mediapipe {version} ships no offline pose model; {INSTALL_HINT}")
    return mediapipe


def detect_keypoints(image: np.ndarray) -> np.ndarray:
    """COCO-18 (x, y, conf) pixels (18, 3) for the most prominent person; all-zero conf if none is found."""
    from tenfold.bodyreshape.images import prepare_image

    mediapipe = _mediapipe()
    rgb, _ = prepare_image(image)
    height, width = rgb.shape[:2]
    pixels = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    # model_complexity 0 and 2 try to download their models; 1 ships inside the wheel.
    with mediapipe.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as estimator:
        found = estimator.process(pixels)
    if found.pose_landmarks is None:
        return np.zeros((18, 3))
    landmarks = np.array([[p.x, p.y, p.z, p.visibility] for p in found.pose_landmarks.landmark])
    return coco18_from_mediapipe(landmarks, width, height)
