"""Reproduce DPFMix in miniature (spec Part A, section 5, E1-E4) on a sweet-spot study and real digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tenfold.core.experiment import Claim, Result, Scale, experiment
from tenfold.core.report import save_figure
from tenfold.dpfmix.studies import digits_study, sweet_spot_study

PAPER = "Optimizing Random Mixup with Gaussian Differential Privacy (DPFMix / NeuroMixGDP, arXiv 2202.06467, 2022)"

CLAIMS = [
    "E1: the measured best mixup degree lies within 2x of the closed-form m* (eps 1 and 4)",
    "E1: utility vs m is U-shaped (MSE at m=2 and m=128 >= 1.3x the minimum) and m* grows with eps",
    "E2: mixing public-PCA features (DPFMix) beats raw-pixel DPMix at equal eps (+0.10 at eps 1, +0.03 at eps 4)",
    "E3: DP-SGD on the same features is reported at equal eps (soft; the spec measured it winning on digits)",
    "E4: membership-inference AUC on a model trained on the release stays within the GDP bound Phi(mu/sqrt 2)",
]

_SETTINGS = {
    Scale.SMOKE: dict(
        n=1000, grid=[4, 16], repeats=1, data="digits", eps=[1.0, 4.0], m_grid=[4], alphas=[1.0],
        seeds=1, dpsgd=False, pca=16, interval=1e-2,
    ),
    Scale.SMALL: dict(
        n=8000, grid=[2, 4, 8, 16, 32, 64, 128], repeats=5, data="digits", eps=[1.0, 2.0, 4.0],
        m_grid=[1, 2, 4, 8, 16, 32], alphas=[0.1, 1.0, 10.0], seeds=5, dpsgd=True, pca=16, interval=1e-3,
    ),
    Scale.FULL: dict(
        n=60000, grid=[4, 8, 16, 32, 64, 128, 256, 512], repeats=5, data="mnist5k", eps=[0.5, 1.0, 2.0, 4.0, 8.0],
        m_grid=[1, 2, 4, 8, 16, 32, 64], alphas=[0.1, 1.0, 10.0], seeds=5, dpsgd=True, pca=32, interval=1e-4,
    ),
}


@experiment("dpfmix", paper=PAPER, claims=CLAIMS)
def reproduce(scale: Scale, out: Path, seed: int = 0) -> Result:
    scale = Scale.parse(scale)
    cfg = _SETTINGS[scale]
    decisive = scale is not Scale.SMOKE

    sweet = sweet_spot_study(n=cfg["n"], eps_values=[1.0, 4.0], grid=cfg["grid"], repeats=cfg["repeats"], seed=seed,
                             interval=cfg["interval"])
    if cfg["data"] == "digits":
        from tenfold.core.data import digits8

        images, labels = digits8()
    else:
        from tenfold.core.data import mnist5k

        images, labels = mnist5k(28)
    digits = digits_study(
        images, labels, eps_values=cfg["eps"], m_grid=cfg["m_grid"], alphas=cfg["alphas"], seeds=cfg["seeds"],
        pca_components=cfg["pca"], dpsgd=cfg["dpsgd"], seed=seed, interval=cfg["interval"],
    )
    fmix = f"dpfmix_pca{cfg['pca']}"

    claims: list[Claim] = []
    for eps in (1.0, 4.0):
        ratio = sweet.measured[eps] / sweet.predicted[eps]
        claims.append(Claim.compare(
            f"sweet_spot_eps{eps:g}",
            f"measured argmin m ({sweet.measured[eps]:g}) / predicted m* ({sweet.predicted[eps]:.1f}) at eps={eps:g}",
            ratio, "between", (0.5, 2.0), paper_value="closed-form m* (spec E1: 12.1 -> 16, 41.8 -> 32)",
            applicable=decisive,
        ))
    for eps in (1.0, 4.0):
        curve = np.asarray(sweet.mse[eps])
        ends = float(min(curve[0], curve[-1]) / curve.min())
        claims.append(Claim.compare(
            f"u_shape_eps{eps:g}",
            f"min(MSE(m={sweet.grid[0]:g}), MSE(m={sweet.grid[-1]:g})) / min MSE at eps={eps:g}",
            ends, ">=", 1.3, paper_value="U-shaped (sweet spot)", applicable=decisive,
        ))
    claims.append(Claim.holds(
        "m_star_grows_with_eps", "measured argmin m at eps=4 > at eps=1",
        (sweet.measured[4.0] > sweet.measured[1.0]) if decisive else None,
        measured=f"{sweet.measured[1.0]:g} -> {sweet.measured[4.0]:g}", threshold="m*(4) > m*(1)",
        paper_value="m* = mu n / sqrt(u* T) grows with mu",
    ))
    for eps, margin in ((1.0, 0.10), (4.0, 0.03)):
        gain = digits.accuracy[fmix][eps] - digits.accuracy["dpmix_raw"][eps]
        claims.append(Claim.compare(
            f"dpfmix_beats_dpmix_eps{eps:g}",
            f"DPFMix ({fmix}) minus raw-pixel DPMix test accuracy at eps={eps:g} (validation-selected m, ridge)",
            gain, ">=", margin, paper_value="spec E2: 0.71 vs 0.48 (eps 1), 0.86 vs 0.80 (eps 4)",
            applicable=decisive,
        ))
    if "dpsgd" in digits.accuracy:
        lead = digits.accuracy["dpsgd"][1.0] - digits.accuracy[fmix][1.0]
        claims.append(Claim.compare(
            "dpsgd_peer_eps1",
            "DP-SGD (Opacus, one model) minus DPFMix test accuracy at eps=1; the spec measured DP-SGD ahead on digits",
            lead, ">=", 0.0, paper_value="spec E3: DP-SGD 0.87 vs DPFMix 0.71", required=False,
        ))
    for eps in (1.0, 4.0):
        row = digits.attack.get(f"eps{eps:g}")
        if row is None:
            continue
        claims.append(Claim.compare(
            f"mia_within_gdp_bound_eps{eps:g}",
            f"loss-threshold MIA AUC on a softmax trained on the release (eps={eps:g}) <= Phi(mu/sqrt2) + 2 SE",
            row["auc"], "<=", round(row["gdp_auc_bound"] + 2 * row["se"], 4),
            paper_value=f"GDP bound {row['gdp_auc_bound']:.3f}", applicable=decisive,
        ))
    nonprivate = digits.attack["nonprivate"]
    row = digits.attack["eps1"]
    claims.append(Claim.compare(
        "mia_below_nonprivate_eps1",
        "MIA AUC on the eps=1 release model <= non-private model's AUC + 2 SE",
        row["auc"], "<=", round(nonprivate["auc"] + 2 * np.hypot(row["se"], nonprivate["se"]), 4),
        paper_value="spec E4: 0.505 vs 0.520", applicable=decisive,
    ))

    figures = [_plot_sweet_spot(sweet, out), _plot_accuracy(digits, out)]
    metrics = {
        "sweet_spot": {
            "n": cfg["n"], "grid": sweet.grid, "mse": {f"eps{e:g}": v for e, v in sweet.mse.items()},
            "mse_se": {f"eps{e:g}": v for e, v in sweet.mse_se.items()},
            "sigma_pld": {f"eps{e:g}": v for e, v in sweet.sigmas.items()},
            "m_star_predicted": {f"eps{e:g}": v for e, v in sweet.predicted.items()},
            "m_star_measured": {f"eps{e:g}": v for e, v in sweet.measured.items()},
        },
        "digits": {
            "data": cfg["data"], "n_private": digits.n_private, "seeds": cfg["seeds"],
            "accuracy": {a: {f"eps{e:g}": v for e, v in d.items()} for a, d in digits.accuracy.items()},
            "accuracy_se": {a: {f"eps{e:g}": v for e, v in d.items()} for a, d in digits.accuracy_se.items()},
            "chosen_m_alpha": {a: {f"eps{e:g}": list(v) for e, v in d.items()} for a, d in digits.chosen.items()},
            "dpsgd_eps_pld": {f"eps{e:g}": v for e, v in digits.dpsgd_eps.items()},
            "attack": digits.attack,
        },
    }
    notes = (
        f"Epsilon is always dp-accounting's PLD one (add/remove, value interval {cfg['interval']:g}: an upper bound). "
        "Model choices (m, ridge alpha) are made on a validation split, test touched once. "
        "DPMix uses raw pixels scaled by the public mean norm; 'dpmix_centred' (public mean removed) is an extra "
        "arm that closes much of the gap, i.e. most of DPFMix's gain on digits comes from centring/compactness. "
        "DP-SGD trains one model per budget; a release serves any number of models."
    )
    return Result(name="dpfmix", scale=scale, seed=seed, metrics=metrics, figures=figures, claims=claims, notes=notes)


def _plot_sweet_spot(sweet, out: Path) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for eps, color in zip(sorted(sweet.mse), ("tab:blue", "tab:red", "tab:green"), strict=False):
        ax.errorbar(sweet.grid, sweet.mse[eps], yerr=sweet.mse_se[eps], marker="o", color=color, label=f"eps={eps:g}")
        ax.axvline(sweet.predicted[eps], color=color, linestyle="--", alpha=0.7, label=f"predicted m*={sweet.predicted[eps]:.1f}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("mixup degree m")
    ax.set_ylabel("test MSE of OLS on the release")
    ax.set_title("E1: sweet spot of the mixup degree")
    ax.legend(fontsize=7)
    return save_figure(fig, out, "mse_vs_m.png")


def _plot_accuracy(digits, out: Path) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for arm, values in digits.accuracy.items():
        eps = sorted(values)
        ax.errorbar(eps, [values[e] for e in eps], yerr=[digits.accuracy_se[arm][e] for e in eps], marker="o",
                    label=arm, linestyle=":" if arm == "dpmix_centred" else "-")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("epsilon (PLD, delta=1e-5)")
    ax.set_ylabel("test accuracy")
    ax.set_title("E2/E3: accuracy vs epsilon")
    ax.legend(fontsize=7)
    return save_figure(fig, out, "accuracy_vs_eps.png")
