"""Timing the offload engine: resident vs naive vs overlapped (index order, the InfMoE rule, best-of-two) vs
Accelerate's disk offload.

hidden-transfer fraction = 1 - (T_overlap - T_resident) / (T_naive - T_resident): the share of loading time
the prefetch hid behind compute (1 = all of it).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from tenfold.cpm.moe import mix_update, route
from tenfold.cpm.offload import ExpertStore, OffloadEngine, ResidentExperts
from tenfold.cpm.synthetic import routed_tokens
from tenfold.cpm.transformer import gated_ffn


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls (after one untimed warm-up call)."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class _Expert(nn.Module):
    def __init__(self, weights: dict[str, torch.Tensor]) -> None:
        super().__init__()
        for name, tensor in weights.items():
            setattr(self, name, nn.Parameter(tensor, requires_grad=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gated_ffn(x, self.ln, self.wi0, self.wi1, self.wo)


class _Stack(nn.Module):
    def __init__(self, resident: ResidentExperts) -> None:
        super().__init__()
        self.centroids = [resident.store.centroids(layer) for layer in range(resident.store.num_layers)]
        self.mix = resident.mix
        self.layers = nn.ModuleList(nn.ModuleList(_Expert(w) for w in layer) for layer in resident.weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, experts in enumerate(self.layers):
            expert, affinity = route(x, self.centroids[layer])
            out = torch.zeros_like(x)
            for e in torch.unique(expert).tolist():
                rows = torch.nonzero(expert == e)[:, 0]
                out[rows] = mix_update(experts[e](x[rows]), affinity[rows], self.mix)
            x = x + out
        return x


class AccelerateOffloadPeer:
    """The same MoE stack under Hugging Face Accelerate's ``disk_offload``: weights memory-mapped in a folder,
    moved in by hooks just before each expert runs, no prefetch (the peer users reach for today)."""

    def __init__(self, store: ExpertStore, offload_dir: str | Path, mix: str = "none") -> None:
        from accelerate import disk_offload

        self.model = _Stack(ResidentExperts(store, mix=mix))
        disk_offload(self.model, str(offload_dir), execution_device=torch.device("cpu"))

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def benchmark_rows(
    store: ExpertStore,
    token_counts: list[int],
    *,
    slots: int = 2,
    link_bytes_per_s: float | None = None,
    zipf_s: float | None = 1.2,
    repeats: int = 5,
    with_accelerate: bool = True,
    seed: int = 0,
) -> list[dict[str, float]]:
    """One row per token count: wall times, bytes moved, hidden-transfer fraction and output equality."""
    budget = slots * store.expert_bytes
    resident = ResidentExperts(store)
    engines = {"naive": OffloadEngine(store, budget, prefetch=False, link_bytes_per_s=link_bytes_per_s)}
    for schedule in ("index", "infmoe", "best-of-two"):
        engines[f"overlap_{schedule.replace('-', '_')}"] = OffloadEngine(
            store, budget, schedule=schedule, link_bytes_per_s=link_bytes_per_s)
    peer_dir = tempfile.TemporaryDirectory(prefix="cpm_accelerate_") if with_accelerate else None
    peer = AccelerateOffloadPeer(store, peer_dir.name) if peer_dir is not None else None
    rows = []
    try:
        with torch.no_grad():
            for count in token_counts:
                x = routed_tokens(store.centroids(0), count, zipf_s=zipf_s, seed=seed)
                reference = resident.forward(x)
                row: dict[str, float] = {"tokens": count, "slots": slots}
                row["resident_s"] = median_seconds(lambda: resident.forward(x), repeats)  # noqa: B023
                for name, engine in engines.items():
                    before = engine.stats.bytes_moved
                    row[f"{name}_s"] = median_seconds(lambda e=engine: e.forward(x), repeats)  # noqa: B023
                    row[f"{name}_bytes"] = (engine.stats.bytes_moved - before) / (repeats + 1)
                    row[f"{name}_equal"] = float(torch.equal(engine.forward(x), reference))
                    assert engine.pool.peak_bytes <= budget
                if peer is not None:
                    row["accelerate_s"] = median_seconds(lambda: peer.forward(x), repeats)  # noqa: B023
                    row["accelerate_equal"] = float(torch.equal(peer.forward(x), reference))
                transfer = row["naive_s"] - row["resident_s"]
                overlap = row["overlap_index_s"]
                row["hidden_fraction"] = 1 - (overlap - row["resident_s"]) / transfer if transfer > 0 else 1.0
                row["speedup_overlap"] = row["naive_s"] / overlap
                rows.append(row)
    finally:
        for engine in engines.values():
            engine.close()
        if peer_dir is not None:
            peer_dir.cleanup()
    return rows
