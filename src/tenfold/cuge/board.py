"""The leaderboard: stored score files -> ranked rows with "raw (norm)" cells, and its CSV/JSON exports.

A pinned baseline row (=100 everywhere, unranked), then complete rows ranked by Index; partial rows
keep their per-dataset scores and get an Index only with ``allow_partial`` (labelled as such).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from tenfold.core.errors import BadInputError, MissingDataError
from tenfold.core.io import read_json
from tenfold.cuge.comparison import aggregate, kendall_report
from tenfold.cuge.jsonl import SubmissionError
from tenfold.cuge.registry import Registry
from tenfold.cuge.scoring import (
    SCORING_VERSION,
    available_index,
    format_cell,
    rank_rows,
    round_half_up,
    score_tree,
)
from tenfold.cuge.submission import METADATA_TEXT_FIELDS, check_system_name, check_text, system_key


def _check_score(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInputError(f"{where} is {type(value).__name__}, not a number")
    try:
        number = float(value)
    except OverflowError:
        raise BadInputError(f"{where} is an integer beyond float range; scores lie in [0, 100]") from None
    if not math.isfinite(number) or not 0.0 <= number <= 100.0:
        raise BadInputError(f"{where} is {number!r}; scores lie in [0, 100] (a metric on 0-1 must be multiplied by 100)")
    return number


def check_score_record(data: Any, where: str) -> dict[str, Any]:
    """A score file's content: an object with a valid 'system' name and 'raw' {dataset: score in [0, 100]}."""
    if not isinstance(data, dict) or "raw" not in data or "system" not in data:
        raise BadInputError(f"{where} has no 'system'/'raw'; it was not written by `tenfold cuge score`")
    try:
        check_system_name(data["system"], f"{where}: 'system'")
    except SubmissionError as error:
        raise BadInputError(str(error)) from None
    raw = data["raw"]
    if not isinstance(raw, dict):
        raise BadInputError(f"{where}: 'raw' must map dataset names to scores, got {type(raw).__name__}")
    for name, value in raw.items():
        _check_score(value, f"{where}: raw score of {str(name)[:40]!r}")
    for key in ("metadata", "datasets"):
        if key in data and not isinstance(data[key], dict):
            raise BadInputError(f"{where}: {key!r} must be an object")
    meta = data.get("metadata", {})
    for key in ("organisation", "date"):
        if key in meta:
            try:
                check_text(meta[key], f"{where}: metadata {key!r}", limit=METADATA_TEXT_FIELDS[key])
            except SubmissionError as error:
                raise BadInputError(str(error)) from None
    return data


def read_score_file(path: str | Path, *, option: str = "") -> dict[str, Any]:
    """One score file, checked (core.io's reader turns deep nesting and huge numbers into named errors)."""
    path = Path(path)
    return check_score_record(read_json(path, option=option), f"score file {path.name}")


def load_scores(folder: str | Path) -> list[dict[str, Any]]:
    """Every ``*.json`` score file of a folder, sorted by system name.

    Two files naming the same system (ignoring case, width and spacing) are refused: one would
    silently replace the other's row.
    """
    folder = Path(folder)
    if folder.is_file():
        raise BadInputError(f"score folder {folder} is a file; give the folder that holds the score files (*.json)")
    if not folder.is_dir():
        raise MissingDataError(f"score folder {folder} does not exist; run `tenfold cuge mini run` or `cuge score`")
    scores = []
    owners: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        data = read_score_file(path)
        key = system_key(data["system"])
        if key in owners:
            raise BadInputError(f"score files {owners[key]} and {path.name} both name the system {data['system']!r} "
                                f"(names are compared ignoring case, width and spacing); remove or rename one")
        owners[key] = path.name
        scores.append(data)
    if not scores:
        raise MissingDataError(f"{folder} holds no score files (*.json)")
    return sorted(scores, key=lambda s: s["system"])


def check_versions(scores: list[dict[str, Any]], registry: Registry) -> None:
    """Refuse to aggregate scores produced by different registry, metric or scoring versions."""
    for key, expected in (("registry_version", registry.version), ("scoring_version", SCORING_VERSION)):
        for s in scores:
            if s.get(key, expected) != expected:
                raise BadInputError(f"score file of {s['system']!r} has {key} {s.get(key)!r}, not {expected!r}; "
                                    f"re-score it instead of mixing versions")
    metric_sets = {json.dumps(s.get("metric_versions", {}), sort_keys=True) for s in scores if s.get("metric_versions")}
    if len(metric_sets) > 1:
        raise BadInputError("score files were computed with different metric versions; re-score them together")


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _rounded_tree(tree: dict[str, Any]) -> dict[str, Any]:
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (_round(v) if k in ("raw", "norm", "index") else walk(v)) for k, v in node.items()}
        return node

    return walk(tree)


def effective_weights(registry: Registry, chosen: list[str], weights: dict[str, float] | None) -> dict[str, dict[str, float]]:
    """The sibling weights a board uses (registry weights, overridden by ``weights``), for the page's script."""
    weights = weights or {}
    tasks = {registry.datasets[d].task for d in chosen}
    caps = {registry.datasets[d].capability for d in chosen}
    return {
        "datasets": {d: float(weights.get(d, registry.datasets[d].weight)) for d in chosen},
        "tasks": {t: float(weights.get(t, registry.tasks[t].weight)) for t in registry.tasks if t in tasks},
        "capabilities": {c: float(weights.get(c, registry.capabilities[c].weight)) for c in registry.capabilities if c in caps},
    }


def index_text(index: float | None, partial: float | None) -> str:
    """The Index cell: the integer Index, a partial row's Index over the datasets it has, or '-'."""
    if index is not None:
        return str(round_half_up(index))
    if partial is not None:
        return f"{round_half_up(partial)} (partial)"
    return "-"


def build_leaderboard(scores: list[dict[str, Any]], registry: Registry, *, baseline: str | None = None,
                      mode: str = "mean", selection: list[str] | str | None = None,
                      weights: dict[str, float] | None = None, allow_partial: bool = False,
                      with_comparison: bool = True) -> dict[str, Any]:
    """The board as a JSON-ready dict (deterministic: sorted, rounded to 6 decimals)."""
    check_versions(scores, registry)
    baseline = baseline or registry.baseline
    by_system: dict[str, dict[str, Any]] = {}
    for s in scores:
        if s["system"] in by_system:
            raise BadInputError(f"two score records name the system {s['system']!r}; one would replace the other's row")
        by_system[s["system"]] = s
    if baseline not in by_system:
        raise MissingDataError(f"no score file for the baseline system {baseline!r}; known: {', '.join(by_system)}")
    base_raw = by_system[baseline]["raw"]
    rows, indices = [], {}
    for system, data in by_system.items():
        tree = score_tree(data["raw"], base_raw, registry, selection=selection, weights=weights, mode=mode)
        partial = None
        if not tree["complete"] and allow_partial:
            partial = available_index(tree, data["raw"], base_raw, registry, mode, weights=weights)
        meta = data.get("metadata", {})
        row = {
            "system": system,
            "organisation": meta.get("organisation", ""),
            "date": meta.get("date", ""),
            "baseline": system == baseline,
            "index": _round(tree["index"]),
            "index_text": index_text(tree["index"], partial),
            "partial_index": _round(partial),
            "complete": tree["complete"],
            "cells": {c: format_cell(v["raw"], v["norm"]) for c, v in tree["capabilities"].items()},
            "tree": _rounded_tree(tree["capabilities"]),
            "warnings": tree["warnings"],
        }
        rows.append(row)
        if system != baseline:
            indices[system] = tree["index"] if tree["complete"] else (partial if allow_partial else None)
    ranks = rank_rows(indices)
    for row in rows:
        row["rank"] = None if row["baseline"] else ranks[row["system"]]
    rows.sort(key=lambda r: (not r["baseline"], r["rank"] is None, r["rank"] or 0, r["system"]))
    chosen = registry.select(selection)
    board: dict[str, Any] = {
        "benchmark": registry.name,
        "registry_version": registry.version,
        "scoring_version": SCORING_VERSION,
        "metric_versions": next((s["metric_versions"] for s in scores if s.get("metric_versions")), {}),
        "mode": mode,
        "baseline": baseline,
        "selection": chosen,
        "allow_partial": allow_partial,
        "weights": effective_weights(registry, chosen, weights),
        "capabilities": [{"code": c.code, "name": c.name} for c in registry.capabilities.values()
                         if any(registry.datasets[d].capability == c.code for d in chosen)],
        "datasets": [{"name": d, "task": registry.datasets[d].task, "capability": registry.datasets[d].capability,
                      "metric": registry.datasets[d].metric, "lite": registry.datasets[d].lite,
                      "chance": registry.datasets[d].chance} for d in chosen],
        "rows": rows,
    }
    if with_comparison:
        complete = {s: d["raw"] for s, d in by_system.items() if all(d["raw"].get(x) is not None for x in chosen)}
        if len(complete) >= 2:
            agg = aggregate(complete, baseline, registry, [f"ds:{d}" for d in chosen], weights=weights)
            report = kendall_report(agg)
            report["aggregates"] = {k: {s: _round(v) for s, v in vals.items()} for k, vals in agg.items()}
            board["comparison"] = report
    return board


def board_json(board: dict[str, Any]) -> str:
    """Canonical JSON text (sorted keys) so two runs can be compared byte for byte."""
    return json.dumps(board, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection");
# full-width forms are included because some spreadsheets normalise them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_text(value: Any) -> str:
    """A text cell a spreadsheet shows as text: a leading formula character gets a quote in front."""
    text = "" if value is None else str(value)
    return "'" + text if text.lstrip(" ").startswith(FORMULA_STARTS) else text


def board_csv(board: dict[str, Any]) -> str:
    """One line per system: rank, system, organisation, each capability's raw and normalised score, Index.

    Names and organisations are user text: formula-looking cells are neutralised (:func:`spreadsheet_text`).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    caps = [c["code"] for c in board["capabilities"]]
    writer.writerow(["rank", "system", "organisation", *[f"{c} raw" for c in caps], *[f"{c} norm" for c in caps],
                     "index", "partial index"])
    for row in board["rows"]:
        raw = [row["tree"].get(c, {}).get("raw") for c in caps]
        norm = [row["tree"].get(c, {}).get("norm") for c in caps]
        writer.writerow([row["rank"] if row["rank"] is not None else ("baseline" if row["baseline"] else ""),
                         spreadsheet_text(row["system"]), spreadsheet_text(row["organisation"]),
                         *["" if v is None else f"{v:.2f}" for v in raw],
                         *["" if v is None else f"{v:.2f}" for v in norm],
                         "" if row["index"] is None else f"{row['index']:.2f}",
                         "" if row.get("partial_index") is None else f"{row['partial_index']:.2f}"])
    return buffer.getvalue()


def lm_eval_json(scores: list[dict[str, Any]], registry: Registry, system: str) -> dict[str, Any]:
    """Export one system's scores as lm-evaluation-harness-like results JSON."""
    data = next((s for s in scores if s["system"] == system), None)
    if data is None:
        raise MissingDataError(f"no scores for system {system!r}")
    groups: dict[str, dict[str, list[str]]] = {}
    for name, d in registry.datasets.items():
        groups.setdefault(d.capability, {}).setdefault(d.task, []).append(name)
    return {"results": {d: dict(m) for d, m in data.get("datasets", {}).items()}, "groups": groups,
            "config": {"model": system, "registry_version": registry.version}}


def scores_from_lm_eval(data: dict[str, Any], registry: Registry, system: str) -> dict[str, Any]:
    """Import lm-eval-like ``{"results": {dataset: {metric: value}}}`` as a score record (primary metrics)."""
    results = data.get("results")
    if not isinstance(results, dict):
        raise BadInputError("lm-eval results JSON needs a 'results' object of {dataset: {metric: value}}")
    raw: dict[str, float] = {}
    for name, metrics in results.items():
        if name not in registry.datasets:
            raise BadInputError(f"lm-eval results name unknown dataset {name!r} for {registry.name}")
        metric = registry.datasets[name].metric
        if not isinstance(metrics, dict) or not isinstance(metrics.get(metric), int | float):
            raise BadInputError(f"lm-eval results for {name!r} lack the primary metric {metric!r}")
        raw[name] = float(metrics[metric])
    return {"system": system, "registry": registry.name, "registry_version": registry.version,
            "scoring_version": SCORING_VERSION, "raw": raw, "datasets": results, "metadata": {"system": system}}
