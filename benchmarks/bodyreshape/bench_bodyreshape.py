"""Body-reshape timings on this CPU: whole pipeline per method at 512 px and 2048 px (pose excluded),
and the vectorised warp against the official-style per-pixel loop, printed as ratios.

Run: .venv/bin/python benchmarks/bodyreshape/bench_bodyreshape.py [--threads 1]
Goal (issue 5): a 2K photo reshaped by the small learned model in under 2 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tenfold.bodyreshape.flow_generator import FlowGenerator, GeneratorConfig
from tenfold.bodyreshape.keypoints import fixture_image, fixture_keypoints
from tenfold.bodyreshape.pipeline import BodyReshaper
from tenfold.bodyreshape.training import load_checkpoint, shipped_checkpoint
from tenfold.bodyreshape.warp import remap, remap_reference
from tenfold.core.errors import MissingDataError


def best_of(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from PIL import Image

    base, keypoints = fixture_image("astronaut"), fixture_keypoints("astronaut")
    try:  # the checkpoint `reshape --method learned` loads (the `small` preset's network)
        model = load_checkpoint(shipped_checkpoint())
    except MissingDataError:
        torch.manual_seed(0)
        model = FlowGenerator(GeneratorConfig(width=8, input_size=64)).eval()
        torch.nn.init.normal_(model.decoder_top[-1].weight, 0, 0.05)
    print(f"torch threads: {args.threads}")
    print(f"{'method':<10}{'512 px (s)':>12}{'2048 px (s)':>13}")
    for method in ("learned", "capsule", "mls", "liquify"):
        row = []
        for size in (512, 2048):
            image = base if size == 512 else np.asarray(
                Image.fromarray((base * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC),
                dtype=np.float32) / 255
            scaled = keypoints.copy()
            scaled[:, :2] *= size / 512
            reshaper = BodyReshaper(method=method, model=model if method == "learned" else None)
            row.append(best_of(lambda r=reshaper, i=image, k=scaled: r.reshape(i, k), args.repeats))
        print(f"{method:<10}{row[0]:>12.3f}{row[1]:>13.3f}")

    rng = np.random.default_rng(0)
    image = rng.random((128, 128, 3)).astype(np.float32)
    flow = (rng.standard_normal((128, 128, 2)) * 3).astype(np.float32)
    loop = best_of(lambda: remap_reference(image, flow), 1)
    for backend in ("cv2", "torch"):
        fast = best_of(lambda b=backend: remap(image, flow, backend=b), args.repeats)
        print(f"warp 128 px: per-pixel loop {loop:.3f} s, {backend} {fast * 1e3:.2f} ms, speed-up x{loop / fast:,.0f}")
    big = rng.random((2048, 2048, 3)).astype(np.float32)
    big_flow = (rng.standard_normal((2048, 2048, 2)) * 3).astype(np.float32)
    for backend in ("cv2", "torch"):
        seconds = best_of(lambda b=backend: remap(big, big_flow, backend=b), args.repeats)
        print(f"warp 2048 px with {backend}: {seconds:.3f} s")


if __name__ == "__main__":
    main()
