"""The study's figures: implied timescales, MFPT ratios per row, the budget curve, the stride sweep and
sample trajectories (PNG files in the experiment's output folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def study_figures(out: Path, **k: Any) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tenfold.core.report import save_figure

    names = []
    s = k["settings"]
    # 1. implied timescales
    fig, ax = plt.subplots(figsize=(5.5, 4))
    lags = np.asarray(k["lags"])
    for i in range(k["its_md"].shape[1]):
        ax.plot(lags, k["its_md"][:, i], "o-", color="C0", label="MD micro MSM" if i == 0 else None)
        ax.plot(lags, k["its_lstm"][:, i], "s--", color="C3", label="LSTM micro (generated) MSM" if i == 0 else None)
    ax.plot(lags, lags, "k:", label="lag")
    ax.set(xscale="log", yscale="log", xlabel="lag (frames)", ylabel="implied timescale (frames)",
           title="Implied timescales: MD vs LSTM-generated micro sequences")
    ax.legend(fontsize=8)
    names.append(save_figure(fig, out, "implied_timescales.png"))

    # 2. MFPT ratios per row (first LM seed), with the like-for-like analytic MSM rows
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    rows = [("LSTM micro", k["e2"]["micro"][0]), ("LSTM core-macro", k["e2"]["core"][0]),
            ("Transformer micro", k["transformer_rows"][0]), ("MSM(lag 1) micro", k["msm_rows"]["micro"])]
    if k["crisp_row"] is not None:
        rows.append(("LSTM crisp-macro", k["crisp_row"]))
    for name, analytic in k["msm_rows"]["micro"]["analytic"].items():
        rows.append((f"analytic MSM {name.replace('_', ' ')}",
                     {"mfpt_time": analytic["mfpt_time"], "reference_mfpt_time": analytic["reference_mfpt_time"],
                      "E": analytic["E"]}))
    for index, (name, row) in enumerate(rows):
        ref = np.asarray(row["reference_mfpt_time"], dtype=float)
        gen = np.asarray(row["mfpt_time"], dtype=float)
        ok = np.isfinite(ref) & np.isfinite(gen)
        marker = "x" if name.startswith("analytic") else "o"
        ax.scatter(np.full(ok.sum(), index) + np.linspace(-0.2, 0.2, ok.sum()), gen[ok] / ref[ok], s=18,
                   marker=marker, label=f"{name}: E={row['E']:.2f}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(yscale="log", ylabel="MFPT generated / MFPT reference", xticks=[],
           title=f"MFPT ratios per macrostate pair (stride 1, {s.headline_budget} steps, first seed)")
    ax.legend(fontsize=7)
    names.append(save_figure(fig, out, "mfpt_ratios.png"))

    # 3. budget curve
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for kind, color in (("micro", "C3"), ("core", "C0")):
        budgets = sorted(k["curve"][kind])
        ax.plot(budgets, [k["curve"][kind][b]["E"] for b in budgets], "o-", color=color, label=f"{kind} (first seed)")
        seeds_e = [r["E"] for r in k["e2"][kind]]
        ax.errorbar([s.headline_budget], [np.mean(seeds_e)], yerr=[np.std(seeds_e)], fmt="D", color=color, capsize=4,
                    label=f"{kind}: mean +- sd of {len(seeds_e)} seeds")
    ax.axhline(0.2, color="gray", ls=":", label="E = 0.2")
    ax.set(xscale="log", xlabel="training budget (Adam steps of 64 windows)", ylabel="MFPT error E",
           title="Budget curve: the gap is one of learning efficiency")
    ax.legend(fontsize=8)
    names.append(save_figure(fig, out, "budget_curve.png"))

    # 4. stride sweep, every LM seed
    fig, ax = plt.subplots(figsize=(5.5, 4))
    strides = sorted(k["stride_rows"])
    for st in strides:
        values = [r["E"] for r in k["stride_rows"][st]]
        ax.scatter([st] * len(values), values, color="C3", s=12, alpha=0.6)
    ax.plot(strides, [np.mean([r["E"] for r in k["stride_rows"][st]]) for st in strides], "o-", color="C3",
            label="LSTM micro (mean over seeds)")
    ax.plot(strides, [k["stride_msm"][st]["E"] for st in strides], "s--", color="C2", label="MSM(lag 1) micro")
    ax.set(xscale="log", xlabel="stride (frames per token)", ylabel="MFPT error E",
           title="Temporal resolution (reference rebuilt per stride)")
    ax.legend(fontsize=8)
    names.append(save_figure(fig, out, "stride_sweep.png"))

    # 5. sample trajectories
    base = k["base"]
    fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True)
    span = min(s.frames, s.chain_tokens)
    walker = s.train_walkers  # a held-out walker
    axes[0].plot(k["frames"][walker, :span, 0], lw=0.4, color="k")
    axes[0].set(ylabel="x (MD)", title="MD slow coordinate and macrostate sequences")
    axes[1].plot(base.reference("core")[walker][:span], lw=0.6, color="C0", label="MD core-macro")
    axes[1].set(ylabel="macrostate")
    gen_micro = base.to_macro("micro", [k["generated"]["micro"][0]])[0][:span]
    gen_core = k["generated"]["core"][0][:span]
    axes[2].plot(gen_micro, lw=0.6, color="C3", label="LSTM micro -> macro")
    axes[2].plot(gen_core + 0.1, lw=0.6, color="C0", label="LSTM core-macro")
    axes[2].set(ylabel="macrostate", xlabel="token")
    axes[2].legend(fontsize=7, loc="upper right")
    names.append(save_figure(fig, out, "sample_trajectories.png"))
    return names
