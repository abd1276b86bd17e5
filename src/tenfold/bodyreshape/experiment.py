"""Reproduce FBBR's claims in miniature on seeded synthetic pairs with an exact ground-truth flow (spec 5).

Three variants of the same flow generator (full, w/o structure affinity, w/o structure priors) are
trained on the same pairs, then compared by end-point error at the network resolution, by flow
leaking onto body-like distractors, against the keypoint MLS and capsule baselines, by the
full-resolution warp's PSNR, and by how the degree µ behaves.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tenfold.core.experiment import Claim, Result, Scale, experiment
from tenfold.core.report import save_figure

PAPER = "Structure-Aware Flow Generation for Human Body Reshaping (CVPR 2022)"
CLAIMS = [
    "Structure priors lower the flow EPE (full <= 0.85 x w/o SP; paper 4.1 vs 5.0)",
    "Structure priors stop flow leaking onto body-like background (leak full <= 0.5 x w/o SP)",
    "The structure-affinity branch helps (EPE full <= 0.97 x w/o AFF; paper 4.1 vs 4.6; soft)",
    "The flow is learned (EPE <= 0.6 x the zero flow)",
    "The learned flow beats the rule-based keypoint MLS warp (EPE)",
    "Low-res flow + full-res warp beats upsampling a low-res result (>= +3 dB PSNR)",
    "Degree 0 returns the input bit for bit; EPE grows with degree; no folds for |degree| <= 1",
]


@dataclass(frozen=True)
class Preset:
    """Sizes of one run: full-res side, network side, width multiplier, pairs, steps."""

    size: int
    net_size: int
    width: int
    train_pairs: int
    test_pairs: int
    steps: int
    batch_size: int
    lr: float


PRESETS = {
    Scale.SMOKE: Preset(size=128, net_size=32, width=4, train_pairs=16, test_pairs=6, steps=4, batch_size=4, lr=1e-3),
    # lr 1e-3 instead of the paper's 2e-5: 1 M parameters and ~2k image-steps instead of 67 M and epochs.
    # EPE plateaued by ~150 steps in probes (lr 3e-4 / 1e-3, width 8 / 16, λ_orth 0 / 2 all ≈ 0.073 px).
    Scale.SMALL: Preset(size=256, net_size=64, width=8, train_pairs=400, test_pairs=100, steps=200, batch_size=8,
                        lr=1e-3),
    # The paper's network (w=64, 256² input, batch 32, lr 2e-5); meant for a GPU via accelerate.
    Scale.FULL: Preset(size=1024, net_size=256, width=64, train_pairs=4000, test_pairs=200, steps=20000,
                       batch_size=32, lr=2e-5),
}
TEST_SEED_OFFSET = 1_000_003
BASELINE_STRENGTH = 0.2  # capsule k and 2 × MLS slimming: the middle of the generator's retoucher range


def _upsample_image(image: np.ndarray, size: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    return F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()


@experiment("bodyreshape", paper=PAPER, claims=CLAIMS)
def reproduce(scale: Scale, out: Path, seed: int = 0) -> Result:
    """Train full / w/o AFF / w/o SP on synthetic pairs, evaluate flows and warps, draw the figures."""
    import torch

    # One intra-op thread: deterministic, and on a shared 2-core machine two threads per process
    # oversubscribe the cores (a train step measured 0.65 s with 1 thread, 5.7 s with 2 under load).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _reproduce(Scale.parse(scale), Path(out), seed)
    finally:
        torch.set_num_threads(threads)


def _reproduce(scale: Scale, out: Path, seed: int) -> Result:
    from tenfold.bodyreshape.capsule import slimming_flow
    from tenfold.bodyreshape.flow_field import end_point_error, guard_folds, min_determinant, resize_flow
    from tenfold.bodyreshape.metrics import leakage, psnr, ssim
    from tenfold.bodyreshape.mls import mls_flow
    from tenfold.bodyreshape.synthetic import make_set
    from tenfold.bodyreshape.training import TrainConfig, predict_flows, train_generator
    from tenfold.bodyreshape.warp import remap

    preset = PRESETS[scale]
    started = time.perf_counter()
    timings: dict[str, float] = {}
    # Training only needs network-size arrays: render its pairs at 2× (anti-aliased) instead of full size.
    train = make_set(preset.train_pairs, seed, size=2 * preset.net_size, net_size=preset.net_size)
    test = make_set(preset.test_pairs, seed + TEST_SEED_OFFSET, size=preset.size, net_size=preset.net_size,
                    keep_full=True)
    timings["data_s"] = time.perf_counter() - started
    s = preset.net_size

    flows: dict[str, np.ndarray] = {"zero": np.zeros_like(test.flows)}
    flows["capsule"] = np.stack([slimming_flow(k, s, s, strength=BASELINE_STRENGTH) for k in test.keypoints])
    flows["mls"] = np.stack([mls_flow(k, s, s, slim=BASELINE_STRENGTH / 2, step=2) for k in test.keypoints])
    models, losses = {}, {}
    for variant in ("full", "no_aff", "no_sp"):
        tick = time.perf_counter()
        config = TrainConfig(variant=variant, width=preset.width, steps=preset.steps, batch_size=preset.batch_size,
                             lr=preset.lr, seed=seed)
        models[variant], losses[variant] = train_generator(train, config)
        flows[variant] = predict_flows(models[variant], test.images, test.skeletons)
        timings[f"train_{variant}_s"] = time.perf_counter() - tick

    metrics: dict[str, object] = {"preset": asdict(preset), "epoch_losses": losses}
    table = {}
    for name, flow in flows.items():
        table[name] = {
            "epe": end_point_error(flow, test.flows),
            "epe_body": end_point_error(flow, test.flows, test.body_masks),
            "leak_distractors": leakage(flow, test.distractor_masks),
            "min_det": float(min(min_determinant(f) for f in flow)),
        }

    # Full-resolution warps: the method's path (upsample F, warp the full image) against warping the
    # network-size image and upsampling the result; the identity row is the untouched source.
    full_images = test.full_images.astype(np.float32)
    full_targets = test.full_targets.astype(np.float32)
    hires: dict[str, list[tuple[float, float]]] = {"identity": [], "full_hires_warp": [], "full_lowres_upsampled": [],
                                                   "mls": [], "capsule": []}
    for index in range(len(test)):
        image, target = full_images[index], full_targets[index]
        hires["identity"].append((psnr(image, target), ssim(image, target)))
        for name, key in (("full_hires_warp", "full"), ("mls", "mls"), ("capsule", "capsule")):
            warped = remap(image, resize_flow(flows[key][index], preset.size, preset.size))
            hires[name].append((psnr(warped, target), ssim(warped, target)))
        low = remap(test.images[index], flows["full"][index])
        upsampled = np.clip(_upsample_image(low, preset.size), 0, 1)
        hires["full_lowres_upsampled"].append((psnr(upsampled, target), ssim(upsampled, target)))
    for name, values in hires.items():
        table.setdefault(name, {})
        table[name]["psnr_full_res"] = float(np.mean([v[0] for v in values]))
        table[name]["ssim_full_res"] = float(np.mean([v[1] for v in values]))
    metrics["table"] = table

    # Degree µ: EPE against µ·F_gt through the fold guard; folds of µ·F for µ in [-1, 1]; µ = 0 exactly.
    subset = range(min(len(test), 20))
    degree_epe = {}
    for degree in (0.25, 0.5, 1.0):
        guarded = np.stack([guard_folds(degree * flows["full"][i])[0] for i in subset])
        degree_epe[str(degree)] = end_point_error(guarded, degree * test.flows[list(subset)])
    degrees = np.linspace(-1, 1, 9)
    worst_det = float(min(min_determinant(d * flows["full"][i]) for d in degrees for i in subset))
    exact = _degree_zero_is_identity(models["full"], full_images[0], test, preset)
    metrics["degree"] = {"epe_vs_scaled_gt": degree_epe, "min_det_over_degrees": worst_det,
                         "degree0_bit_exact": exact}
    epe_values = [degree_epe[k] for k in ("0.25", "0.5", "1.0")]
    monotone = bool(epe_values[0] < epe_values[1] < epe_values[2])

    figures = [_grid_figure(out, test, flows, preset)]
    tick = time.perf_counter()
    figures.append(_portraits_figure(out, models["full"]))
    timings["portraits_s"] = time.perf_counter() - tick
    timings["total_s"] = time.perf_counter() - started
    metrics["timings"] = timings

    measured = scale is not Scale.SMOKE
    full, no_sp, no_aff = table["full"], table["no_sp"], table["no_aff"]
    claims = [
        Claim.compare("structure_priors_epe", CLAIMS[0], full["epe"] / no_sp["epe"], "<=", 0.85,
                      paper_value=round(4.1 / 5.0, 3), applicable=measured),
        Claim.compare("structure_priors_leak", CLAIMS[1],
                      full["leak_distractors"] / max(no_sp["leak_distractors"], 1e-12), "<=", 0.5,
                      paper_value="qualitative (Fig. 1)", applicable=measured),
        Claim.compare("affinity_epe", CLAIMS[2], full["epe"] / no_aff["epe"], "<=", 0.97,
                      paper_value=round(4.1 / 4.6, 3), required=False, applicable=measured),
        Claim.compare("learned_vs_zero", CLAIMS[3], full["epe"] / table["zero"]["epe"], "<=", 0.6,
                      applicable=measured),
        Claim.compare("beats_mls", CLAIMS[4], full["epe"] / table["mls"]["epe"], "<", 1.0,
                      paper_value="rule-based warps lose (user study 70.4 %)", applicable=measured),
        Claim.compare("hires_warp_gain_db", CLAIMS[5],
                      table["full_hires_warp"]["psnr_full_res"] - table["full_lowres_upsampled"]["psnr_full_res"],
                      ">=", 3.0, applicable=measured),
        Claim.holds("degree_control", CLAIMS[6], exact and monotone and worst_det > 0,
                    measured=f"bit-exact={exact}, EPE(µ)={[round(v, 4) for v in epe_values]}, "
                             f"min det={worst_det:.3f}",
                    threshold="all three hold"),
    ]
    notes = (
        f"Synthetic pairs ({preset.train_pairs} train / {preset.test_pairs} test, {preset.size} px, flow at "
        f"{preset.net_size} px) stand in for the gated BR-5K; EPE in pixels at {preset.net_size} px. "
        f"Generator width {preset.width} (64 = paper), {preset.steps} steps of batch {preset.batch_size}, Adam lr "
        f"{preset.lr} (paper 2e-5 at 67 M params), one seed (spec asks 2 for the soft affinity claim). "
        "Attention energies are centred per sample (official: per batch). Baselines use default widths and "
        f"strength {BASELINE_STRENGTH}. Wall time {timings['total_s']:.0f} s."
    )
    return Result(name="bodyreshape", scale=scale, seed=seed, metrics=metrics, figures=figures, claims=claims,
                  notes=notes)


def _degree_zero_is_identity(model, image: np.ndarray, test, preset: Preset) -> bool:
    """µ = 0 through the whole learned pipeline returns the input bit for bit."""
    from tenfold.bodyreshape.pipeline import BodyReshaper

    keypoints = test.keypoints[0].copy()
    keypoints[:, :2] *= preset.size / preset.net_size
    result = BodyReshaper(method="learned", model=model, degree=0.0).reshape(image, keypoints)
    return bool(np.array_equal(result.image, image))


def _grid_figure(out: Path, test, flows: dict[str, np.ndarray], preset: Preset) -> str:
    import matplotlib.pyplot as plt

    from tenfold.bodyreshape.flow_field import resize_flow
    from tenfold.bodyreshape.warp import remap

    rows = min(4, len(test))
    columns = ("input", "target", "ours (full)", "w/o SP", "MLS", "flow: ours (red) / truth (green)")
    figure, axes = plt.subplots(rows, len(columns), figsize=(3 * len(columns), 3 * rows), squeeze=False)
    for row in range(rows):
        image = test.full_images[row].astype(np.float32)
        panels = [image, test.full_targets[row].astype(np.float32)]
        for key in ("full", "no_sp", "mls"):
            panels.append(remap(image, resize_flow(flows[key][row], preset.size, preset.size)))
        for column, panel in enumerate(panels):
            axes[row, column].imshow(np.clip(panel, 0, 1))
        axis = axes[row, -1]
        axis.imshow(test.images[row])
        step = max(1, preset.net_size // 16)
        ys, xs = np.mgrid[0:preset.net_size:step, 0:preset.net_size:step]
        for flow, colour in ((test.flows[row], "lime"), (flows["full"][row], "red")):  # ours on top
            axis.quiver(xs, ys, flow[ys, xs, 0], flow[ys, xs, 1], color=colour, angles="xy", scale_units="xy",
                        scale=0.25, width=0.006)
        for column, title in enumerate(columns):
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
            if row == 0:
                axes[row, column].set_title(title, fontsize=9)
    figure.suptitle("Synthetic test pairs: flows drawn ×4; distractors must not move")
    return save_figure(figure, out, "bodyreshape_synthetic_grid.png")


def _portraits_figure(out: Path, model) -> str:
    import matplotlib.pyplot as plt

    from tenfold.bodyreshape.keypoints import fixture_image, fixture_keypoints
    from tenfold.bodyreshape.pipeline import BodyReshaper

    settings = [("capsule", 0.5), ("capsule", 1.0), ("learned", 0.5), ("learned", 1.0)]
    figure, axes = plt.subplots(2, 1 + len(settings), figsize=(3.2 * (1 + len(settings)), 6.6), squeeze=False)
    for row, name in enumerate(("astronaut", "camera")):
        image, keypoints = fixture_image(name), fixture_keypoints(name)
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(f"{name} (input)", fontsize=9)
        for column, (method, degree) in enumerate(settings, start=1):
            result = BodyReshaper(method=method, model=model if method == "learned" else None,
                                  degree=degree).reshape(image, keypoints)
            axes[row, column].imshow(np.clip(result.image, 0, 1))
            magnitude = np.linalg.norm(result.flow, axis=-1)
            axes[row, column].set_title(f"{method} µ={degree} (max |F| {magnitude.max():.1f} px)", fontsize=9)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    return save_figure(figure, out, "bodyreshape_portraits.png")
