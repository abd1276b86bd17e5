"""GPU check of the offload engine's CUDA path (spec 5 (C), "device check script"): run once on a CUDA machine.

    .venv/bin/python benchmarks/cpm/device_check.py [--experts 32 --d-model 1024 --d-ff 4096]

Prints pinned vs pageable host->device GB/s, then resident / naive / overlap / greedy wall times for
512, 4096 and 32768 tokens through one MoE layer, and whether the offloaded output equals the resident one
bitwise. Not run by the test suite (no GPU on the CI machines).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from tenfold.cpm.bench import median_seconds
from tenfold.cpm.offload import ExpertStore, OffloadEngine, ResidentExperts
from tenfold.cpm.synthetic import create_expert_stack, routed_tokens


def h2d_gbps(pinned: bool, nbytes: int = 256 * 2**20) -> float:
    host = torch.empty(nbytes, dtype=torch.uint8, pin_memory=pinned)
    device = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    device.copy_(host, non_blocking=pinned)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(5):
        device.copy_(host, non_blocking=pinned)
    torch.cuda.synchronize()
    return 5 * nbytes / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=1024)
    parser.add_argument("--d-ff", type=int, default=4096)
    parser.add_argument("--tokens", default="512,4096,32768")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check needs a GPU")
    print(f"H2D pinned {h2d_gbps(True):.1f} GB/s, pageable {h2d_gbps(False):.1f} GB/s")
    with tempfile.TemporaryDirectory(prefix="cpm_device_") as folder:
        create_expert_stack(folder, num_layers=1, num_experts=args.experts, d_model=args.d_model, d_ff=args.d_ff)
        store = ExpertStore(folder)
        resident = ResidentExperts(store, device="cuda")
        budget = 2 * store.expert_bytes
        engines = {"naive": OffloadEngine(store, budget, prefetch=False, device="cuda"),
                   "overlap": OffloadEngine(store, budget, schedule="index", device="cuda"),
                   "greedy": OffloadEngine(store, budget, schedule="greedy", device="cuda")}
        print(f"expert {store.expert_bytes / 1e6:.1f} MB, {args.experts} experts, 2 slots")
        for count in (int(t) for t in args.tokens.split(",")):
            x = routed_tokens(store.centroids(0), count, zipf_s=1.2)
            with torch.no_grad():
                reference = resident.forward(x)
                times = {"resident": median_seconds(lambda x=x: resident.forward(x), 3)}
                equal = True
                for name, engine in engines.items():
                    times[name] = median_seconds(lambda e=engine, x=x: e.forward(x), 3)
                    equal &= bool(torch.equal(engine.forward(x), reference))
            print(f"{count:>6} tokens: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in times.items())
                  + f"; naive/overlap {times['naive'] / times['overlap']:.2f}x; bitwise equal {equal}")
        for engine in engines.values():
            engine.close()


if __name__ == "__main__":
    main()
