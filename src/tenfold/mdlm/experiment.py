"""Zeng et al. (2021) in miniature: language models learn slow MD kinetics only with the right partition
and temporal resolution; a Transformer is no better than an LSTM (spec 5.2-5.3).

smoke: a tiny system and one LM seed (shapes and finiteness; claims not decided). small: the spec's
E2/E3/E4 on 64 walkers x 20,000 frames, every claim decided on its interval over LM seeds (>= 3 per
row and per stride). full: the same plus the E1 d=0 rows and the E2b recrossing study.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.core.experiment import ClaimSpec, Measurements, Scale, Settings, Unmeasured, experiment
from tenfold.core.intervals import Samples, interval

LOGGER = logging.getLogger("tenfold.mdlm")
PAPER = "A Note on Learning Rare Events in Molecular Dynamics using LSTM and Transformer (arXiv 2021)"


@dataclass(frozen=True, kw_only=True)
class MdlmSettings(Settings):
    # --- data: the slow 4-well + fast double-well overdamped Langevin model (spec 5.1)
    # independent walkers, random starts in the four wells
    walkers: int = 64
    # frames saved per walker
    frames: int = 20_000
    # fast double-well coordinates beside the slow x (the spec's d)
    fast_dims: int = 2
    # Euler-Maruyama steps between saved frames (frame time = steps_per_frame x time_step = 0.02)
    steps_per_frame: int = 20
    # integrator time step (model units, kT = 1)
    time_step: float = 1e-3
    # walkers 0..train_walkers-1 train every model; the others only seed generation (held out)
    train_walkers: int = 48
    # --- partition (spec 1.2 steps 2-7)
    # k-means microstates
    microstates: int = 100
    # evenly spaced frames k-means is fitted on (then every frame is assigned)
    kmeans_frames: int = 30_000
    # PCCA+ metastable sets (the four wells)
    macrostates: int = 4
    # core set of a macrostate: microstates whose PCCA+ membership is >= theta_core
    theta_core: float = 0.9
    # lag of the micro MSM that PCCA+ lumps, in frames (divided by the stride, at least 1 token)
    pcca_lag_frames: int = 10
    # temporal resolutions swept by E3 (frames per token); the first must be 1 (the E2 rows)
    strides: tuple[int, ...] = (1, 4, 10, 40)
    # --- language models (spec 1.3, ps-LSTM sizes)
    # LM seeds of the E2 micro and core rows (the C2 claims are decided on their interval; with 3 seeds the
    # t multiplier is 2.92 and the first small run left C2_core_E undecided, so 5)
    lm_seeds: int = 5
    # LM seeds per E3 stride, the first ones of lm_seeds (C3 is decided on their interval)
    stride_seeds: int = 3
    # Adam-step budgets of the budget curve (first LM seed, micro and core rows)
    budgets: tuple[int, ...] = (300, 1000, 3000)
    # the budget every claim is decided at (spec 5.3: 1000 steps)
    headline_budget: int = 1000
    # training window (tokens); also the Transformer's context
    window: int = 100
    # random windows per Adam step
    batch_size: int = 64
    # Adam learning rate
    learning_rate: float = 1e-3
    # LSTM token embedding size
    embedding_dim: int = 16
    # LSTM hidden size
    hidden_dim: int = 64
    # Transformer d_model (E4)
    transformer_width: int = 32
    # Transformer blocks
    transformer_layers: int = 2
    # Transformer attention heads
    transformer_heads: int = 4
    # Transformer LM seeds, paired with the first LSTM seeds (C4 needs >= 3 for its interval)
    transformer_seeds: int = 3
    # chains per Transformer row (its generation is slower than the LSTM's)
    transformer_chains: int = 16
    # --- generation and scoring (spec 1.4)
    # generated chains per LSTM row, each seeded by held-out MD tokens
    chains: int = 64
    # tokens per chain at stride 1 (coarser strides keep the same physical time)
    chain_tokens: int = 20_000
    # floor on tokens per chain at coarse strides
    min_chain_tokens: int = 2_000
    # held-out MD tokens that seed each chain
    seed_tokens: int = 100
    # chain resamples for each row's bootstrap interval of E
    bootstrap: int = 200
    # independent simulations of the MSM(lag 1) row (C2_msm_E is decided on their interval)
    msm_replicates: int = 3
    # lags (tokens) of the implied-timescale comparison
    its_lags: tuple[int, ...] = (1, 2, 5, 10, 20, 50)
    # slowest implied timescales shown
    its_count: int = 3
    # --- optional rows
    # crisp-macro LSTM row beside core-macro (first LM seed; skipped when every microstate is a core, since
    # the crisp and core tokens are then identical)
    crisp_row: bool = True
    # E1 extras: micro tokens of a d=0 system (k=microstates) and ps-LSTM-like 4 nearest-centre bins
    e1_rows: bool = False
    # min-dwell filter (frames) of the ps-LSTM-like bins
    e1_min_dwell: int = 5
    # E2b recrossing study (fine saving interval, many microstates)
    e2b: bool = False
    # frames per walker in E2b
    e2b_frames: int = 100_000
    # integrator steps between E2b frames (frame time 0.002)
    e2b_steps_per_frame: int = 2
    # k-means microstates in E2b (so that barrier microstates exist)
    e2b_microstates: int = 300
    # frames k-means is fitted on in E2b
    e2b_kmeans_frames: int = 120_000
    # PCCA+ lag in E2b frames
    e2b_pcca_lag_frames: int = 100
    # theta_core values tried in order until the non-core frame fraction reaches the low end of the range
    e2b_theta_candidates: tuple[float, ...] = (0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)
    # non-core frame fraction the spec asks of E2b (low, high)
    e2b_noncore_range: tuple[float, float] = (0.05, 0.15)
    # worker processes for the independent rows (None: core's worker_count, one per core up to 2)
    workers: int | None = None

    def __post_init__(self) -> None:
        if not self.strides or self.strides[0] != 1:
            raise BadConfigError(f"mdlm settings: strides must start at 1, got {self.strides}")
        if self.headline_budget not in self.budgets:
            raise BadConfigError(f"mdlm settings: headline_budget {self.headline_budget} must be one of {self.budgets}")
        for name in ("transformer_seeds", "stride_seeds"):
            if not 1 <= getattr(self, name) <= self.lm_seeds:
                raise BadConfigError(f"mdlm settings: {name} must be in [1, lm_seeds] (paired with the LSTM seeds)")

    @property
    def frame_time(self) -> float:
        return self.steps_per_frame * self.time_step


SETTINGS = {
    Scale.SMOKE: MdlmSettings(walkers=12, frames=3_000, train_walkers=8, microstates=20, kmeans_frames=5_000,
                              strides=(1, 10), lm_seeds=1, stride_seeds=1, budgets=(15, 30), headline_budget=30, window=50,
                              transformer_seeds=1, transformer_chains=4, chains=8, chain_tokens=1_500,
                              min_chain_tokens=1_000, seed_tokens=50, bootstrap=20, msm_replicates=1,
                              its_lags=(1, 2, 5), crisp_row=False, workers=1),
    Scale.SMALL: MdlmSettings(),
    Scale.FULL: MdlmSettings(lm_seeds=5, stride_seeds=5, transformer_seeds=5, transformer_width=64, transformer_chains=64,
                             e1_rows=True, e2b=True),
}

CLAIMS = [
    ClaimSpec("C2_core_E", "C2: core-macro (TBA) LSTM kinetics are accurate at 1000 steps: MFPT error E",
              "<=", 0.20, paper_value="pilot 0.13", over="seeds"),
    ClaimSpec("C2_micro_over_core", "C2: micro LSTM E over core-macro LSTM E at 1000 steps (ratio per LM seed)",
              ">=", 2.0, paper_value="pilot 6.6", over="seeds", log_ratio=True),
    ClaimSpec("C2_micro_E", "C2: micro LSTM E at 1000 steps (the failure on microstates is real)",
              ">=", 0.4, paper_value="pilot 0.84", over="seeds"),
    ClaimSpec("C2_core_TV", "C2: core-macro LSTM population total variation from MD at 1000 steps",
              "<=", 0.08, paper_value="pilot 0.056", over="seeds"),
    ClaimSpec("C2_msm_E", "C2: an MSM(lag 1) simulated on the micro tokens matches MD (E): the kinetics are in "
              "the data", "<=", 0.2, paper_value="pilot 0.16", over="seeds"),
    ClaimSpec("C3_stride", "C3: micro LSTM E at the worst stride over E at the best stride of the sweep, at "
              "1000 steps (worst and best chosen by the mean over LM seeds; ratio per LM seed)",
              ">=", 2.0, paper_value="pilot 4 (stride 1 vs 10)", over="seeds", log_ratio=True),
    ClaimSpec("C1_fine_partition", "C1: fine high-dimensional microstates (d=2, k=100) obscure the rare events: "
              "micro E over core-macro E", ">=", 2.0, paper_value="pilot 6.6", over="seeds", log_ratio=True,
              required=False),
    ClaimSpec("C2_recrossing", "C2-recrossing (E2b): against the core reference, core-macro E over crisp-macro E, "
              "with 5-15% non-core frames", "<=", 0.8, paper_value="not shown in the pilot", over="seeds",
              log_ratio=True, required=False, decisive_from=Scale.FULL),
    ClaimSpec("C4_transformer", "C4: a Transformer is not better than the LSTM on micro tokens (the 90% t interval "
              "of E_transformer - E_lstm over paired seeds reaches 0 or above)", "holds",
              paper_value="pilot 0.84 vs 0.84", required=False),
]


@experiment("mdlm", paper=PAPER, settings=SETTINGS, claims=CLAIMS)
def reproduce(scale: Scale, settings: MdlmSettings, out: Path, seed: int) -> Measurements:
    """E2-E4 (and E1/E2b at full scale) on the slow 4-well + fast double-well system, scored by MFPT error E."""
    from tenfold.mdlm.figures import study_figures
    from tenfold.mdlm.jobs import make_job, run_jobs, run_msm_rows
    from tenfold.mdlm.partition import cluster_microstates, implied_timescales
    from tenfold.mdlm.simulation import simulate, true_basins
    from tenfold.mdlm.study import build_partition

    s = settings
    clock = time.perf_counter()
    log_lines: list[str] = []

    def log(message: str) -> None:
        line = f"[{time.perf_counter() - clock:7.1f}s] {message}"
        log_lines.append(line)
        LOGGER.info(line)

    frames = simulate(s.walkers, s.frames, s.fast_dims, steps_per_frame=s.steps_per_frame, dt=s.time_step, seed=seed)
    walkers = list(frames)
    truth = [true_basins(w[:, 0]) for w in walkers]
    log(f"simulated {s.walkers} x {s.frames} frames, d={s.fast_dims}")
    micro, centres = cluster_microstates(walkers, s.microstates, seed=seed, max_fit_frames=s.kmeans_frames)
    partitions = {
        stride: build_partition(micro, s.microstates, stride=stride, train_walkers=s.train_walkers,
                                n_macro=s.macrostates, theta_core=s.theta_core, pcca_lag_frames=s.pcca_lag_frames,
                                order_by=centres[:, 0], truth=truth)
        for stride in s.strides
    }
    for stride, partition in partitions.items():
        log(f"partition stride {stride}: {partition.info}")
    base = partitions[1]
    plan = _plan(s)
    headline = s.headline_budget
    lm_seeds = list(range(s.lm_seeds))

    jobs: dict[tuple, Any] = {}
    for kind in ("micro", "core"):  # E2; the first LM seed carries the budget curve
        for lm_seed in lm_seeds:
            jobs[("e2", kind, lm_seed)] = make_job(base, kind, plan, seed, lm_seed=lm_seed,
                                                   budgets=s.budgets if lm_seed == 0 else (headline,),
                                                   keep_generated=lm_seed == 0)
    crisp_is_core = bool(np.array_equal(base.macro_map.crisp, base.macro_map.core))
    if s.crisp_row and not crisp_is_core:
        jobs[("e2", "crisp", 0)] = make_job(base, "crisp", plan, seed, lm_seed=0, budgets=(headline,))
    for stride in s.strides[1:]:  # E3: the reference is rebuilt on the same strided data
        for lm_seed in lm_seeds[: s.stride_seeds]:
            jobs[("e3", stride, lm_seed)] = make_job(partitions[stride], "micro", plan, seed, lm_seed=lm_seed,
                                                     budgets=(headline,))
    for lm_seed in lm_seeds[: s.transformer_seeds]:  # E4, paired with the LSTM micro seeds
        jobs[("e4", lm_seed)] = make_job(base, "micro", plan, seed, lm_seed=lm_seed, budgets=(headline,),
                                         architecture="transformer", chains=s.transformer_chains,
                                         label="micro (x,y1,y2) Transformer")
    if s.e1_rows:
        jobs |= _e1_jobs(s, plan, seed)
    e2b_info = None
    if s.e2b:
        e2b_info = _prepare_e2b(s, seed, log)
        for kind in ("crisp", "core"):
            for lm_seed in lm_seeds:
                jobs[("e2b", kind, lm_seed)] = make_job(
                    e2b_info["partition"], kind, plan, seed, lm_seed=lm_seed, budgets=(headline,),
                    label=f"E2b {kind}-macro LSTM", extra_references={"core_reference": e2b_info["core_reference"]})
    log(f"running {len(jobs)} language-model jobs")
    keys = list(jobs)
    outcomes = dict(zip(keys, run_jobs([jobs[k] for k in keys], s.workers, log), strict=True))

    def row(*key) -> dict:
        return outcomes[key]["rows"][headline]

    e2 = {kind: [row("e2", kind, i) for i in lm_seeds] for kind in ("micro", "core")}
    stride_rows = {1: e2["micro"][: s.stride_seeds]} | {st: [row("e3", st, i) for i in lm_seeds[: s.stride_seeds]]
                                                       for st in s.strides[1:]}
    transformer_rows = [row("e4", i) for i in lm_seeds[: s.transformer_seeds]]
    curve = {kind: outcomes[("e2", kind, 0)]["rows"] for kind in ("micro", "core")}
    generated = {kind: outcomes[("e2", kind, 0)]["generated"][headline] for kind in ("micro", "core")}
    crisp_row = row("e2", "crisp", 0) if ("e2", "crisp", 0) in outcomes else None

    msm_rows = {kind: run_msm_rows(base, kind, plan, seed, s.msm_replicates, log) for kind in ("micro", "core")}
    stride_msm = {1: msm_rows["micro"]} | {st: run_msm_rows(partitions[st], "micro", plan, seed, 1, log)
                                           for st in s.strides[1:]}
    its_md = implied_timescales(base.micro[: s.train_walkers], list(s.its_lags), s.its_count)
    its_lstm = implied_timescales(list(generated["micro"]), list(s.its_lags), s.its_count)

    claims, details = _claims(s, e2, stride_rows, transformer_rows, msm_rows, outcomes, e2b_info)
    if crisp_is_core:
        log("crisp-macro row skipped: every microstate is a core, so crisp and core tokens are identical")
    figures = study_figures(out, base=base, curve=curve, e2=e2, stride_rows=stride_rows, stride_msm=stride_msm,
                            msm_rows=msm_rows, transformer_rows=transformer_rows, crisp_row=crisp_row,
                            lags=list(s.its_lags), its_md=its_md, its_lstm=its_lstm, frames=frames,
                            generated=generated, settings=s)
    metrics = {
        "workers": s.workers, "frame_time": s.frame_time,
        "partition": {st: p.info for st, p in partitions.items()},
        "micro_E_per_seed": [r["E"] for r in e2["micro"]], "core_E_per_seed": [r["E"] for r in e2["core"]],
        "core_TV_per_seed": [r["TV"] for r in e2["core"]],
        "stride_E_per_seed": {st: [r["E"] for r in rows] for st, rows in stride_rows.items()},
        "stride_censored_total": {st: [r["censored_total"] for r in rows] for st, rows in stride_rows.items()},
        "msm_lag1_micro_E": msm_rows["micro"]["E_replicates"], "msm_lag1_core_E": msm_rows["core"]["E_replicates"],
        "analytic_msm": msm_rows["micro"]["analytic"],
        "stride_msm_E": {st: r["E"] for st, r in stride_msm.items()},
        "stride_analytic_msm_E": {st: {k: v["E"] for k, v in r["analytic"].items()} for st, r in stride_msm.items()},
        "budget_curve": {k: {b: r["E"] for b, r in v.items()} for k, v in curve.items()},
        "transformer_E_per_seed": [r["E"] for r in transformer_rows],
        "transformer_TV_per_seed": [r["TV"] for r in transformer_rows],
        "transformer_parameters": transformer_rows[0]["parameters"], "lstm_parameters": e2["micro"][0]["parameters"],
        "crisp_E": None if crisp_row is None else crisp_row["E"],
        "crisp_tokens_identical_to_core": crisp_is_core,
        "e1": {k[1]: {"E": row(*k)["E"], "TV": row(*k)["TV"]} for k in jobs if k[0] == "e1"},
        "e2b": None if e2b_info is None else {k: v for k, v in e2b_info.items() if k in ("theta_core", "noncore_fraction")},
        "implied_timescales": {"lags": list(s.its_lags), "md_micro": its_md, "lstm_micro_generated": its_lstm},
        "rows": [r for outcome in outcomes.values() for r in outcome["rows"].values()]
        + list(msm_rows.values()) + [stride_msm[st] for st in s.strides[1:]],
        "log": log_lines,
        "wall_seconds": round(time.perf_counter() - clock, 1),
    }
    notes = (
        f"{s.walkers} walkers x {s.frames} frames (d={s.fast_dims}, frame time {s.frame_time:g}); walkers "
        f"0-{s.train_walkers - 1} train, generation seeds come from the held-out walkers; k={s.microstates} k-means, "
        f"PCCA+ into {s.macrostates} sets (ARI vs true basins {base.info.get('adjusted_rand_index', float('nan')):.3f}), "
        f"core sets at membership >= {s.theta_core}. {s.chains} chains x {s.chain_tokens} tokens at stride 1 (same "
        f"physical time at coarser strides). E = mean |ln(MFPT_gen/MFPT_ref)| over macrostate pairs; the E2 micro "
        f"and core rows have {s.lm_seeds} LM seeds, each E3 stride {s.stride_seeds}, all at {headline} Adam steps"
        + (" (no crisp row: every microstate is a core, so crisp tokens equal core tokens)" if crisp_is_core else "")
        + f". Transformer: width {s.transformer_width}, "
        f"{s.transformer_layers} blocks ({transformer_rows[0]['parameters']} parameters vs the LSTM's "
        f"{e2['micro'][0]['parameters']}), {s.transformer_chains} chains, {s.transformer_seeds} seeds. Analytic MSM "
        "rows compare like with like (lag 1 vs the reference at this stride; lag tau vs the reference seen every "
        "tau tokens). MFPTs are stored in tokens and in physical time; censored passages are counted per row."
        + ("" if s.e1_rows else " E1 d=0 rows and E2b run at full scale only.")
    )
    return Measurements(claims=claims, metrics=metrics, figures=figures, notes=notes, details=details)


def _plan(s: MdlmSettings):
    from tenfold.mdlm.jobs import RowPlan

    return RowPlan(embedding_dim=s.embedding_dim, hidden_dim=s.hidden_dim, transformer_width=s.transformer_width,
                   transformer_layers=s.transformer_layers, transformer_heads=s.transformer_heads, window=s.window,
                   batch_size=s.batch_size, learning_rate=s.learning_rate, chains=s.chains,
                   chain_tokens=s.chain_tokens, min_chain_tokens=s.min_chain_tokens, seed_tokens=s.seed_tokens,
                   train_walkers=s.train_walkers, bootstrap=s.bootstrap, frame_time=s.frame_time)


def _values(rows: list[dict], key: str = "E") -> list[float]:
    return [float(r[key]) if r[key] is not None else float("nan") for r in rows]


def _finite_positive(values: list[float]) -> bool:
    return all(math.isfinite(v) and v > 0 for v in values)


def _seed_samples(values: list[float], labels: list[str], what: str) -> Samples | Unmeasured:
    if not all(math.isfinite(v) for v in values):
        return Unmeasured(f"{what} is undefined for a seed (no macrostate pair with completed passages): {values}")
    return Samples(values, labels)


def _ratio_samples(top: list[float], bottom: list[float], labels: list[str], what: str) -> Samples | Unmeasured:
    if not (_finite_positive(top) and _finite_positive(bottom)):
        return Unmeasured(f"{what}: an E is undefined or zero, so the ratio is not measured: {top} / {bottom}")
    return Samples.log_ratios(top, bottom, labels)


def _per_seed(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def _claims(s: MdlmSettings, e2: dict, stride_rows: dict, transformer_rows: list, msm_rows: dict, outcomes: dict,
            e2b_info: dict | None) -> tuple[dict[str, Any], dict[str, str]]:
    """One measurement per declared claim, over LM seeds (core decides them from CLAIMS)."""
    labels = [f"LM seed {i}" for i in range(s.lm_seeds)]
    micro_e, core_e = _values(e2["micro"]), _values(e2["core"])
    core_tv = _values(e2["core"], "TV")
    msm_e = [float(v) if v is not None else float("nan") for v in msm_rows["micro"]["E_replicates"]]
    micro_over_core = _ratio_samples(micro_e, core_e, labels, "micro E / core E")
    claims: dict[str, Any] = {
        "C2_core_E": _seed_samples(core_e, labels, "core-macro E"),
        "C2_micro_over_core": micro_over_core,
        "C2_micro_E": _seed_samples(micro_e, labels, "micro E"),
        "C2_core_TV": _seed_samples(core_tv, labels, "core-macro TV"),
        "C2_msm_E": _seed_samples(msm_e, [f"MSM simulation {i}" for i in range(len(msm_e))], "MSM(lag 1) E"),
        "C1_fine_partition": micro_over_core,
    }
    details = {
        "C2_core_E": f"per seed {_per_seed(core_e)}",
        "C2_micro_over_core": f"micro {_per_seed(micro_e)} / core {_per_seed(core_e)}",
        "C2_micro_E": f"per seed {_per_seed(micro_e)}",
        "C2_core_TV": f"per seed {_per_seed(core_tv)}",
        "C2_msm_E": f"per simulation {_per_seed(msm_e)}",
        "C1_fine_partition": "the same per-seed ratios as C2_micro_over_core (d=2, k=100)",
    }

    stride_e = {st: _values(rows) for st, rows in stride_rows.items()}
    if not all(_finite_positive(v) for v in stride_e.values()):
        claims["C3_stride"] = Unmeasured(f"an E of the stride sweep is undefined or zero: {stride_e}")
    else:
        means = {st: float(np.mean(v)) for st, v in stride_e.items()}
        worst, best = max(means, key=means.get), min(means, key=means.get)
        claims["C3_stride"] = _ratio_samples(stride_e[worst], stride_e[best], labels[: s.stride_seeds],
                                             "E worst / E best stride")
        details["C3_stride"] = (f"worst stride {worst} (E {_per_seed(stride_e[worst])}) / best stride {best} "
                                f"(E {_per_seed(stride_e[best])}); mean E by stride "
                                + ", ".join(f"{st}: {m:.3f}" for st, m in means.items()))

    transformer_e = _values(transformer_rows)
    paired = micro_e[: len(transformer_e)]
    if len(transformer_e) < 3:
        claims["C4_transformer"] = Unmeasured(f"{len(transformer_e)} Transformer seeds < 3 needed for an interval")
    elif not (all(math.isfinite(v) for v in transformer_e + paired)):
        claims["C4_transformer"] = Unmeasured(f"an E is undefined: Transformer {transformer_e}, LSTM {paired}")
    else:
        bounds = interval([a - b for a, b in zip(transformer_e, paired, strict=True)], "t")
        claims["C4_transformer"] = bool(bounds.high >= 0.0)
        details["C4_transformer"] = (f"E_tf - E_lstm = {bounds.mean:+.3f} [{bounds.low:+.3f}, {bounds.high:+.3f}]; "
                                     f"Transformer {_per_seed(transformer_e)} vs LSTM {_per_seed(paired)}")

    if e2b_info is None:
        claims["C2_recrossing"] = Unmeasured("E2b (the recrossing study) runs at full scale only")
    else:
        low, high = s.e2b_noncore_range
        fraction = e2b_info["noncore_fraction"]
        crisp = [outcomes[("e2b", "crisp", i)]["rows"][s.headline_budget]["E_vs_core_reference"] for i in range(s.lm_seeds)]
        core = [outcomes[("e2b", "core", i)]["rows"][s.headline_budget]["E_vs_core_reference"] for i in range(s.lm_seeds)]
        if not low <= fraction <= high:
            claims["C2_recrossing"] = Unmeasured(f"non-core frame fraction {fraction:.3f} is outside [{low}, {high}] "
                                                 f"at every theta_core tried")
        else:
            claims["C2_recrossing"] = _ratio_samples(core, crisp, labels, "core E / crisp E")
        details["C2_recrossing"] = (f"theta_core {e2b_info['theta_core']}, non-core {fraction:.3f}; core "
                                    f"{_per_seed(core)} / crisp {_per_seed(crisp)}")
    return claims, details


def _e1_jobs(s: MdlmSettings, plan, seed: int) -> dict[tuple, Any]:
    """E1 extras: micro tokens of a d=0 system (k=microstates), and ps-LSTM-like 4 nearest-centre bins."""
    from tenfold.mdlm.jobs import make_job
    from tenfold.mdlm.partition import cluster_microstates, nearest_centre_bins
    from tenfold.mdlm.simulation import BASIN_CENTRES, simulate, true_basins
    from tenfold.mdlm.study import bins_partition, build_partition

    walkers = list(simulate(s.walkers, s.frames, 0, steps_per_frame=s.steps_per_frame, dt=s.time_step, seed=seed + 1))
    micro, centres = cluster_microstates(walkers, s.microstates, seed=seed, max_fit_frames=s.kmeans_frames)
    part = build_partition(micro, s.microstates, train_walkers=s.train_walkers, n_macro=s.macrostates,
                           theta_core=s.theta_core, pcca_lag_frames=s.pcca_lag_frames, order_by=centres[:, 0],
                           truth=[true_basins(w[:, 0]) for w in walkers])
    bins = bins_partition(nearest_centre_bins(walkers, BASIN_CENTRES), len(BASIN_CENTRES), min_dwell=s.e1_min_dwell)
    return {("e1", "d0_k100"): make_job(part, "micro", plan, seed, lm_seed=0, budgets=(s.headline_budget,),
                                        label="micro (x only) LSTM"),
            ("e1", "d0_bins4"): make_job(bins, "bins", plan, seed, lm_seed=0, budgets=(s.headline_budget,))}


def _prepare_e2b(s: MdlmSettings, seed: int, log) -> dict:
    """Recrossing data: a fine saving interval, many microstates, theta_core raised until enough frames are non-core."""
    from tenfold.core.errors import BadInputError
    from tenfold.mdlm.partition import cluster_microstates, pcca_lumping
    from tenfold.mdlm.simulation import simulate, true_basins
    from tenfold.mdlm.study import Reference, build_partition

    walkers = list(simulate(s.walkers, s.e2b_frames, s.fast_dims, steps_per_frame=s.e2b_steps_per_frame,
                            dt=s.time_step, seed=seed + 2))
    micro, centres = cluster_microstates(walkers, s.e2b_microstates, seed=seed, max_fit_frames=s.e2b_kmeans_frames)
    part = build_partition(micro, s.e2b_microstates, train_walkers=s.train_walkers, n_macro=s.macrostates,
                           theta_core=s.e2b_theta_candidates[0], order_by=centres[:, 0],
                           truth=[true_basins(w[:, 0]) for w in walkers], pcca_lag_frames=s.e2b_pcca_lag_frames)
    theta, fraction = part.macro_map.theta_core, part.info["noncore_fraction"]
    for candidate in s.e2b_theta_candidates:
        try:
            lumped = pcca_lumping(part.fit, part.n_macro, theta_core=candidate, order_by=centres[:, 0])
        except BadInputError:  # a core set emptied: keep the last valid theta
            break
        theta, fraction, part.macro_map = candidate, lumped.noncore_fraction(part.micro), lumped
        if fraction >= s.e2b_noncore_range[0]:
            break
    log(f"E2b: theta_core {theta} leaves {fraction:.3f} non-core frames")
    return {"partition": part, "theta_core": theta, "noncore_fraction": fraction,
            "core_reference": Reference.from_macro(part.reference("core"), part.n_macro)}
