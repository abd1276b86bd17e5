"""Reproduce FBBR's claims in miniature on seeded synthetic pairs with an exact ground-truth flow (spec 5).

Per seed, three variants of the same flow generator (full, w/o structure affinity, w/o structure
priors) are trained on that seed's pairs. All are scored on one shared test split against the
synthetic retoucher's flow, which is a function of the visible silhouette and of the visible body
width (``retoucher.py``), a family none of the baselines belongs to. The keypoint baselines
(capsule field, MLS) get their strength and width scale tuned on a validation split. Every ratio is
computed per seed and decided on its interval over seeds; the degree µ and the full-resolution warp
are checked on the same models, and the bundled portraits are reshaped by every method.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tenfold.core.experiment import ClaimSpec, Measurements, Scale, Settings, Unmeasured, experiment
from tenfold.core.intervals import Samples
from tenfold.core.report import save_figure

PAPER = "Structure-Aware Flow Generation for Human Body Reshaping (CVPR 2022)"
VARIANTS = ("full", "no_aff", "no_sp")


@dataclass(frozen=True, kw_only=True)
class BodyReshapeSettings(Settings):
    # side in pixels of the rendered test pairs, where the full-resolution warp is scored
    size: int = 256
    # network input side; flows are predicted and scored (EPE) at this resolution
    net_size: int = 64
    # generator width multiplier (channels w, 2w, 4w, 8w, 16w; 64 is the paper's net)
    width: int = 8
    # training pairs per seed (each seed renders its own figures)
    train_pairs: int = 400
    # validation pairs, shared by all seeds, on which the keypoint baselines are tuned
    validation_pairs: int = 40
    # test pairs, shared by all seeds
    test_pairs: int = 100
    # optimiser steps per training (rounded up to whole epochs); in probes 400 reached 0.60 x the zero flow's
    # EPE, 700 0.53, 1000 0.48; 700 keeps the run near 10 minutes on 2 quiet cores
    steps: int = 700
    # batch size of every training
    batch_size: int = 8
    # Adam learning rate (the paper's 2e-5 is for 67 M parameters and batch 32)
    lr: float = 1e-3
    # seeds of the full and w/o SP variants (replicates of every claim)
    seeds: int = 3
    # seeds of the w/o AFF variant (the spec's soft claim asks for a mean over at least 2)
    affinity_seeds: int = 2
    # test pairs on which the degree µ is checked
    degree_pairs: int = 20
    # the w/o SP model must move the body by at least this share of the truth, else its leak means nothing
    min_learned_share: float = 0.25
    # worker processes for the trainings (None: core.parallel's default, one per core up to 2)
    workers: int | None = None


SETTINGS = {
    Scale.SMOKE: BodyReshapeSettings(size=64, net_size=32, width=2, train_pairs=8, validation_pairs=4, test_pairs=4,
                                     steps=2, batch_size=4, seeds=1, affinity_seeds=1, degree_pairs=2, workers=1),
    Scale.SMALL: BodyReshapeSettings(),
    # The paper's network (w=64, 256² input, batch 32, lr 2e-5); meant for a GPU.
    Scale.FULL: BodyReshapeSettings(size=1024, net_size=256, width=64, train_pairs=4000, validation_pairs=200,
                                    test_pairs=200, steps=20000, batch_size=32, lr=2e-5, threads=None, workers=1),
}

CLAIMS = [
    ClaimSpec("structure_priors_epe", "Structure priors lower the flow EPE (ratio full / w/o SP)",
              "<=", 0.85, paper_value=round(4.1 / 5.0, 3), over="seeds", log_ratio=True),
    ClaimSpec("structure_priors_leak", "Structure priors stop flow leaking onto body-like background "
              "(mean |F| on distractors, ratio full / w/o SP)", "<=", 0.5, paper_value="qualitative (Fig. 1)",
              over="seeds", log_ratio=True),
    ClaimSpec("affinity_epe", "The structure-affinity branch lowers the EPE (ratio full / w/o AFF)",
              "<=", 0.97, paper_value=round(4.1 / 4.6, 3), required=False, over="seeds", min_samples=2,
              log_ratio=True),
    ClaimSpec("learned_vs_zero", "The flow is learned (EPE ratio full / zero flow)", "<=", 0.6,
              over="seeds", log_ratio=True),
    ClaimSpec("beats_mls", "The learned flow beats the keypoint MLS warp tuned on validation (EPE ratio)",
              "<", 1.0, paper_value="rule-based warps lose (user study 70.4 %)", over="seeds", log_ratio=True),
    ClaimSpec("beats_capsule", "The learned flow beats the keypoint capsule field tuned on validation (EPE ratio)",
              "<", 1.0, paper_value="rule-based warps lose (user study 70.4 %)", over="seeds", log_ratio=True),
    ClaimSpec("hires_warp_gain_db", "Low-res flow + full-res warp beats upsampling a low-res result (PSNR gain, dB)",
              ">=", 3.0, over="seeds"),
    ClaimSpec("degree_control", "Degree 0 returns the input bit for bit; EPE against µ·F_gt grows with µ; "
              "no folds for |µ| <= 1", "holds"),
]


def _train_job(job: tuple[int, str, dict[str, Any]]) -> dict[str, Any]:
    """One training in a worker: render the seed's pairs, train the variant, return its weights."""
    from tenfold.bodyreshape.synthetic import make_set
    from tenfold.bodyreshape.training import TrainConfig, train_generator

    seed, variant, preset = job
    started = time.process_time()
    data = make_set(preset["train_pairs"], seed, size=2 * preset["net_size"], net_size=preset["net_size"])
    config = TrainConfig(variant=variant, width=preset["width"], steps=preset["steps"],
                         batch_size=preset["batch_size"], lr=preset["lr"], seed=seed)
    model, losses = train_generator(data, config)
    return {"seed": seed, "variant": variant, "state": model.state_dict(), "config": model.config,
            "losses": losses, "cpu_s": time.process_time() - started}


@experiment("bodyreshape", paper=PAPER, settings=SETTINGS, claims=CLAIMS)
def reproduce(scale: Scale, settings: BodyReshapeSettings, out: Path, seed: int) -> Measurements:
    """Train full / w/o AFF / w/o SP per seed, score flows and warps, check µ, draw the figures."""
    from tenfold.bodyreshape.evaluation import (
        BASELINES,
        TEST_SEED_OFFSET,
        VALIDATION_SEED_OFFSET,
        baseline_flows,
        flow_scores,
        tune_baseline,
    )
    from tenfold.bodyreshape.flow_generator import FlowGenerator
    from tenfold.bodyreshape.synthetic import make_set
    from tenfold.bodyreshape.training import predict_flows
    from tenfold.core.parallel import run_parallel

    started = time.perf_counter()
    s = settings.net_size
    seeds = [seed + i for i in range(settings.seeds)]
    preset = {k: getattr(settings, k) for k in ("train_pairs", "net_size", "width", "steps", "batch_size", "lr")}
    jobs = [(run_seed, variant, preset) for run_seed in seeds for variant in ("full", "no_sp")]
    jobs += [(run_seed, "no_aff", preset) for run_seed in seeds[: settings.affinity_seeds]]
    trained = run_parallel(_train_job, jobs, workers=settings.workers)
    train_s = time.perf_counter() - started

    test = make_set(settings.test_pairs, seed + TEST_SEED_OFFSET, size=settings.size, net_size=s, keep_full=True)
    validation = make_set(settings.validation_pairs, seed + VALIDATION_SEED_OFFSET, size=2 * s, net_size=s)
    choices = {name: tune_baseline(name, validation) for name in BASELINES}
    flows: dict[str, np.ndarray] = {"zero": np.zeros_like(test.flows)}
    for name, choice in choices.items():
        flows[name] = baseline_flows(name, test.keypoints, s, choice.strength, choice.width_scale)
    scores = {name: flow_scores(flow, test) for name, flow in flows.items()}
    models: dict[tuple[int, str], Any] = {}
    per_seed: dict[str, dict[str, dict[str, float]]] = {}
    for job in trained:
        model = FlowGenerator(job["config"])
        model.load_state_dict(job["state"])
        model.eval()
        models[(job["seed"], job["variant"])] = model
        predicted = predict_flows(model, test.images, test.skeletons)
        flows[f"{job['variant']}@{job['seed']}"] = predicted
        per_seed.setdefault(job["variant"], {})[str(job["seed"])] = flow_scores(predicted, test)
    truth = flow_scores(test.flows, test)

    def values(variant: str, key: str, among: list[int] | None = None) -> list[float]:
        return [per_seed[variant][str(k)][key] for k in (among or seeds)]

    labels = [f"seed {k}" for k in seeds]
    full_epe = values("full", "epe")
    claims: dict[str, Any] = {
        "structure_priors_epe": Samples.log_ratios(full_epe, values("no_sp", "epe"), labels),
        "learned_vs_zero": Samples.log_ratios(full_epe, [scores["zero"]["epe"]] * len(seeds), labels),
        "beats_mls": Samples.log_ratios(full_epe, [scores["mls"]["epe"]] * len(seeds), labels),
        "beats_capsule": Samples.log_ratios(full_epe, [scores["capsule"]["epe"]] * len(seeds), labels),
    }
    affinity_seeds = seeds[: settings.affinity_seeds]
    claims["affinity_epe"] = Samples.log_ratios(values("full", "epe", affinity_seeds),
                                                values("no_aff", "epe", affinity_seeds),
                                                [f"seed {k}" for k in affinity_seeds])
    learned_share = [m / truth["body_magnitude"] for m in values("no_sp", "body_magnitude")]
    no_sp_leak = values("no_sp", "leak_distractors")
    if min(learned_share) < settings.min_learned_share:
        claims["structure_priors_leak"] = Unmeasured(
            f"w/o SP moved the body by only {min(learned_share):.0%} of the truth on some seed (< "
            f"{settings.min_learned_share:.0%}): with a model that learned no flow the leak ratio means nothing")
    elif not (np.isfinite(no_sp_leak).all() and min(no_sp_leak) > 0):
        claims["structure_priors_leak"] = Unmeasured("no distractor pixels in the test split, or w/o SP left them still")
    else:
        claims["structure_priors_leak"] = Samples.log_ratios(values("full", "leak_distractors"), no_sp_leak, labels)

    hires = _hires_study(test, flows, seeds, settings)
    claims["hires_warp_gain_db"] = Samples(
        (hires[f"full@{k}"]["psnr"] - hires[f"lowres_upsampled@{k}"]["psnr"] for k in seeds), labels)
    degree = _degree_study(test, flows, models, seeds, settings)
    claims["degree_control"] = degree["holds"]

    figures = [_grid_figure(out, test, flows, seeds[0], settings)]
    portraits = _portraits_study(out, models[(seeds[0], "full")])
    figures.append(portraits.pop("figure"))

    mean = {variant: {key: float(np.mean([row[key] for row in rows.values()])) for key in truth}
            for variant, rows in per_seed.items()}
    metrics: dict[str, Any] = {
        "seeds": seeds,
        "flows_mean_over_seeds": {**scores, **mean, "truth": truth},
        "flows_per_seed": per_seed,
        "baselines_tuned_on_validation": {name: asdict(choice) for name, choice in choices.items()},
        "no_sp_learned_share_of_body_flow": learned_share,
        "full_res": hires,
        "degree": degree,
        "portraits": portraits,
        "epoch_losses": {f"{job['variant']}@{job['seed']}": job["losses"] for job in trained},
        "train_cpu_s": {f"{job['variant']}@{job['seed']}": round(job["cpu_s"], 1) for job in trained},
        "train_wall_s": round(train_s, 1),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    zero = scores["zero"]["epe"]
    details = {
        "structure_priors_epe": f"EPE full {np.mean(full_epe):.4f} vs w/o SP {np.mean(values('no_sp', 'epe')):.4f} px",
        "structure_priors_leak": f"leak full {np.mean(values('full', 'leak_distractors')):.4f} vs w/o SP "
                                 f"{np.mean(no_sp_leak):.4f} px; w/o SP moves the body "
                                 f"{min(learned_share):.0%}-{max(learned_share):.0%} of the truth",
        "affinity_epe": f"EPE full {np.mean(values('full', 'epe', affinity_seeds)):.4f} vs w/o AFF "
                        f"{np.mean(values('no_aff', 'epe', affinity_seeds)):.4f} px",
        "learned_vs_zero": f"EPE full {np.mean(full_epe):.4f} vs zero flow {zero:.4f} px",
        "beats_mls": f"EPE full {np.mean(full_epe):.4f} vs MLS {scores['mls']['epe']:.4f} px "
                     f"(strength {choices['mls'].strength:g}, width x{choices['mls'].width_scale:g})",
        "beats_capsule": f"EPE full {np.mean(full_epe):.4f} vs capsule {scores['capsule']['epe']:.4f} px "
                         f"(k {choices['capsule'].strength:g}, width x{choices['capsule'].width_scale:g})",
        "hires_warp_gain_db": f"PSNR {np.mean([hires[f'full@{k}']['psnr'] for k in seeds]):.2f} vs "
                              f"{np.mean([hires[f'lowres_upsampled@{k}']['psnr'] for k in seeds]):.2f} dB "
                              f"(identity {hires['identity']['psnr']:.2f} dB)",
        "degree_control": degree["reading"],
    }
    notes = (
        f"Synthetic pairs stand in for the gated BR-5K: per seed {settings.train_pairs} training pairs, shared "
        f"{settings.validation_pairs} validation and {settings.test_pairs} test pairs; flows and EPE at {s} px, "
        f"full-resolution warps at {settings.size} px. Ground truth: the silhouette retoucher (Gaussian-derivative "
        "profile on the true contour, projected across the bones; strength grows with the visible torso width, "
        "plus 6 % noise), not a baseline's family; 1-3 distractor capsules per pair, half of them in the figure's "
        "own fabric, where the true flow is zero. Generator width "
        f"{settings.width} (64 = paper), {settings.steps} steps of batch {settings.batch_size}, Adam lr "
        f"{settings.lr:g} (paper 2e-5 at 67 M parameters); seeds {seeds} (each renders its own training pairs and "
        "initialises its own nets). Baselines tuned on the validation split by EPE over a grid of strength x width "
        "scale. Attention energies are centred per sample (official: per batch)."
    )
    return Measurements(claims=claims, metrics=metrics, figures=figures, notes=notes, details=details)


def _upsample_image(image: np.ndarray, size: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    return F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()


def _hires_study(test, flows: dict[str, np.ndarray], seeds: list[int], settings: BodyReshapeSettings) -> dict:
    """PSNR/SSIM at full resolution: the method's path (upsample F, warp the full image) against warping the
    network-size image and upsampling the result; the identity row is the untouched source."""
    from tenfold.bodyreshape.flow_field import resize_flow
    from tenfold.bodyreshape.metrics import ssim
    from tenfold.bodyreshape.warp import remap
    from tenfold.core.image_quality import psnr

    rows: dict[str, list[tuple[float, float]]] = {}

    def add(name: str, image: np.ndarray, target: np.ndarray) -> None:
        rows.setdefault(name, []).append((psnr(target, image, max_db=100.0), ssim(image, target)))

    for index in range(len(test)):
        image = test.full_images[index].astype(np.float32)
        target = test.full_targets[index].astype(np.float32)
        add("identity", image, target)
        for name in ("capsule", "mls", *(f"full@{k}" for k in seeds)):
            add(name, remap(image, resize_flow(flows[name][index], settings.size, settings.size)), target)
        for k in seeds:
            low = remap(test.images[index], flows[f"full@{k}"][index])
            add(f"lowres_upsampled@{k}", np.clip(_upsample_image(low, settings.size), 0, 1), target)
    return {name: {"psnr": float(np.mean([v[0] for v in values])), "ssim": float(np.mean([v[1] for v in values]))}
            for name, values in rows.items()}


def _degree_study(test, flows: dict[str, np.ndarray], models: dict, seeds: list[int],
                  settings: BodyReshapeSettings) -> dict[str, Any]:
    """µ = 0 is bit-exact through the learned pipeline; EPE against µ·F_gt (after the fold guard) grows
    with µ; µ·F never folds for µ in [-1, 1]. Checked on every seed's full model."""
    from tenfold.bodyreshape.flow_field import end_point_error, guard_folds, min_determinant
    from tenfold.bodyreshape.pipeline import BodyReshaper

    subset = list(range(min(len(test), settings.degree_pairs)))
    steps = np.linspace(-1, 1, 9)
    report: dict[str, Any] = {"epe_vs_scaled_truth": {}, "min_det_over_degrees": {}, "degree0_bit_exact": {}}
    holds = True
    for k in seeds:
        flow = flows[f"full@{k}"]
        epe = []
        for degree in (0.25, 0.5, 1.0):
            guarded = np.stack([guard_folds(degree * flow[i])[0] for i in subset])
            epe.append(end_point_error(guarded, degree * test.flows[subset]))
        worst = float(min(min_determinant(d * flow[i]) for d in steps for i in subset))
        keypoints = test.keypoints[0].copy()
        keypoints[:, :2] *= settings.size / settings.net_size
        image = test.full_images[0].astype(np.float32)
        exact = bool(np.array_equal(
            BodyReshaper(method="learned", model=models[(k, "full")], degree=0.0).reshape(image, keypoints).image,
            image))
        report["epe_vs_scaled_truth"][str(k)] = epe
        report["min_det_over_degrees"][str(k)] = worst
        report["degree0_bit_exact"][str(k)] = exact
        holds = holds and exact and epe[0] < epe[1] < epe[2] and worst > 0
    first = seeds[0]
    report["holds"] = bool(holds)
    report["reading"] = (f"bit-exact on all seeds: {all(report['degree0_bit_exact'].values())}; seed {first}: "
                         f"EPE(µ=.25,.5,1) = {[round(v, 4) for v in report['epe_vs_scaled_truth'][str(first)]]}; "
                         f"min det over µ in [-1,1], all seeds = {min(report['min_det_over_degrees'].values()):.3f}")
    return report


SUIT_MASKS = {
    # the astronaut's orange suit below the collar; the cameraman's dark coat left of the tripod
    "astronaut": lambda image, rows, cols: (image[..., 0] > 0.5) & (image[..., 0] - image[..., 2] > 0.3)
    & (image[..., 1] < 0.65) & (rows > 200),
    "camera": lambda image, rows, cols: (image[..., 0] < 0.12) & (rows > 150) & (cols < 330),
}


def _portraits_study(out: Path, model) -> dict[str, Any]:
    """Every method at degrees 1 and 2 on the bundled portraits: the before/after picture, the change in
    suit area (a colour mask warped by the flow), and what the fold guard did."""
    import matplotlib.pyplot as plt

    from tenfold.bodyreshape.keypoints import fixture_image, fixture_keypoints
    from tenfold.bodyreshape.pipeline import BodyReshaper
    from tenfold.bodyreshape.training import load_checkpoint, shipped_checkpoint
    from tenfold.bodyreshape.warp import remap
    from tenfold.core.errors import MissingDataError

    models = {"learned": model}
    settings = [("capsule", 1.0), ("capsule", 2.0), ("mls", 1.0), ("liquify", 1.0), ("liquify", 2.0),
                ("learned", 1.0)]
    try:
        models["shipped"] = load_checkpoint(shipped_checkpoint())
        settings.append(("shipped", 1.0))
    except MissingDataError:
        pass
    study: dict[str, Any] = {}
    figure, axes = plt.subplots(2, 1 + len(settings), figsize=(3.0 * (1 + len(settings)), 6.4), squeeze=False)
    for row, name in enumerate(("astronaut", "camera")):
        image, keypoints = fixture_image(name), fixture_keypoints(name)
        rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
        suit = SUIT_MASKS[name](image, rows, cols).astype(np.float32)
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(f"{name} (before)", fontsize=9)
        for column, (method, degree) in enumerate(settings, start=1):
            result = BodyReshaper(method="learned" if method in models else method, model=models.get(method),
                                  degree=degree).reshape(image, keypoints)
            change = float((remap(suit, result.flow) > 0.5).sum() / max((suit > 0.5).sum(), 1) - 1)
            study[f"{name} {method} µ={degree:g}"] = {
                "suit_area_change": round(change, 4), "guard_factor": round(result.shrink, 4),
                "min_det": round(result.min_det, 3), "max_flow_px": round(float(np.linalg.norm(result.flow, axis=-1).max()), 2)}
            axes[row, column].imshow(np.clip(result.image, 0, 1))
            guard = "" if result.shrink >= 1 else f", guard x{result.shrink:.2f}"
            axes[row, column].set_title(f"{method} µ={degree:g}: suit {change:+.1%}{guard}", fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Bundled portraits before/after at the default strengths ('learned': this run's first full "
                    "model; 'shipped': the checkpoint `reshape --method learned` loads)")
    study["figure"] = save_figure(figure, out, "bodyreshape_portraits.png")
    return study


def _grid_figure(out: Path, test, flows: dict[str, np.ndarray], first: int, settings: BodyReshapeSettings) -> str:
    import matplotlib.pyplot as plt

    from tenfold.bodyreshape.flow_field import resize_flow
    from tenfold.bodyreshape.warp import remap

    rows = min(4, len(test))
    columns = ("input", "target", "ours (full)", "w/o SP", "MLS (tuned)", "flow: ours (red) / truth (green)")
    figure, axes = plt.subplots(rows, len(columns), figsize=(3 * len(columns), 3 * rows), squeeze=False)
    for row in range(rows):
        image = test.full_images[row].astype(np.float32)
        panels = [image, test.full_targets[row].astype(np.float32)]
        for key in (f"full@{first}", f"no_sp@{first}", "mls"):
            panels.append(remap(image, resize_flow(flows[key][row], settings.size, settings.size)))
        for column, panel in enumerate(panels):
            axes[row, column].imshow(np.clip(panel, 0, 1))
        axis = axes[row, -1]
        axis.imshow(test.images[row])
        step = max(1, settings.net_size // 16)
        ys, xs = np.mgrid[0 : settings.net_size : step, 0 : settings.net_size : step]
        for flow, colour in ((test.flows[row], "lime"), (flows[f"full@{first}"][row], "red")):  # ours on top
            axis.quiver(xs, ys, flow[ys, xs, 0], flow[ys, xs, 1], color=colour, angles="xy", scale_units="xy",
                        scale=0.25, width=0.006)
        for column, title in enumerate(columns):
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
            if row == 0:
                axes[row, column].set_title(title, fontsize=9)
    figure.suptitle(f"Synthetic test pairs (seed {first}): flows drawn x4; distractors must not move")
    return save_figure(figure, out, "bodyreshape_synthetic_grid.png")
