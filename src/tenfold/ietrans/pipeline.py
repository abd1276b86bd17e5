"""The IETrans pipeline end to end: base model -> relabel -> transfer -> retrain (CE / Rwt) -> evaluate."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tenfold.ietrans.metrics import recall_metrics
from tenfold.ietrans.scene_graphs import SceneGraphs, pair_index
from tenfold.ietrans.training import PredicateClassifier
from tenfold.ietrans.transfer import TransferConfig, TransferResult, external_candidates, ietrans_transfer


def relation_probabilities(model: PredicateClassifier, graphs: SceneGraphs) -> tuple[np.ndarray, np.ndarray]:
    """The model's (P + 1)-class probabilities for every ordered pair and for every annotated relation."""
    pairs = model.predict_proba(graphs)
    rows = pair_index(graphs, graphs.relations[:, 0], graphs.relations[:, 1])
    return pairs, pairs[rows]


def transfer_with_model(
    model: PredicateClassifier, graphs: SceneGraphs, config: TransferConfig, pair_probs: np.ndarray | None = None
) -> TransferResult:
    """Score the training set with ``model`` and run IETrans on it (the relabel + cut + combine stages)."""
    if pair_probs is None:
        pair_probs = model.predict_proba(graphs)
    rows = pair_index(graphs, graphs.relations[:, 0], graphs.relations[:, 1])
    candidates = external_candidates(graphs)
    return ietrans_transfer(graphs, pair_probs[rows], candidates, pair_probs[candidates.pair_rows], config)


@dataclass
class PipelineConfig:
    """What to train and which variants to compare."""

    classifier: PredicateClassifier
    transfer: TransferConfig
    ks: tuple[int, ...] = (20, 50, 100)
    sweep: tuple[float, ...] = ()  # extra k_int values for IETrans (internal + external)
    variants: tuple[str, ...] = ("base", "internal", "ietrans", "ietrans_rwt", "rwt", "logit_adjust")


def evaluate(model: PredicateClassifier, tests: dict[str, SceneGraphs], ks: tuple[int, ...]) -> dict[str, Any]:
    """R/mR/F@K of one model on each named test set (probabilities computed once per set)."""
    results = {}
    shared: dict[int, np.ndarray] = {}
    for name, graphs in tests.items():
        key = id(graphs.object_labels)  # biased and latent sets share objects and pairs
        if key not in shared:
            shared[key] = model.predict_proba(graphs)
        with warnings.catch_warnings():
            # Absent test predicates count 0 in mR (official); the list is kept in the metrics instead.
            warnings.filterwarnings("ignore", message=".*absent from the test set.*")
            results[name] = recall_metrics(graphs, shared[key], ks=ks)
    return results


def run_pipeline(
    train: SceneGraphs,
    tests: dict[str, SceneGraphs],
    config: PipelineConfig,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train every variant, return {variant: {test set: metrics}} plus transfer reports and timings."""
    announce = on_stage or (lambda _stage: None)
    out: dict[str, Any] = {"metrics": {}, "reports": {}, "seconds": {}}

    def train_and_score(name: str, graphs: SceneGraphs, **changes: Any) -> PredicateClassifier:
        announce(name)
        start = time.perf_counter()
        model = replace(config.classifier, **changes).fit(graphs)
        out["metrics"][name] = evaluate(model, tests, config.ks)
        out["seconds"][name] = time.perf_counter() - start
        return model

    base = train_and_score("base", train)
    if "logit_adjust" in config.variants:
        adjusted = replace(base, logit_adjustment=1.0)
        out["metrics"]["logit_adjust"] = evaluate(adjusted, tests, config.ks)
    announce("transfer")
    start = time.perf_counter()
    pair_probs = base.predict_proba(train)
    full = transfer_with_model(base, train, config.transfer, pair_probs)
    out["seconds"]["transfer"] = time.perf_counter() - start
    out["reports"]["ietrans"] = full.report
    if "internal" in config.variants:
        internal = transfer_with_model(base, train, replace(config.transfer, external=False), pair_probs)
        out["reports"]["internal"] = internal.report
        train_and_score("internal", internal.graphs)
    if "ietrans" in config.variants:
        train_and_score("ietrans", full.graphs)
    if "ietrans_rwt" in config.variants:
        train_and_score("ietrans_rwt", full.graphs, loss="rwt")
    if "rwt" in config.variants:
        train_and_score("rwt", train, loss="rwt")
    for k in config.sweep:
        if k == config.transfer.k_int and "ietrans" in out["metrics"]:
            out["metrics"][f"sweep_{k:g}"] = out["metrics"]["ietrans"]
            continue
        swept = transfer_with_model(base, train, replace(config.transfer, k_int=k), pair_probs)
        train_and_score(f"sweep_{k:g}", swept.graphs)
    return out
