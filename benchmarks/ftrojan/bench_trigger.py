"""Trigger throughput (images/s): the precomputed additive pattern and the batched block-DCT (both ours)
against a per-block scipy loop with per-image colour conversion (the official code's approach), plus the
``official_uint8`` parity mode (OpenCV block loops with the official casts; needs OpenCV).

Run: .venv/bin/python benchmarks/ftrojan/bench_trigger.py
"""

from __future__ import annotations

import time

import numpy as np
import scipy.fft

from tenfold.ftrojan import FrequencyTrigger
from tenfold.ftrojan.dct import rgb_to_ycrcb, ycrcb_to_rgb


def per_block_loop(images: np.ndarray, trigger: FrequencyTrigger) -> np.ndarray:
    """The official structure: for each image, channel and block, dctn -> add -> idctn."""
    out = np.empty_like(images, dtype=np.float64)
    window = trigger.window
    for n, image in enumerate(images):
        z = rgb_to_ycrcb(image * 255.0)
        for c in (1, 2):
            for top in range(0, z.shape[0], window):
                for left in range(0, z.shape[1], window):
                    block = scipy.fft.dctn(z[top : top + window, left : left + window, c], norm="ortho")
                    for u, v in trigger.positions:
                        block[u, v] += trigger.magnitude
                    z[top : top + window, left : left + window, c] = scipy.fft.idctn(block, norm="ortho")
        out[n] = np.clip(ycrcb_to_rgb(z), 0, 255) / 255.0
    return out


def rate(function, images, repeats=3) -> float:
    function(images[:2])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function(images)
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def main() -> None:
    trigger = FrequencyTrigger()
    rng = np.random.default_rng(0)
    for size, count in ((32, 2000), (224, 64)):
        images = rng.random((count, size, size, 3))
        reference = per_block_loop(images[:4], trigger)
        assert np.allclose(trigger(images[:4]), reference, atol=1e-9)
        assert np.allclose(trigger.apply_via_dct(images[:4]), reference, atol=1e-9)
        loop = rate(lambda x: per_block_loop(x, trigger), images)
        batched = rate(trigger.apply_via_dct, images)
        pattern = rate(trigger.apply, images)
        official = rate(FrequencyTrigger(official_uint8=True).apply, images)
        print(
            f"{size}x{size}: per-block loop {loop:9.0f} img/s | batched DCT {batched:9.0f} img/s "
            f"(x{batched / loop:.1f}) | additive pattern {pattern:9.0f} img/s (x{pattern / loop:.1f}) | "
            f"official_uint8 parity mode {official:9.0f} img/s (x{official / loop:.1f})"
        )


if __name__ == "__main__":
    main()
