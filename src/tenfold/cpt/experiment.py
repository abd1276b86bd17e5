"""CPT in miniature: zero-/few-shot colour-prompt grounding vs a fine-tuned head (spec 5.4).

A tiny VL transformer is pre-trained with MLM on synthetic captioned scenes (cached), then:
G0 grounding gate, E0 colour search, E1 zero-shot CPT, E2 K-shot CPT vs fine-tuning over seeds,
plus the grounding-ability-vs-CPT-gain curve over pre-training snapshots.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tenfold.core.errors import BadConfigError
from tenfold.core.experiment import Claim, Result, Scale, experiment
from tenfold.core.report import save_figure
from tenfold.cpt.colors import color_search
from tenfold.cpt.examples import GroundingExample, hit, random_accuracy
from tenfold.cpt.finetune import FineTuneGrounder
from tenfold.cpt.grounder import RED, CPTGrounder
from tenfold.cpt.model import TinyVL, TinyVLConfig
from tenfold.cpt.pretrain import PretrainConfig, load_or_pretrain
from tenfold.cpt.prompt import build_prompt
from tenfold.cpt.synth import PALETTE_RGB, GroundingItem, grounding_items
from tenfold.cpt.vocabulary import PALETTE

CLAIMS = [
    "G0: the pre-trained backbone names the colour of the object an expression picks out (>= 0.80)",
    "zero-shot CPT accuracy >= 1.4x random",
    "1-shot: CPT beats fine-tuning a new head by >= 8 points (paper +17.3)",
    "seed std averaged over K in {1,2,4,8,16}: CPT <= 0.6x fine-tuning (paper -73.8%)",
    "CPT > fine-tuning at every K <= 16",
]


@dataclass(frozen=True)
class Plan:
    pretrain: PretrainConfig
    shots: tuple[int, ...]
    seeds: int
    few_shot_steps: int
    test: int
    gate: int
    pool: int
    lattice_levels: int


PLANS = {
    Scale.SMOKE: Plan(PretrainConfig(scenes=160, steps=30, batch_size=16, warmup=5, snapshots=(15,)), (1, 2), 2, 3, 12, 12, 40, 2),
    Scale.SMALL: Plan(PretrainConfig(snapshots=(3000, 6000, 9000)), (1, 2, 4, 8, 16), 5, 100, 300, 300, 400, 6),
    Scale.FULL: Plan(
        PretrainConfig(scenes=60_000, steps=60_000, batch_size=64, hidden=128, layers=6, heads=8, ffn=256,
                       snapshots=(15_000, 30_000, 45_000)),
        (1, 2, 4, 8, 16, 64, 256), 5, 500, 1000, 1000, 2000, 8,
    ),
}


def _example(item: GroundingItem) -> GroundingExample:
    return GroundingExample(item.scene.image, item.proposals, item.query, item.target_box, item.tags)


def gate_accuracy(model: TinyVL, items: list[GroundingItem]) -> float:
    """G0: argmax over palette words at "{expression} is in [MASK] color ." equals the target's colour."""
    tokenizer = model.tokenizer
    palette_ids = torch.as_tensor(tokenizer.convert_tokens_to_ids(list(PALETTE)))
    correct = []
    with torch.no_grad():
        for item in items:
            prompt = build_prompt(tokenizer, item.query, "{query} is in [MASK] color .", model.max_text_length)
            text_states, _ = model.encode(
                torch.as_tensor(item.scene.image)[None],
                torch.as_tensor(item.proposals)[None],
                torch.ones(1, len(item.proposals), dtype=torch.bool),
                torch.as_tensor([prompt.input_ids]),
                torch.ones(1, len(prompt.input_ids), dtype=torch.bool),
                torch.as_tensor([prompt.token_types]),
            )
            logits = model.mlm_logits(text_states[0, prompt.mask_index])[palette_ids]
            correct.append(PALETTE[int(logits.argmax())] == item.scene.objects[item.target].color)
    return float(np.mean(correct))


def zero_shot(model: TinyVL, examples: list[GroundingExample], color: tuple[str, tuple[int, int, int]] = RED) -> dict[str, float]:
    """Zero-shot accuracy with one copy per proposal: log P(colour) and log P(colour) - log P(none)."""
    grounder = CPTGrounder(model, colors=[color])
    word_id = model.tokenizer.convert_tokens_to_ids(color[0])
    none_id = model.tokenizer.convert_tokens_to_ids("none")
    plain, normalised, choices = [], [], []
    for example, log_p in zip(examples, grounder.mask_log_probabilities_many(examples), strict=True):
        choice = int(np.argmax(log_p[:, word_id]))
        choices.append(choice)
        plain.append(hit(example, choice))
        normalised.append(hit(example, int(np.argmax(log_p[:, word_id] - log_p[:, none_id]))))
    return {"logprob": float(np.mean(plain)), "none_normalized": float(np.mean(normalised)), "choices": choices}


def _accuracy(grounder, examples: list[GroundingExample]) -> float:
    return float(np.mean([hit(e, c) for e, c in zip(examples, grounder.predict_many(examples), strict=True)]))


_WORKER: dict[str, object] = {}


def _grid_worker_setup(state: dict, config: dict, pool_seed: int, pool_size: int, test_seed: int, test_size: int) -> None:
    """Per-process copy of the backbone and the (regenerated, seeded) pool and test set."""
    torch.set_num_threads(1)
    model = TinyVL(TinyVLConfig(**config))
    model.load_state_dict(state)
    model.eval()
    _WORKER["model"] = model
    _WORKER["pool"] = [_example(i) for i in grounding_items(pool_size, pool_seed)]
    _WORKER["test"] = [_example(i) for i in grounding_items(test_size, test_seed)]


def _grid_job(job: tuple) -> tuple[str, int, int, list[int], float]:
    """One (method, K, seed) few-shot fit and its test accuracy; independent of the process it runs in."""
    name, k, seed, steps, negative_word = job
    model = _WORKER["model"]
    method = FineTuneGrounder(model) if name == "finetune" else CPTGrounder(model)
    options = {"steps": steps} if negative_word is None else {"steps": steps, "negative_word": negative_word}
    run = method.fit_few_shot(_WORKER["pool"], k, [seed], **options)[0]
    return name, k, seed, run.shot_ids, _accuracy(run.grounder, _WORKER["test"])


def _start_grid(model: TinyVL, jobs: list[tuple], plan: Plan, seed: int) -> tuple:
    """Start the few-shot jobs on one worker process per CPU core (up to 4); inline when there is one core.

    The jobs are independent and seeded, so results do not depend on how they are spread.
    """
    setup = ({k: v.detach().cpu() for k, v in model.state_dict().items()}, model.config.to_dict(),
             20_000 + seed, plan.pool, 10_000 + seed, plan.test)
    workers = min(len(jobs), os.cpu_count() or 1, 4)
    ordered = sorted(jobs, key=lambda j: -j[1])  # the biggest K first balances the workers
    if workers <= 1 or plan.test < 50:  # smoke runs: process start-up would cost more than the work
        return ("inline", setup, ordered)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_grid_worker_setup, initargs=setup)
    return ("pool", executor, [executor.submit(_grid_job, job) for job in ordered])


def _finish_grid(running: tuple) -> list[tuple[str, int, int, list[int], float]]:
    """Results of :func:`_start_grid`, sorted by (method, K, seed)."""
    kind, handle, work = running
    if kind == "inline":
        _grid_worker_setup(*handle)
        results = [_grid_job(job) for job in work]
    else:
        try:
            results = [future.result() for future in work]
        finally:
            handle.shutdown(cancel_futures=True)
    return sorted(results, key=lambda r: (r[0], r[1], r[2]))


def _plan_for(scale: Scale, seed: int) -> Plan:
    plan = PLANS[scale]
    config = plan.pretrain
    if seed != 0:
        config = PretrainConfig(**{**config.__dict__, "seed": seed})
    return Plan(config, plan.shots, plan.seeds, plan.few_shot_steps, plan.test, plan.gate, plan.pool, plan.lattice_levels)


@experiment("cpt", paper="CPT: Colorful Prompt Tuning for Pre-trained Vision-Language Models (arXiv 2021; AI Open 2024)", claims=CLAIMS)
def reproduce(scale: Scale, out: Path, seed: int = 0) -> Result:
    scale = Scale.parse(scale)
    started = time.perf_counter()
    if os.cpu_count() is not None and os.cpu_count() <= 2:
        torch.set_num_threads(1)  # spec 5.3: two threads on a contended 2-core CPU ran ~10x slower
    device = "cuda" if scale is Scale.FULL and torch.cuda.is_available() else "cpu"
    if scale is Scale.FULL and device == "cpu":
        raise BadConfigError("the full-scale CPT run pre-trains a 6-layer backbone for 60k steps; run it on a GPU")
    plan = _plan_for(scale, seed)
    pretrained = load_or_pretrain(plan.pretrain, device=device)
    return evaluate_backbone(pretrained.model, plan, scale, out, seed, pretrained.snapshots,
                             losses=pretrained.losses, from_cache=pretrained.from_cache, started=started)


def evaluate_backbone(
    model: TinyVL,
    plan: Plan,
    scale: Scale,
    out: Path,
    seed: int = 0,
    snapshots: dict[int, dict[str, torch.Tensor]] | None = None,
    *,
    losses: list[float] | None = None,
    from_cache: bool = False,
    started: float | None = None,
) -> Result:
    """Everything after pre-training: G0, colour search, zero-shot, the K-shot grid, snapshots, figures, claims."""
    started = time.perf_counter() if started is None else started
    snapshots = snapshots or {}
    metrics: dict[str, object] = {"pretrain_from_cache": from_cache, "pretrain_steps": plan.pretrain.steps,
                                  "pretrain_final_loss": float(np.mean(losses[-100:])) if losses else None}
    gate_items = grounding_items(plan.gate, 30_000 + seed, kind="gate")
    test = [_example(i) for i in grounding_items(plan.test, 10_000 + seed)]
    # E2's few-shot fits start first, in worker processes, while the zero-shot parts run here.
    jobs = [(name, k, s, plan.few_shot_steps, None) for k in plan.shots for name in ("cpt", "finetune") for s in range(plan.seeds)]
    # The remedy tried for "few-shot CPT above zero-shot": negatives labelled "gray" instead of "none".
    jobs += [("cpt_gray", plan.shots[0], s, plan.few_shot_steps, "gray") for s in range(plan.seeds)]
    grid_running = _start_grid(model, jobs, plan, seed)
    random_iou = random_accuracy(test)
    metrics["random_accuracy"] = random_iou
    metrics["random_one_over_n"] = float(np.mean([1 / len(e.proposals) for e in test]))

    # G0: the grounding gate.
    g0 = gate_accuracy(model, gate_items)
    metrics["g0_gate_accuracy"] = g0

    # E0: colour search over the RGB lattice (negative control: "pink", never seen in pre-training).
    words = [*PALETTE, "gray", "pink"]
    search = color_search(model, words, levels=plan.lattice_levels)
    metrics["color_search"] = {w: {"rgb": search.best_rgb[w], "probability": search.best_probability[w]} for w in words}
    ranking = [w for w, _, _ in search.ranking() if w in PALETTE]

    # E1: zero-shot CPT.
    zero = zero_shot(model, test)
    metrics["zero_shot_red_logprob"] = zero["logprob"]
    metrics["zero_shot_red_none_normalized"] = zero["none_normalized"]
    top_color = (ranking[0], search.best_rgb[ranking[0]])
    metrics["zero_shot_searched_color"] = {"color": top_color[0], "rgb": top_color[1],
                                           "accuracy": zero_shot(model, test, top_color)["logprob"]}
    multi = CPTGrounder(model, colors=[(w, search.best_rgb[w]) for w in ranking[:5]], mode="multi")
    metrics["zero_shot_multi_color"] = _accuracy(multi, test)
    tagged = CPTGrounder(model, colored_tags=True, fallback_colors=[(w, PALETTE_RGB[w]) for w in PALETTE])
    metrics["zero_shot_colored_tags"] = _accuracy(tagged, test)

    # E2: K-shot CPT vs fine-tuning on the same draws.
    grid: dict[str, dict[int, list[float]]] = {"cpt": {}, "finetune": {}, "cpt_gray": {}}
    draws: dict[int, list[list[int]]] = {}
    for name, k, _, shot_ids, score in _finish_grid(grid_running):
        grid[name].setdefault(k, []).append(score)
        if name == "cpt":
            draws.setdefault(k, []).append(shot_ids)
    metrics["few_shot_cpt_gray_negatives_k1"] = grid.pop("cpt_gray")[plan.shots[0]]
    metrics["few_shot"] = {n: {str(k): v for k, v in d.items()} for n, d in grid.items()}
    metrics["few_shot_draws"] = {str(k): v for k, v in draws.items()}

    # Grounding ability vs CPT gain over pre-training snapshots.
    curve = []
    for step, state in sorted(snapshots.items()):
        snapshot = TinyVL(model.config)
        snapshot.load_state_dict(state)
        snapshot.eval()
        curve.append((step, gate_accuracy(snapshot, gate_items), zero_shot(snapshot, test)["logprob"] - random_iou))
    curve.append((plan.pretrain.steps, g0, zero["logprob"] - random_iou))
    metrics["grounding_vs_gain"] = [{"step": s, "g0": g, "zero_shot_gain": d} for s, g, d in curve]

    mean = {n: {k: float(np.mean(v)) for k, v in d.items()} for n, d in grid.items()}
    std = {n: {k: float(np.std(v)) for k, v in d.items()} for n, d in grid.items()}
    core_shots = [k for k in plan.shots if k <= 16]
    gap_k1 = 100 * (mean["cpt"][plan.shots[0]] - mean["finetune"][plan.shots[0]])
    std_cpt = float(np.mean([std["cpt"][k] for k in core_shots]))
    std_ft = float(np.mean([std["finetune"][k] for k in core_shots]))
    std_ratio = std_cpt / std_ft if std_ft > 0 else float("nan")
    metrics.update({"few_shot_mean": mean, "few_shot_std": std, "k1_gap_points": gap_k1,
                    "std_mean_cpt": std_cpt, "std_mean_finetune": std_ft, "std_ratio": std_ratio})
    decisive = scale is not Scale.SMOKE
    gaps = {k: mean["cpt"][k] - mean["finetune"][k] for k in core_shots}
    gains = np.array([[g, d] for _, g, d in curve])
    correlation = float(np.corrcoef(gains.T)[0, 1]) if len(curve) > 2 and gains.std(axis=0).min() > 0 else float("nan")
    metrics["grounding_gain_correlation"] = correlation
    claims = [
        Claim.compare("g0_gate", CLAIMS[0], g0, ">=", 0.80, paper_value="prototype 0.83", applicable=decisive),
        Claim.compare("zero_shot_vs_random", CLAIMS[1], zero["logprob"] / random_iou, ">=", 1.4,
                      paper_value="26.9% zero-shot CPT-Blk on RefCOCO (R, unverified)", applicable=decisive),
        Claim.compare("k1_gap", CLAIMS[2], gap_k1, ">=", 8.0, paper_value=17.3, applicable=decisive),
        Claim.compare("std_ratio", CLAIMS[3], std_ratio, "<=", 0.6, paper_value=0.262, applicable=decisive),
        Claim.holds("cpt_beats_ft_every_k", CLAIMS[4], all(g > 0 for g in gaps.values()) if decisive else None,
                    measured=min(gaps.values()) * 100, threshold="min gap (points) > 0 at every K <= 16",
                    paper_value="holds for K = 1..16 (R)"),
        Claim.holds("ft_catches_up", "fine-tuning narrows the gap as K grows (soft)",
                    (gaps[core_shots[-1]] < gaps[core_shots[0]]) if decisive else None,
                    measured=100 * gaps[core_shots[-1]], threshold=f"gap at K={core_shots[-1]} < gap at K={core_shots[0]}",
                    paper_value="gap shrinks with K (R)", required=False),
        Claim.compare("few_shot_above_zero_shot", "1-shot CPT is above zero-shot CPT (soft; prototype did not show it)",
                      100 * (mean["cpt"][plan.shots[0]] - zero["logprob"]), ">", 0.0,
                      paper_value="34.1 vs 26.9 (R)", required=False, applicable=decisive),
        Claim.compare("searched_vs_negative_control", "the top searched colour is named far more surely than the "
                      "negative-control word 'pink' (soft)", search.best_probability[ranking[0]] - search.best_probability["pink"],
                      ">", 0.5, required=False, applicable=decisive),
        Claim.compare("grounding_vs_gain", "CPT's zero-shot gain grows with the backbone's grounding ability (soft)",
                      correlation, ">", 0.0, required=False, applicable=decisive),
    ]
    figures = _figures(out, plan, mean, std, zero, random_iou, curve, search, words, test)
    metrics["wall_seconds"] = time.perf_counter() - started
    notes = (
        f"TinyVL ({sum(p.numel() for p in model.parameters())} params) pre-trained {plan.pretrain.steps} MLM steps on "
        f"synthetic scenes{' (from cache)' if from_cache else ''}; test {plan.test} queries, "
        f"K in {plan.shots} x {plan.seeds} seeds, {plan.few_shot_steps} steps. Accuracy is IoU>0.5 against the "
        "object box; proposals are jittered by +-2 px, so 'random' is the IoU-based chance rate."
    )
    return Result(name="cpt", scale=scale, seed=seed, metrics=metrics, figures=figures, claims=claims, notes=notes)


def _figures(out, plan, mean, std, zero, random_iou, curve, search, words, test) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    figures = []
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    shots = list(plan.shots)
    for name, label, color in (("cpt", "CPT (MLM loss, no new params)", "tab:red"), ("finetune", "fine-tuned new head", "tab:blue")):
        axis.errorbar(shots, [100 * mean[name][k] for k in shots], yerr=[100 * std[name][k] for k in shots],
                      label=label, color=color, marker="o", capsize=3)
    axis.axhline(100 * zero["logprob"], color="tab:red", linestyle="--", label="zero-shot CPT")
    axis.axhline(100 * random_iou, color="gray", linestyle=":", label="random")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("shots K")
    axis.set_ylabel("accuracy@0.5 (%)")
    axis.set_title("Few-shot grounding: mean +- std over seeds")
    axis.legend(fontsize=8)
    figures.append(save_figure(figure, out, "accuracy_vs_shots.png"))

    figure, axes = plt.subplots(1, 4, figsize=(10, 3))
    for axis, example, choice in zip(axes, test[:4], zero["choices"][:4], strict=False):
        axis.imshow(example.image)
        x1, y1, x2, y2 = example.target_box
        axis.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor="lime", linewidth=2, linestyle="--"))
        c = example.proposals[choice]
        axis.add_patch(Rectangle((c[0] - 0.5, c[1] - 0.5), c[2] - c[0], c[3] - c[1], fill=False,
                                 edgecolor="red" if not hit(example, choice) else "blue", linewidth=1.5))
        axis.set_title(example.query, fontsize=7)
        axis.axis("off")
    figure.suptitle("zero-shot CPT choice (solid) vs ground truth (dashed green)", fontsize=9)
    figures.append(save_figure(figure, out, "example_scenes.png"))

    figure, axis = plt.subplots(figsize=(4.5, 3.5))
    axis.plot([g for _, g, _ in curve], [100 * d for _, _, d in curve], marker="o")
    for step, g, d in curve:
        axis.annotate(str(step), (g, 100 * d), fontsize=7)
    axis.set_xlabel("G0 grounding accuracy")
    axis.set_ylabel("zero-shot CPT - random (points)")
    axis.set_title("grounding ability vs CPT gain (pre-training steps)")
    figures.append(save_figure(figure, out, "grounding_vs_gain.png"))

    figure, axis = plt.subplots(figsize=(5.5, 3))
    probabilities = [search.best_probability[w] for w in words]
    axis.bar(words, probabilities, color=[np.asarray(search.best_rgb[w]) / 255 for w in words], edgecolor="black")
    axis.set_ylabel("P(word) at best RGB")
    axis.set_title("colour search: bar colour = best lattice RGB per word")
    figures.append(save_figure(figure, out, "color_search.png"))
    return figures
