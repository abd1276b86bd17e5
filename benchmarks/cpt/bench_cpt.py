"""CPT benchmarks: proposal copies scored per second (batched vs one copy at a time) and pre-training step time.

Run: .venv/bin/python benchmarks/cpt/bench_cpt.py [--queries 60] [--steps 30]
Uses a randomly initialised TinyVL of the spec's size (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tenfold.cpt import CPTGrounder, GroundingExample, PretrainConfig, TinyVL, Vocabulary
from tenfold.cpt.pretrain import pretrain
from tenfold.cpt.synth import grounding_items


def copies_per_second(queries: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = TinyVL(PretrainConfig().model_config(len(Vocabulary()))).eval()
    examples = [GroundingExample(i.scene.image, i.proposals, i.query, i.target_box, i.tags) for i in grounding_items(queries, 1)]
    copies = sum(len(e.proposals) for e in examples)
    one_at_a_time = CPTGrounder(model, max_batch_copies=1)
    started = time.perf_counter()
    slow = [one_at_a_time.predict(e.image, e.proposals, e.query, tags=e.tags) for e in examples]
    slow_rate = copies / (time.perf_counter() - started)
    batched = CPTGrounder(model, max_batch_copies=100)
    started = time.perf_counter()
    fast = batched.predict_many(examples)
    fast_rate = copies / (time.perf_counter() - started)
    assert slow == fast, "batched scoring must choose the same proposals"
    return slow_rate, fast_rate


def pretrain_step_seconds(steps: int) -> float:
    config = PretrainConfig(scenes=max(64, 32 * 4), steps=steps, warmup=5)
    times: list[float] = []
    last = [time.perf_counter()]

    def tick(step: int, loss: float) -> None:
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    pretrain(config, on_step=tick)
    return float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    slow, fast = copies_per_second(args.queries)
    print(f"scoring: one copy at a time {slow:.1f} copies/s, batched {fast:.1f} copies/s, ratio {fast / slow:.2f}x")
    step = pretrain_step_seconds(args.steps)
    print(f"pre-training: {step * 1000:.1f} ms per batch-32 step -> 12k steps ~ {12_000 * step / 60:.1f} min on this CPU now")


if __name__ == "__main__":
    main()
