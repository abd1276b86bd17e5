"""GPU check of the offload engine's CUDA path (spec 5 (C), "device check script"): run once on a CUDA machine.

    .venv/bin/python benchmarks/cpm/device_check.py [--experts 32 --d-model 1024 --d-ff 4096 --pairs 20]

Prints pinned vs pageable host->device GB/s; then, for 512, 4096 and 32768 tokens through one MoE layer:
whether every offloaded engine (naive, index order, the InfMoE rule, best-of-two; K = 2, 3, 4) equals the
resident output bitwise, the pool's peak bytes against its budget, and wall-time ratios from interleaved ABBA
pairs (tenfold.core.timing) with their 90% intervals: naive / overlap (K=2) and rule / index at every K, next
to the simulator's stall for the measured alphas and beta. Not run by the test suite (no GPU on CI machines);
exits with status 1 if any output differs or a budget is exceeded, so a short device run can gate on it.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time

import torch

from tenfold.core.intervals import interval
from tenfold.core.timing import interleaved_timing
from tenfold.cpm.offload import ExpertStore, OffloadEngine, ResidentExperts
from tenfold.cpm.schedule import index_order, infmoe_greedy_order, simulate
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


def ratio_text(timing) -> str:  # noqa: ANN001 - a core.timing.PairedTiming
    bounds = interval(timing.log_ratios.values)
    return f"{timing.ratio:.3f} [{math.exp(bounds.low):.3f}, {math.exp(bounds.high):.3f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=1024)
    parser.add_argument("--d-ff", type=int, default=4096)
    parser.add_argument("--tokens", default="512,4096,32768")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--zipf", type=float, default=1.2)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: this check needs a GPU", file=sys.stderr)
        return 2
    print(f"{torch.cuda.get_device_name()}; H2D pinned {h2d_gbps(True):.1f} GB/s, pageable {h2d_gbps(False):.1f} GB/s")
    ok = True
    with tempfile.TemporaryDirectory(prefix="cpm_device_") as folder:
        create_expert_stack(folder, num_layers=1, num_experts=args.experts, d_model=args.d_model, d_ff=args.d_ff)
        store = ExpertStore(folder)
        resident = ResidentExperts(store, device="cuda")
        engines = {"naive": OffloadEngine(store, store.expert_bytes, prefetch=False, device="cuda")}
        for k in (2, 3, 4):
            for schedule in ("index", "infmoe", "best-of-two"):
                engines[f"{schedule}_k{k}"] = OffloadEngine(store, k * store.expert_bytes, schedule=schedule,
                                                            device="cuda")
        print(f"expert {store.expert_bytes / 1e6:.1f} MB, {args.experts} experts, Zipf({args.zipf}) routing")
        try:
            for count in (int(t) for t in args.tokens.split(",")):
                x = routed_tokens(store.centroids(0), count, zipf_s=args.zipf)
                with torch.no_grad():
                    reference = resident.forward(x)
                    equal = all(torch.equal(engine.forward(x), reference) for engine in engines.values())
                    within = all(e.pool.peak_bytes <= e.pool.budget_bytes for e in engines.values())
                    ok &= equal and within
                    line = [f"{count:>6} tokens: bitwise equal {equal}, within budget {within}"]
                    overlap = interleaved_timing(lambda x=x: engines["naive"].forward(x),
                                                 lambda x=x: engines["index_k2"].forward(x),
                                                 pairs=args.pairs, clock="wall")
                    line.append(f"naive/overlap {ratio_text(overlap)}")
                    routed = torch.argmax(x.float() @ store.centroids(0).T, dim=1)
                    tokens_per_expert = torch.bincount(routed, minlength=store.num_experts).tolist()
                    for k in (2, 3, 4):
                        rule, index = engines[f"infmoe_k{k}"], engines[f"index_k{k}"]
                        timing = interleaved_timing(lambda r=rule, x=x: r.forward(x),
                                                    lambda i=index, x=x: i.forward(x), pairs=args.pairs, clock="wall")
                        alphas = [c * rule.alpha_per_token for c in tokens_per_expert]
                        stall_rule = simulate(alphas, infmoe_greedy_order(alphas, rule.beta, k), rule.beta, k).stall
                        stall_index = simulate(alphas, index_order(alphas), rule.beta, k).stall
                        line.append(f"K={k} rule/index {ratio_text(timing)} (simulated stall {stall_rule * 1e3:.2f} "
                                    f"vs {stall_index * 1e3:.2f} ms)")
                print("; ".join(line))
        finally:
            for engine in engines.values():
                engine.close()
    print("all offloaded outputs bitwise equal and within budget:", ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
