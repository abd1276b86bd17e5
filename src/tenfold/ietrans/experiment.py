"""IETrans in miniature: on SynthSGG, transfer doubles mean recall at a modest recall cost (spec 5.3).

smoke: a tiny world, one seed (claims not decided). small: the spec's plan, median of 3 seeds on the
biased test labels at K = 50, plus latent-truth recall and a k_I sweep on the first seed. full: the same
pipeline with MotifsLite on real VG-150 files named by ``TENFOLD_VG_DIR`` (labels and boxes, no images).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tenfold.core.errors import MissingDataError
from tenfold.core.experiment import Claim, Result, Scale, experiment
from tenfold.core.report import save_figure
from tenfold.ietrans.pipeline import PipelineConfig, run_pipeline
from tenfold.ietrans.scene_graphs import SceneGraphs, images_with_relations, select_images
from tenfold.ietrans.synth import make_synth
from tenfold.ietrans.training import PredicateClassifier
from tenfold.ietrans.transfer import TransferConfig

PAPER = "Fine-Grained Scene Graph Generation with Data Transfer (ECCV 2022)"
CLAIMS = [
    "IETrans raises mean recall mR@50 by at least 1.5x over the base model (paper 2.03x)",
    "IETrans keeps at least 0.65 of the base model's R@50 (paper 0.855)",
    "IETrans raises F@50 by at least 5 points (paper +14.9)",
    "IETrans raises latent-truth mR@50 by at least 1.5x",
    "mR@50 orders IETrans > internal-only > base",
    "k_I sweep: mR rises and R falls with k_I (soft)",
    "Reweighting alone loses F at this imbalance (soft, TIPS #4)",
]
# The 15 frequent/general VG-50 predicates the official external transfer never adds (spec 1.4 step 5).
VG50_HEAD = (
    "on", "has", "in", "of", "wearing", "near", "with", "above", "holding",
    "behind", "under", "sitting on", "wears", "standing on", "in front of",
)
SWEEP = (0.1, 0.3, 0.5, 0.7, 0.9)


def _plan(scale: Scale, seed: int) -> dict[str, Any]:
    if scale is Scale.SMOKE:
        return {"seeds": [seed], "train": 150, "test": 60, "epochs": 2, "sweep": (0.3, 0.7)}
    return {"seeds": [seed, seed + 1, seed + 2], "train": 2500, "test": 1000, "epochs": 6, "sweep": SWEEP}


def _at(metrics: dict[str, Any], variant: str, test: str, key: str) -> float:
    return float(metrics[variant][test][key]) * 100.0


@experiment("ietrans", paper=PAPER, claims=CLAIMS)
def reproduce(scale: Scale, out: Path, seed: int = 0) -> Result:
    """Run base / internal / IETrans / IETrans+Rwt / Rwt on SynthSGG (or real VG at full) and check spec 5.3."""
    import torch

    scale = Scale.parse(scale)
    if scale is Scale.FULL:
        return _reproduce_full(out, seed)
    # 1,024 x 256 matmuls gain nothing from intra-op threads, and on a shared 2-core box the second
    # thread's spin-waits made `small` 10x slower; restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _reproduce_synthetic(scale, out, seed)
    finally:
        torch.set_num_threads(threads)


def _reproduce_synthetic(scale: Scale, out: Path, seed: int) -> Result:
    plan = _plan(scale, seed)
    runs = []
    first_train: SceneGraphs | None = None
    for run_seed in plan["seeds"]:
        world, train, test = make_synth(run_seed, plan["train"], plan["test"])
        graphs = select_images(train.annotated, images_with_relations(train.annotated))
        first_train = first_train or graphs
        config = PipelineConfig(
            classifier=PredicateClassifier(
                model="pairmlp", epochs=plan["epochs"], hidden=256, background_ratio=3.0, seed=run_seed
            ),
            transfer=TransferConfig(k_int=0.7, k_ext=1.0, head_predicates=world.general_predicates),
            sweep=plan["sweep"] if run_seed == plan["seeds"][0] else (),
        )
        runs.append(run_pipeline(graphs, {"biased": test.annotated, "latent": test.latent}, config))
    return _result(scale, seed, out, runs, first_train, plan)


def _result(scale: Scale, seed: int, out: Path, runs: list[dict], train: SceneGraphs, plan: dict) -> Result:
    variants = ["base", "internal", "ietrans", "ietrans_rwt", "rwt", "logit_adjust"]
    metrics: dict[str, Any] = {"seeds": plan["seeds"], "train_images": plan["train"], "test_images": plan["test"]}
    median: dict[str, float] = {}
    for variant in variants:
        for test in ("biased", "latent"):
            for key in ("R@50", "mR@50", "F@50", "R@100", "mR@100", "F@100", "R@20", "mR@20"):
                values = [_at(r["metrics"], variant, test, key) for r in runs]
                median[f"{variant}/{test}/{key}"] = float(np.median(values))
                metrics[f"{variant}_{test}_{key}"] = round(median[f"{variant}/{test}/{key}"], 2)
    metrics["internal_changed_share"] = float(
        np.median([r["reports"]["ietrans"]["internal"]["changed"] / r["reports"]["ietrans"]["relations_before"] for r in runs])
    )
    metrics["external_added"] = float(np.median([r["reports"]["ietrans"]["external"]["added"] for r in runs]))
    metrics["seconds_per_training"] = float(np.median([v for r in runs for k, v in r["seconds"].items() if k != "transfer"]))
    metrics["transfer_seconds"] = float(np.median([r["seconds"]["transfer"] for r in runs]))
    first = runs[0]["metrics"]
    sweep = [(k, _at(first, f"sweep_{k:g}", "biased", "R@50"), _at(first, f"sweep_{k:g}", "biased", "mR@50")) for k in plan["sweep"]]
    metrics["sweep"] = [{"k_int": k, "R@50": r, "mR@50": m} for k, r, m in sweep]

    def m(variant: str, key: str, test: str = "biased") -> float:
        return median[f"{variant}/{test}/{key}"]

    decided = scale is not Scale.SMOKE
    mr_ratio = m("ietrans", "mR@50") / max(m("base", "mR@50"), 1e-9)
    r_ratio = m("ietrans", "R@50") / max(m("base", "R@50"), 1e-9)
    f_gain = m("ietrans", "F@50") - m("base", "F@50")
    latent_ratio = m("ietrans", "mR@50", "latent") / max(m("base", "mR@50", "latent"), 1e-9)
    ordered = m("ietrans", "mR@50") > m("internal", "mR@50") > m("base", "mR@50")
    rs, mrs = [r for _, r, _ in sweep], [x for _, _, x in sweep]
    trend = all(b >= a - 2.0 for a, b in zip(mrs, mrs[1:], strict=False)) and all(
        b <= a + 2.0 for a, b in zip(rs, rs[1:], strict=False)
    )
    claims = [
        Claim.compare("mr_ratio", CLAIMS[0], mr_ratio, ">=", 1.5, paper_value=round(30.9 / 15.2, 3), applicable=decided),
        Claim.compare("r_ratio", CLAIMS[1], r_ratio, ">=", 0.65, paper_value=round(54.7 / 64.0, 3), applicable=decided),
        Claim.compare("f_gain", CLAIMS[2], f_gain, ">=", 5.0, paper_value=14.9, applicable=decided),
        Claim.compare("latent_mr_ratio", CLAIMS[3], latent_ratio, ">=", 1.5, paper_value="n/a (VG has no latent truth)", applicable=decided),
        Claim.holds(
            "mr_order",
            CLAIMS[4],
            ordered if decided else None,
            measured=f"{m('ietrans', 'mR@50'):.1f} > {m('internal', 'mR@50'):.1f} > {m('base', 'mR@50'):.1f}",
            threshold="strict order of median mR@50",
            paper_value="ablation: internal alone raises mR, both together best",
        ),
        Claim.holds(
            "k_int_trend",
            CLAIMS[5],
            trend if decided and len(sweep) > 1 else None,
            measured="; ".join(f"k={k:g}: R {r:.1f} mR {x:.1f}" for k, r, x in sweep),
            threshold="mR non-decreasing and R non-increasing, within 2 points",
            paper_value="mR up, R down as k_I grows",
            required=False,
        ),
        Claim.compare(
            "rwt_only_f_loss",
            CLAIMS[6],
            m("rwt", "F@50") - m("base", "F@50"),
            "<",
            0.0,
            paper_value="TIPS: Rwt breaks at extreme imbalance",
            required=False,
            applicable=decided,
        ),
    ]
    figures = [_per_predicate_figure(out, runs[0], train), _sweep_figure(out, sweep)]
    notes = (
        f"SynthSGG (C=40, P=34, alpha=0.5, beta=0.6), {plan['train']} train / {plan['test']} test images per seed, "
        f"seeds {plan['seeds']}; PairMLP (2x256), Adam 2e-3, {plan['epochs']} epochs, 1,024-pair batches, "
        "background ratio 3. k_I=0.7, k_E=1.0, head exclusion = the 5 general predicates. Claims use the median over "
        "seeds of the biased test labels at K=50; the sweep runs on the first seed. Rwt = official plain-mean "
        "reweighted CE; logit_adjust = base logits minus log prior."
    )
    return Result("ietrans", scale, seed, metrics=metrics, figures=figures, claims=claims, notes=notes)


def _per_predicate_figure(out: Path, run: dict, train: SceneGraphs) -> str:
    import matplotlib.pyplot as plt

    counts = np.bincount(train.relations[:, 2], minlength=train.num_predicates + 1)[1:]
    order = np.argsort(-counts, kind="stable")
    names = np.array(train.predicate_names[1:] or [str(p) for p in range(1, train.num_predicates + 1)])
    base = np.array(run["metrics"]["base"]["biased"]["per_predicate@50"]) * 100
    ietrans = np.array(run["metrics"]["ietrans"]["biased"]["per_predicate@50"]) * 100
    figure, axis = plt.subplots(figsize=(12, 4))
    x = np.arange(len(order))
    axis.bar(x - 0.2, base[order], 0.4, label="base")
    axis.bar(x + 0.2, ietrans[order], 0.4, label="IETrans")
    axis.set_xticks(x, names[order], rotation=75, fontsize=7)
    axis.set_ylabel("recall@50 (%)")
    axis.set_title("Per-predicate recall, biased test, predicates by training frequency (first seed)")
    axis.legend()
    return save_figure(figure, out, "per_predicate_recall.png")


def _sweep_figure(out: Path, sweep: list[tuple[float, float, float]]) -> str:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    ks = [k for k, _, _ in sweep]
    axis.plot(ks, [r for _, r, _ in sweep], "o-", label="R@50")
    axis.plot(ks, [m for _, _, m in sweep], "s-", label="mR@50")
    axis.set_xlabel("k_I (internal transfer share)")
    axis.set_ylabel("%")
    axis.set_title("k_I sweep (IETrans, first seed)")
    axis.legend()
    return save_figure(figure, out, "k_int_sweep.png")


def _reproduce_full(out: Path, seed: int) -> Result:
    """Paper-sized path: MotifsLite on real VG-150 annotations from ``TENFOLD_VG_DIR`` (GPU recommended)."""
    from tenfold.ietrans.vg_h5 import read_vg_h5

    folder = os.environ.get("TENFOLD_VG_DIR")
    if not folder:
        raise MissingDataError(
            "scale 'full' runs on real Visual Genome files: set TENFOLD_VG_DIR to a folder holding "
            "VG-SGG-with-attri.h5, VG-SGG-dicts-with-attri.json and image_data.json"
        )
    folder_path = Path(folder)
    h5, dicts = folder_path / "VG-SGG-with-attri.h5", folder_path / "VG-SGG-dicts-with-attri.json"
    image_data = folder_path / "image_data.json"
    image_data_path = image_data if image_data.is_file() else None
    train = read_vg_h5(h5, dicts, split="train", image_data_path=image_data_path)
    test = read_vg_h5(h5, dicts, split="test", image_data_path=image_data_path)
    names = {name: i for i, name in enumerate(train.predicate_names)}
    head = tuple(sorted(names[n] for n in VG50_HEAD if n in names))
    epochs = int(os.environ.get("TENFOLD_IETRANS_EPOCHS", "12"))
    config = PipelineConfig(
        classifier=PredicateClassifier(model="motifs", epochs=epochs, batch_images=12, seed=seed),
        transfer=TransferConfig(k_int=0.7, k_ext=1.0, head_predicates=head),
        sweep=(),
        variants=("base", "internal", "ietrans", "ietrans_rwt", "rwt", "logit_adjust"),
    )
    run = run_pipeline(train, {"biased": test, "latent": test}, config)
    plan = {"seeds": [seed], "train": train.num_images, "test": test.num_images, "sweep": ()}
    result = _result(Scale.FULL, seed, out, [run], train, plan)
    result.notes = (
        f"Real VG-150 from {folder}: MotifsLite (labels + boxes, no images), {epochs} epochs, all pairs; "
        "'latent' repeats the real test labels (VG has no latent truth)."
    )
    return replace(result)
