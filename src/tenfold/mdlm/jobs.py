"""The study's rows as independent jobs: each trains one language model, samples it from held-out MD
seeds and scores its kinetics against the reference made by the same map; plus the Markov-model rows
(an MSM at lag 1 simulated on the same tokens, and analytic MSM MFPTs compared like for like).

A job holds plain arrays and numbers only, so it pickles into a spawned worker (core.run_parallel).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tenfold.mdlm.study import Reference, StatePartition

ROW_LABELS = {"micro": "micro (x,y1,y2) LSTM", "core": "core-macro (TBA) LSTM", "crisp": "crisp-macro LSTM",
              "bins": "ps-LSTM-like 1-D bins LSTM"}


@dataclass(frozen=True)
class RowPlan:
    """What every row of one study shares: model sizes, generation and scoring sizes, time units."""

    embedding_dim: int  # LSTM token embedding
    hidden_dim: int  # LSTM hidden size
    transformer_width: int  # Transformer d_model
    transformer_layers: int  # Transformer blocks
    transformer_heads: int  # attention heads
    window: int  # training window (tokens); the Transformer's context
    batch_size: int  # windows per Adam step
    learning_rate: float  # Adam learning rate
    chains: int  # generated chains per LSTM row
    chain_tokens: int  # tokens per chain at stride 1 (same physical time at coarser strides)
    min_chain_tokens: int  # floor on tokens per chain at coarse strides
    seed_tokens: int  # held-out MD tokens that seed each chain
    train_walkers: int  # walkers 0..train_walkers-1 train; the rest seed generation
    bootstrap: int  # resamples of the chains for the per-row E interval
    frame_time: float  # physical time between saved MD frames

    def tokens_per_chain(self, stride: int) -> int:
        """Tokens per generated chain: the same physical time at every stride, at least min_chain_tokens."""
        return max(self.chain_tokens // stride, min(self.chain_tokens, self.min_chain_tokens))


@dataclass
class LanguageModelJob:
    """One language-model row: everything a worker process needs."""

    label: str
    kind: str
    architecture: str
    stride: int
    lm_seed: int
    budgets: tuple[int, ...]
    train_tokens: list
    n_states: int
    seeds: np.ndarray
    n_tokens: int
    reference: Reference
    n_macro: int
    core_map: np.ndarray | None  # micro tokens are scored through the core-set (TBA) map
    training_seed: int
    estimator: dict  # keyword arguments of StateLanguageModel
    bootstrap: int
    token_time: float  # physical time per token (stride x frame time)
    extra_references: dict = field(default_factory=dict)
    keep_generated: bool = False

    @property
    def cost(self) -> float:
        """Rough relative cost, so run_parallel starts the longest jobs first."""
        factor = 3.0 if self.architecture == "transformer" else 1.0
        return max(self.budgets) * factor + 300.0 * len(self.budgets) * self.n_tokens * len(self.seeds) / 1.28e6


def run_language_model_job(job: LanguageModelJob) -> dict:
    """Train once to max(budgets); generate from held-out seeds and score at every budget."""
    from tenfold.mdlm.language_model import StateLanguageModel
    from tenfold.mdlm.partition import transition_based_assignment
    from tenfold.mdlm.study import score

    estimator = StateLanguageModel(job.architecture, steps=max(job.budgets), seed=job.training_seed,
                                   n_states=job.n_states, **job.estimator)
    rows: dict[int, dict] = {}
    generated_at: dict[int, np.ndarray] = {}
    clock = time.perf_counter()

    def evaluate(step: int, model) -> None:
        start = time.perf_counter()
        generated = model.generate(job.seeds, job.n_tokens, seed=job.training_seed + step)
        gen_seconds = time.perf_counter() - start
        macro = list(generated)
        if job.core_map is not None:
            macro = [transition_based_assignment(job.core_map[g]) for g in generated]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = score(macro, job.reference, job.n_macro, bootstrap=job.bootstrap, seed=job.lm_seed)
            extra = {f"E_vs_{name}": score(macro, ref, job.n_macro).error for name, ref in job.extra_references.items()}
        rows[step] = {"row": job.label, "tokens": job.kind, "model": job.architecture, "stride": job.stride,
                      "budget": step, "lm_seed": job.lm_seed, "chains": int(job.seeds.shape[0]),
                      "chain_tokens": job.n_tokens, "parameters": model.n_parameters(),
                      "generate_seconds": round(gen_seconds, 2),
                      "final_loss": model.history.losses[-1] if model.history.losses else None,
                      **result.summary(), **extra, **_physical(result.mfpt, job.reference, job.token_time),
                      "reference_populations": job.reference.populations}
        if job.keep_generated:
            generated_at[step] = generated

    estimator.fit(job.train_tokens, snapshots=tuple(job.budgets), on_snapshot=evaluate)
    for row in rows.values():
        row["job_wall_seconds"] = round(time.perf_counter() - clock, 1)
    return {"rows": rows, "generated": generated_at}


def _physical(mfpt_tokens: np.ndarray, reference: Reference, token_time: float) -> dict:
    """MFPTs in tokens and in physical time (tokens x stride x frame time), generated and reference."""
    return {"reference_mfpt": reference.mfpt, "token_time": token_time,
            "mfpt_time": np.asarray(mfpt_tokens) * token_time, "reference_mfpt_time": reference.mfpt * token_time,
            "reference_censored_passages": reference.censored}


def run_jobs(jobs: list[LanguageModelJob], workers: int | None, log: Callable[[str], None]) -> list[dict]:
    """Run jobs in single-threaded worker processes (longest first); results in the jobs' order."""
    from tenfold.core.parallel import run_parallel

    def report(index: int, outcome: dict) -> None:
        job = jobs[index]
        for step, row in outcome["rows"].items():
            log(f"{job.label} stride {job.stride} budget {step} seed {job.lm_seed}: E={row['E']:.3f} "
                f"ratio={row['median_ratio']:.2f} TV={row['TV']:.3f} censored={row['censored_total']} "
                f"({row['job_wall_seconds']}s)")

    return run_parallel(run_language_model_job, jobs, workers=workers, cost=lambda job: job.cost, on_done=report)


def make_job(partition: StatePartition, kind: str, plan: RowPlan, seed: int, *, lm_seed: int,
             budgets: tuple[int, ...], architecture: str = "lstm", chains: int | None = None, label: str = "",
             keep_generated: bool = False, extra_references: dict | None = None) -> LanguageModelJob:
    """Build the job for one row: training tokens from the training walkers, seeds from held-out ones."""
    from tenfold.mdlm.study import Reference, held_out_seeds

    tokens = partition.tokens(kind)
    held = list(range(plan.train_walkers, len(tokens)))
    seeds = held_out_seeds(tokens, held, chains or plan.chains, plan.seed_tokens, seed=seed + 7919 * lm_seed)
    if architecture == "lstm":
        estimator = {"embedding_dim": plan.embedding_dim, "hidden_dim": plan.hidden_dim, "n_layers": 1}
    else:
        estimator = {"hidden_dim": plan.transformer_width, "n_layers": plan.transformer_layers,
                     "n_heads": plan.transformer_heads}
    estimator |= {"window": plan.window, "batch_size": plan.batch_size, "lr": plan.learning_rate}
    return LanguageModelJob(
        label=label or ROW_LABELS[kind], kind=kind, architecture=architecture, stride=partition.stride,
        lm_seed=lm_seed, budgets=tuple(budgets), train_tokens=tokens[: plan.train_walkers],
        n_states=partition.n_tokens(kind), seeds=seeds, n_tokens=plan.tokens_per_chain(partition.stride),
        reference=Reference.from_macro(partition.reference(kind), partition.n_macro), n_macro=partition.n_macro,
        core_map=partition.macro_map.core if kind == "micro" else None, training_seed=seed * 1000 + lm_seed,
        estimator=estimator, bootstrap=plan.bootstrap, token_time=partition.stride * plan.frame_time,
        extra_references=extra_references or {}, keep_generated=keep_generated)


def run_msm_rows(partition: StatePartition, kind: str, plan: RowPlan, seed: int, replicates: int,
                 log: Callable[[str], None]) -> dict[str, Any]:
    """MSM(lag 1 token) fitted on the training tokens and simulated from held-out seeds, ``replicates``
    times (each with its own seeds and sampling); for micro tokens also the analytic MSM MFPT rows."""
    from tenfold.mdlm.study import Reference, held_out_seeds, score, simulate_msm

    tokens = partition.tokens(kind)
    reference = Reference.from_macro(partition.reference(kind), partition.n_macro)
    held = list(range(plan.train_walkers, len(tokens)))
    n_tokens = plan.tokens_per_chain(partition.stride)
    token_time = partition.stride * plan.frame_time
    replicate_rows = []
    for replicate in range(replicates):
        replicate_seed = seed + 104_729 * replicate
        seeds = held_out_seeds(tokens, held, plan.chains, plan.seed_tokens, seed=replicate_seed)
        chains = simulate_msm(tokens[: plan.train_walkers], partition.n_tokens(kind), seeds, n_tokens,
                              seed=replicate_seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = score(partition.to_macro(kind, chains), reference, partition.n_macro,
                           bootstrap=plan.bootstrap if replicate == 0 else 0, seed=replicate_seed)
        replicate_rows.append({"replicate": replicate, **result.summary(),
                               **_physical(result.mfpt, reference, token_time)})
    first = replicate_rows[0]
    row: dict[str, Any] = {
        "row": f"MSM(lag 1) on {kind} tokens", "tokens": kind, "model": "msm", "stride": partition.stride,
        "chain_tokens": n_tokens, "chains": plan.chains, **first,
        "E_replicates": [r["E"] for r in replicate_rows], "TV_replicates": [r["TV"] for r in replicate_rows],
    }
    if kind == "micro" and partition.macro_map is not None:
        row["analytic"] = analytic_msm_rows(partition, plan)
    log(f"{row['row']} stride {partition.stride}: E={row['E_replicates']} "
        + (f"analytic lag-1 E={row['analytic']['lag_1']['E']:.3f}, lag-tau E={row['analytic']['lag_tau']['E']:.3f}"
           if "analytic" in row else ""))
    return row


def analytic_msm_rows(partition: StatePartition, plan: RowPlan) -> dict[str, dict]:
    """Analytic MSM MFPTs between the core sets, each against the reference its lag can see.

    ``lag_1``: an MSM at lag 1 token against the reference at this stride. ``lag_tau``: the PCCA+ MSM
    (lag tau tokens) against the reference rebuilt from the micro tokens seen every tau tokens (the
    same core-set map), so neither row mixes the lag mismatch into E.
    """
    from tenfold.mdlm.kinetics import mfpt_error, msm_mfpt_between_sets
    from tenfold.mdlm.partition import fit_msm
    from tenfold.mdlm.study import Reference

    n_macro = partition.n_macro
    sets = [np.flatnonzero(partition.macro_map.core == j) for j in range(n_macro)]
    train = partition.micro[: plan.train_walkers]
    token_time = partition.stride * plan.frame_time
    rows = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lag_one = fit_msm(train, 1, n_states=partition.n_micro)
    for name, fit in (("lag_1", lag_one), ("lag_tau", partition.fit)):
        tau = int(fit.lag)
        reference = Reference.from_macro(partition.macro("core", [d[::tau] for d in partition.micro]), n_macro)
        reference_mfpt = reference.mfpt * tau  # in tokens of this stride
        analytic = msm_mfpt_between_sets(fit, sets)  # deeptime gives tokens (lag steps x lag)
        error = mfpt_error(analytic, reference_mfpt)
        rows[name] = {"lag_tokens": tau, "reference_seen_every_tokens": tau, "E": error.error,
                      "median_ratio": error.median_ratio, "n_pairs": error.n_pairs,
                      "mfpt_time": analytic * token_time, "reference_mfpt_time": reference_mfpt * token_time,
                      "reference_censored_passages": reference.censored}
    return rows
