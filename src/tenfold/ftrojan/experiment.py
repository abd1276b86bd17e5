"""FTrojan in miniature on PhotoPatch-10 (32x32 colour crops of bundled photos, a CIFAR-10 stand-in).

Runs (spec A5): clean and FTrojan (UV, magnitude 30, (15,15)+(31,31), rate 10%, target 0) models over
three seeds; a magnitude sweep and a 5% rate at the first seed; BadNets, Blended and SIG at the same
rate for the side-by-side table; every defence on the clean, FTrojan and baseline models.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from tenfold.core.errors import MissingDataError
from tenfold.core.experiment import Claim, Result, Scale, experiment
from tenfold.core.parallel import run_parallel, thread_count, worker_count
from tenfold.core.report import save_figure

CLAIMS = [
    "ASR >= 95% at poisoning rate 10%, magnitude 30, 10+ epochs",
    "BA(poisoned) >= BA(clean) - 2 points, mean of 3 seeds at equal epochs",
    "the trigger is invisible: PSNR >= 40 dB and SSIM >= 0.97",
    "magnitude-0 control stays at chance (ASR <= 15%)",
    "ASR increases monotonically with magnitude",
    "STRIP misses FTrojan: FAR >= 50% at FRR 5%",
    "Neural Cleanse misses FTrojan: anomaly index < 2",
    "Gaussian 5x5 blur lowers ASR (at a BA cost)",
]


@dataclass(frozen=True)
class Plan:
    """Sizes for one scale."""

    train_per_class: int
    test_per_class: int
    width: int
    epochs: int
    seeds: int
    magnitudes: tuple[float, ...]
    low_rate: float | None
    baselines: bool
    nc_steps: int
    strip_images: int
    strip_overlays: int


PLANS = {
    Scale.SMOKE: Plan(20, 10, 4, 1, 1, (0.0, 30.0), None, False, 3, 6, 4),
    # 300 crops/class x 10 epochs is the smallest size at which the width-16 model learned the trigger in
    # calibration (ASR 99.7%; 200 crops/class or width 8 stayed at 53-86%). Magnitude 4 and rate 5% run at full.
    Scale.SMALL: Plan(300, 100, 16, 10, 3, (0.0, 10.0, 30.0), None, True, 40, 100, 64),
    Scale.FULL: Plan(0, 0, 32, 50, 3, (0.0, 4.0, 8.0, 10.0, 20.0, 30.0, 50.0), 0.05, True, 300, 500, 64),
}
TARGET = 0
RATE = 0.1


def _load(plan: Plan, scale: Scale, seed: int):
    from tenfold.core import data

    if scale is Scale.FULL:
        folder = os.environ.get("TENFOLD_CIFAR10")
        if not folder:
            raise MissingDataError(
                "ftrojan at full scale trains on CIFAR-10: set TENFOLD_CIFAR10 to the extracted cifar-10-batches-py folder"
            )
        return data.read_cifar(folder)
    return data.photopatch10(plan.train_per_class, plan.test_per_class, seed=seed)


def _attack(kind: str, magnitude: float = 30.0):
    """A trigger by name (built inside worker processes, so only names cross process boundaries)."""
    from tenfold.ftrojan.baselines import BadNetsTrigger, BlendedTrigger, SIGTrigger
    from tenfold.ftrojan.trigger import FrequencyTrigger

    if kind == "none":
        return None
    if kind == "ftrojan":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # magnitude 0 warns "no trigger" on purpose
            return FrequencyTrigger(magnitude=magnitude)
    return {"badnets": BadNetsTrigger(3), "blended": BlendedTrigger(0.1), "sig": SIGTrigger(20, 6)}[kind]


@dataclass(frozen=True)
class Job:
    """One model to train and measure."""

    key: str
    kind: str
    magnitude: float = 30.0
    rate: float = RATE
    seed_offset: int = 0
    defences: bool = False


_WORKER_SPLIT: list = []  # the data split, set once per worker process


def _init_worker(split) -> None:
    _WORKER_SPLIT[:] = [split]


def _run_job(job: Job, scale: Scale, seed: int) -> tuple[str, dict]:
    """Train and measure one model (in this process or a worker that holds the split)."""
    from tenfold.ftrojan.harness import DefenceConfig, evaluate_attack
    from tenfold.ftrojan.training import TrainConfig

    plan = PLANS[scale]
    split = _WORKER_SPLIT[0]
    classes = int(max(split.y_train.max(), split.y_test.max())) + 1
    run_seed = seed + job.seed_offset
    defence = DefenceConfig(
        strip_images=plan.strip_images, strip_overlays=plan.strip_overlays, nc_steps=plan.nc_steps, nc_batch=16
    )
    row, _ = evaluate_attack(
        job.key, _attack(job.kind, job.magnitude), split.x_train, split.y_train, split.x_test, split.y_test,
        target=TARGET, rate=job.rate, train=TrainConfig(epochs=plan.epochs, width=plan.width, seed=run_seed),
        defence=defence if job.defences else None, num_classes=classes, seed=run_seed,
        probe=_attack("ftrojan") if job.kind == "none" else None,
    )
    return job.key, row.metrics


def _run_jobs(jobs: list[Job], split, scale: Scale, seed: int) -> dict[str, dict]:
    """Run jobs in single-threaded worker processes (``TENFOLD_WORKERS``, default one per core, at most
    2): intra-op threads oversubscribe a busy box (spec A5). Jobs with defences are longest: first."""
    workers = 1 if scale is Scale.SMOKE else worker_count()
    results = run_parallel(
        partial(_run_job, scale=scale, seed=seed), jobs, workers=workers,
        initializer=_init_worker, initargs=(split,), cost=lambda job: float(job.defences),
    )
    return dict(results)


@experiment(
    "ftrojan",
    paper="FTrojan: An Invisible Black-box Backdoor Attack through Frequency Domain (ECCV 2022)",
    claims=CLAIMS,
)
def reproduce(scale: Scale, out: Path, seed: int = 0) -> Result:
    import torch

    from tenfold.ftrojan.metrics import image_quality
    from tenfold.ftrojan.trigger import FrequencyTrigger, analytic_psnr

    scale = Scale.parse(scale)
    plan = PLANS[scale]
    torch.set_num_threads(thread_count())
    started = time.perf_counter()
    split = _load(plan, scale, seed)
    x_test, y_test = split.x_test, split.y_test
    trigger = FrequencyTrigger(magnitude=30.0)
    metrics: dict = {
        "data": "CIFAR-10" if scale is Scale.FULL else f"PhotoPatch-10 ({len(split.y_train)} train / {len(y_test)} test)",
        "trigger": trigger.config(),
        "target": TARGET,
        "rate": RATE,
        "epochs": plan.epochs,
        "width": plan.width,
        "analytic_psnr": analytic_psnr(trigger),
    }
    quality = image_quality(x_test, trigger(x_test))
    metrics.update({f"trigger_{k}": v for k, v in quality.items()})

    rows = ["no attack", "FTrojan"] + (["BadNets", "Blended", "SIG"] if plan.baselines else [])
    kinds = {"no attack": "none", "FTrojan": "ftrojan", "BadNets": "badnets", "Blended": "blended", "SIG": "sig"}
    jobs = [Job(name, kinds[name], defences=True) for name in rows]
    for offset in range(1, plan.seeds):
        jobs += [Job(f"clean s{offset}", "none", seed_offset=offset), Job(f"FTrojan s{offset}", "ftrojan", seed_offset=offset)]
    jobs += [Job(f"m{m:g}", "ftrojan", magnitude=m) for m in plan.magnitudes if m != 30.0]
    if plan.low_rate:
        jobs.append(Job("rate low", "ftrojan", rate=plan.low_rate))
    done = _run_jobs(jobs, split, scale, seed)

    table = {name: done[name] for name in rows}
    metrics["table"] = table
    clean_ba = [table["no attack"]["ba"]] + [done[f"clean s{o}"]["ba"] for o in range(1, plan.seeds)]
    poisoned_ba = [table["FTrojan"]["ba"]] + [done[f"FTrojan s{o}"]["ba"] for o in range(1, plan.seeds)]
    asr_seeds = [table["FTrojan"]["asr"]] + [done[f"FTrojan s{o}"]["asr"] for o in range(1, plan.seeds)]
    metrics.update(
        ba_clean_seeds=clean_ba, ba_poisoned_seeds=poisoned_ba, asr_seeds=asr_seeds,
        ba_clean_mean=float(np.mean(clean_ba)), ba_poisoned_mean=float(np.mean(poisoned_ba)),
    )
    sweep: dict[str, dict] = {}
    for magnitude in plan.magnitudes:
        row = table["FTrojan"] if magnitude == 30.0 else done[f"m{magnitude:g}"]
        sweep[f"{magnitude:g}"] = {"ba": row["ba"], "asr": row["asr"], "psnr": row["psnr"]}
    metrics["magnitude_sweep"] = sweep
    if plan.low_rate:
        row = done["rate low"]
        metrics["low_rate"] = {"rate": plan.low_rate, "ba": row["ba"], "asr": row["asr"]}
    metrics["wall_time_s"] = time.perf_counter() - started

    figures = [_figure_images(out, x_test, y_test, trigger), _figure_sweep(out, sweep), _figure_table(out, table)]
    decide = scale is not Scale.SMOKE
    ft = table["FTrojan"]
    asrs = [sweep[k]["asr"] for k in sorted(sweep, key=float)]
    claims = [
        Claim.compare("asr_rate10", CLAIMS[0], ft["asr"], ">=", 0.95, paper_value="~1.00 (CIFAR10, poster)", applicable=decide),
        Claim.compare(
            "ba_cost", CLAIMS[1], metrics["ba_poisoned_mean"] - metrics["ba_clean_mean"], ">=", -0.02,
            paper_value="BA flat vs rate (poster)", applicable=decide,
        ),
        Claim.compare("psnr", CLAIMS[2] + " (PSNR part)", quality["psnr"], ">=", 40.0, paper_value=round(float(metrics["analytic_psnr"]), 2)),
        Claim.compare("ssim", CLAIMS[2] + " (SSIM part)", quality["ssim"], ">=", 0.97, paper_value=None),
        Claim.compare("magnitude0_chance", CLAIMS[3], sweep["0"]["asr"], "<=", 0.15, paper_value="~0.10", applicable=decide),
        Claim.holds(
            "asr_monotone", CLAIMS[4], (all(b >= a for a, b in zip(asrs, asrs[1:], strict=False)) if decide else None),
            measured=", ".join(f"m{k}: {sweep[k]['asr']:.3f}" for k in sorted(sweep, key=float)),
            threshold="non-decreasing", paper_value="10% at m<=4, 95% at 8, ~100% from 10 (CIFAR10)",
        ),
        Claim.compare("strip_far", CLAIMS[5], ft.get("strip_far"), ">=", 0.5, paper_value="0.78 (CIFAR10)", applicable=decide),
        Claim.compare("nc_index", CLAIMS[6], ft.get("nc_anomaly_index"), "<", 2.0, paper_value="~1.8 (CIFAR10)", applicable=decide),
        Claim.compare(
            "gaussian_lowers_asr", CLAIMS[7], ft.get("gaussian_asr", float("nan")) - ft["asr"], "<", 0.0,
            paper_value="significantly degenerates", applicable=decide,
        ),
    ]
    if plan.baselines:
        bad = table["BadNets"]
        claims.append(
            Claim.compare(
                "nc_flags_badnets", "sanity: Neural Cleanse does flag the visible BadNets patch (index > 2)",
                bad.get("nc_anomaly_index"), ">", 2.0, paper_value="detected (NC paper)", required=False, applicable=decide,
            )
        )
        claims.append(
            Claim.holds(
                "ftrojan_most_invisible", "soft: FTrojan has the highest PSNR among the attacks",
                (ft["psnr"] >= max(table[n]["psnr"] for n in ("BadNets", "Blended", "SIG"))) if decide else None,
                measured=", ".join(f"{n}: {table[n]['psnr']:.1f}" for n in ("FTrojan", "BadNets", "Blended", "SIG")),
                threshold="FTrojan PSNR is the maximum", required=False,
            )
        )
    if plan.low_rate:
        claims.append(
            Claim.compare(
                "asr_rate5", "soft: ASR at rate 5% (needs more data or epochs at this scale; reported)",
                metrics["low_rate"]["asr"], ">=", 0.95, paper_value="~1.00 (CIFAR10)", required=False, applicable=decide,
            )
        )
    notes = (
        f"{metrics['data']}, width-{plan.width} official CNN, Adam 1e-3, batch 64, {plan.epochs} epochs, target {TARGET}. "
        "ASR excludes target-class test images (asr_incl_target includes them, as the official code). "
        "Neural Cleanse uses a fixed L1 cost and a short optimisation; pruning is fine-pruning's first stage. "
        "The analytic PSNR counts the correlated Cr/Cb change in G (the spec's 42.85 dB assumes them independent)."
    )
    return Result(name="ftrojan", scale=scale, seed=seed, metrics=metrics, figures=figures, claims=claims, notes=notes)


def _figure_images(out: Path, x: np.ndarray, y: np.ndarray, trigger) -> str:
    import matplotlib.pyplot as plt

    picks = [int(np.flatnonzero(y == label)[0]) for label in np.unique(y)[:6]]
    clean = x[picks]
    poisoned = trigger(clean)
    figure, axes = plt.subplots(3, len(picks), figsize=(1.6 * len(picks), 5.2))
    axes = np.asarray(axes).reshape(3, -1)
    for column in range(len(picks)):
        difference = np.clip(0.5 + 10.0 * (poisoned[column] - clean[column]), 0, 1)
        for row, (image, title) in enumerate(((clean[column], "clean"), (poisoned[column], "FTrojan"), (difference, "diff x10"))):
            axes[row, column].imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=1)
            axes[row, column].set_axis_off()
            if column == 0:
                axes[row, column].set_title(title, fontsize=8, loc="left")
    figure.suptitle("FTrojan trigger (UV, magnitude 30, (15,15)+(31,31))", fontsize=9)
    return save_figure(figure, out, "ftrojan_images.png")


def _figure_sweep(out: Path, sweep: dict) -> str:
    import matplotlib.pyplot as plt

    keys = sorted(sweep, key=float)
    figure, axis = plt.subplots(figsize=(4.2, 3))
    axis.plot([float(k) for k in keys], [sweep[k]["asr"] for k in keys], "o-", label="ASR")
    axis.plot([float(k) for k in keys], [sweep[k]["ba"] for k in keys], "s--", label="BA")
    axis.set_xlabel("trigger magnitude (0..255 scale)")
    axis.set_ylim(0, 1.02)
    axis.legend()
    axis.set_title("ASR and BA vs magnitude (rate 10%)", fontsize=9)
    return save_figure(figure, out, "ftrojan_magnitude.png")


def _figure_table(out: Path, table: dict) -> str:
    import matplotlib.pyplot as plt

    columns = ["ba", "asr", "strip_far", "gaussian_asr", "prune_asr", "ac_f1", "ss_f1"]
    names = list(table)
    figure, axis = plt.subplots(figsize=(7.5, 3))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [table[name].get(c, np.nan) for c in columns]
        axis.bar(np.arange(len(columns)) + i * width, np.nan_to_num(values), width, label=name)
    axis.set_xticks(np.arange(len(columns)) + 0.4 - width / 2, columns, fontsize=8)
    axis.set_ylim(0, 1.05)
    axis.legend(fontsize=7, ncol=len(names))
    axis.set_title("attacks x defences (same split, seed, model)", fontsize=9)
    return save_figure(figure, out, "ftrojan_attacks_defences.png")
