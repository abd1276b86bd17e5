"""Offloaded MoE inference: InfMoE-style prefetch (index order, the InfMoE rule, the best-of-two option) vs naive
load-then-compute vs Accelerate's disk_offload, at batch sizes {1, 16, 256} tokens per layer, same process, same
expert files.

    .venv/bin/python benchmarks/cpm/bench_infmoe.py [--d-model 512 --d-ff 2048 --link-gbps 0.5]

Prints wall times (median of repeats), bytes moved, the hidden-transfer fraction and the ratios naive/overlap,
rule/index and accelerate/overlap. One compute thread (the spec's protocol for 2 cores). The experiment's
verdicts use interleaved pairs instead (tenfold.core.timing); this table is for reading, not for deciding.
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from tenfold.cpm.bench import benchmark_rows, median_seconds
from tenfold.cpm.offload import ExpertStore, ResidentExperts
from tenfold.cpm.synthetic import create_expert_stack, routed_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--experts", type=int, default=16)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--d-ff", type=int, default=1024)
    parser.add_argument("--tokens", default="1,16,256")
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--link-gbps", type=float, default=None, help="emulated link (default: auto, load ~ compute"
                        " at the largest batch; 0 = unthrottled page cache)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    counts = [int(t) for t in args.tokens.split(",")]
    with tempfile.TemporaryDirectory(prefix="cpm_bench_") as folder:
        create_expert_stack(folder, num_layers=args.layers, num_experts=args.experts, d_model=args.d_model,
                            d_ff=args.d_ff)
        store = ExpertStore(folder)
        links: list[tuple[str, float | None]] = [("page cache (no throttle)", None)]
        if args.link_gbps is None:
            # calibrate: one expert's load takes as long as one expert's compute at the largest batch
            resident = ResidentExperts(store)
            x = routed_tokens(store.centroids(0), max(counts), zipf_s=1.2)
            per_expert = median_seconds(lambda: resident.forward(x), 3) / (args.layers * args.experts)
            links.append((f"emulated link {store.expert_bytes / per_expert / 1e9:.2f} GB/s (load ~ compute)",
                          store.expert_bytes / per_expert))
        elif args.link_gbps > 0:
            links.append((f"emulated link {args.link_gbps} GB/s", args.link_gbps * 1e9))
        for label, link in links:
            rows = benchmark_rows(store, counts, slots=args.slots, link_bytes_per_s=link, repeats=args.repeats,
                                  with_accelerate=link is None)
            print(f"\n{label}: {args.layers} layers x {args.experts} experts of {store.expert_bytes / 1e6:.1f} MB, "
                  f"{args.slots} slots, Zipf(1.2) routing")
            print(f"{'tokens':>7} {'resident':>9} {'naive':>8} {'index':>8} {'rule':>8} {'best2':>8} {'accel':>8} "
                  f"{'MB moved':>9} {'hidden':>7} {'naive/ovl':>9} {'rule/idx':>9} {'accel/ovl':>9} {'equal':>5}")
            for r in rows:
                accel = r.get("accelerate_s", float("nan"))
                equal = all(r[k] == 1.0 for k in r if k.endswith("_equal") and not k.startswith("accelerate"))
                print(f"{r['tokens']:>7} {r['resident_s']:>9.4f} {r['naive_s']:>8.4f} {r['overlap_index_s']:>8.4f} "
                      f"{r['overlap_infmoe_s']:>8.4f} {r['overlap_best_of_two_s']:>8.4f} {accel:>8.4f} "
                      f"{r['naive_bytes'] / 1e6:>9.1f} {r['hidden_fraction']:>7.2f} {r['speedup_overlap']:>9.2f} "
                      f"{r['overlap_infmoe_s'] / r['overlap_index_s']:>9.2f} {accel / r['overlap_index_s']:>9.2f} "
                      f"{str(equal):>5}")


if __name__ == "__main__":
    main()
