"""The measurements behind the cpm experiment, as functions that spawned worker processes can import.

- :func:`train_lm_job`: one pre-training run (the KI teacher, a student from scratch, or a student with KI).
- :func:`prompt_seed_job`: one seed of the pair task: full fine-tuning, prompt tuning at several placements,
  two-stage P+F and PPT, all on the same frozen backbone, training pairs and test pairs.
- :func:`step_cost`: FLOPs and interleaved CPU time of one prompt-tuning step against one fine-tuning step.
- :func:`growth_check`: dense -> MoE inheritance is function-preserving; offloaded logits equal resident ones.
- :func:`schedule_stalls`: the InfMoE rule against index order in the exact pipeline simulator.
- :func:`engine_timings`: the offload engine's wall time, naive vs overlap and rule vs index, in ABBA pairs.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tenfold.cpm.transformer import ByteLM, LMConfig


def training_cost(shape: tuple[int, int, int], tokens_per_step: int, steps: float) -> float:
    """Rough FLOPs of ``steps`` training steps (6 x weights x tokens), to order jobs so workers finish together."""
    layers, d_model, d_ff = shape
    return 6.0 * layers * d_model * (4 * d_model + 3 * d_ff) * tokens_per_step * steps


def make_lm(shape: tuple[int, int, int], max_len: int) -> ByteLM:
    """A causal byte LM of (layers, d_model, d_ff) with 4 heads."""
    layers, d_model, d_ff = shape
    return ByteLM(LMConfig(d_model=d_model, n_layers=layers, n_heads=4, d_ff=d_ff, max_len=max_len))


# ---------------------------------------------------------------------------------------------------------------
# Knowledge inheritance


def student_stream(items: list[Any], share: float, seed: int) -> np.ndarray:
    """The token stream of a seeded random ``share`` of the documents (at least two): a student's data budget."""
    from tenfold.cpm.corpus import token_stream

    rng = np.random.default_rng(10_000 + seed)
    count = max(2, round(share * len(items)))
    chosen = sorted(rng.choice(len(items), size=min(count, len(items)), replace=False).tolist())
    return token_stream([items[i].text for i in chosen])


@dataclass(frozen=True)
class LMJob:
    """One pre-training run: ``kind`` is teacher, scratch or ki (the latter needs the teacher's weights)."""

    kind: str
    seed: int
    shape: tuple[int, int, int]
    steps: int
    seq_len: int
    max_len: int
    batch_size: int
    lr: float
    eval_every: int
    train: np.ndarray
    val: list[np.ndarray]
    teacher_shape: tuple[int, int, int] | None = None
    teacher_state: dict[str, torch.Tensor] | None = None
    t_ki: int = 0
    tau: float = 1.0

    @property
    def cost(self) -> float:
        """Rough FLOPs, plus the teacher's forward for KI (for scheduling only)."""
        tokens = self.batch_size * self.seq_len
        cost = training_cost(self.shape, tokens, self.steps)
        if self.kind == "ki" and self.teacher_shape is not None:
            cost += training_cost(self.teacher_shape, tokens, self.t_ki) / 3
        return cost


def train_lm_job(job: LMJob) -> dict[str, Any]:
    """Train one LM on ``job.train`` (data order fixed by the seed); returns its curve and final weights."""
    from tenfold.cpm.ki import KnowledgeInheritance
    from tenfold.cpm.pretrain import pretrain

    inheritance = None
    if job.kind == "ki":
        assert job.teacher_shape is not None and job.teacher_state is not None
        teacher = make_lm(job.teacher_shape, job.max_len)
        teacher.load_state_dict(job.teacher_state)
        inheritance = KnowledgeInheritance(teacher, job.t_ki, total_steps=job.steps, tau=job.tau)
    torch.manual_seed(job.seed)  # the same student initialisation in both arms of a seed
    model = make_lm(job.shape, job.max_len)
    history = pretrain(model, job.train, steps=job.steps, seq_len=job.seq_len, batch_size=job.batch_size, lr=job.lr,
                       seed=job.seed, inheritance=inheritance, val_batches=job.val, eval_every=job.eval_every)
    return {"kind": job.kind, "seed": job.seed, "eval_steps": history.eval_steps, "val_losses": history.val_losses,
            "seconds": history.seconds, "cpu_seconds": history.cpu_seconds,
            "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}


# ---------------------------------------------------------------------------------------------------------------
# Prompt tuning


@dataclass(frozen=True)
class PromptJob:
    """One seed of the pair task on one frozen backbone (its weights travel with the job)."""

    seed: int
    backbone_shape: tuple[int, int, int]
    max_len: int
    backbone_state: dict[str, torch.Tensor]
    train_items: list[Any]
    test_items: list[Any]
    pretext_texts: list[str]
    train_pairs: int
    test_pairs: int
    num_prompts: int
    placements: tuple[str, ...]
    stage1_placement: str
    stage1_steps: int
    stage1_lr: float
    ft_steps: int
    ft_lr: float
    pt_steps: int
    pt_lr: float
    ppt_steps: int
    batch_size: int

    @property
    def cost(self) -> float:
        """Rough FLOPs of the seed's runs (a prompt-tuning step costs about as much time as a fine-tuning one)."""
        steps = 2 * self.ft_steps + self.stage1_steps + self.pt_steps * (len(self.placements) + 1) + self.ppt_steps
        return training_cost(self.backbone_shape, self.batch_size * min(self.max_len, 64), steps)


def prompt_backbone(shape: tuple[int, int, int], max_len: int, state: dict[str, torch.Tensor]) -> ByteLM:
    model = make_lm(shape, max_len)
    model.load_state_dict(state)
    return model.eval()


def prompt_seed_job(job: PromptJob) -> dict[str, Any]:
    """FT, PT per placement, P+F (stage 1: prompt tuning at ``stage1_placement``) and PPT on one seed."""
    from tenfold.cpm.prompt import PromptTuner
    from tenfold.cpm.tasks import pair_task, pretext_pairs

    backbone = prompt_backbone(job.backbone_shape, job.max_len, job.backbone_state)
    train = pair_task(job.train_items, job.train_pairs, seed=job.seed)
    test = pair_task(job.test_items, job.test_pairs, seed=job.seed + 1)
    common = {"batch_size": job.batch_size, "seed": job.seed, "scoring": "restricted"}
    arms: dict[str, dict[str, float]] = {}

    def record(name: str, tuner: PromptTuner) -> PromptTuner:
        cost = tuner.cost_
        arms[name] = {"accuracy": tuner.score(test), "trainable": cost.trainable_params,
                      "fraction": cost.trainable_fraction, "optimizer_bytes": cost.optimizer_state_bytes,
                      "gradient_bytes": cost.gradient_bytes, "sec_per_step": cost.seconds_per_step}
        return tuner

    record("ft", PromptTuner(backbone, num_prompts=0, train="model", lr=job.ft_lr, steps=job.ft_steps,
                             **common).fit(train))
    for placement in job.placements:
        record(f"pt:{placement}", PromptTuner(backbone, num_prompts=job.num_prompts, positions=placement,
                                              lr=job.pt_lr, steps=job.pt_steps, **common).fit(train))
    # two-stage P+F: prompt tuning, then model and prompt tuned together exactly like FT (same lr, steps, batches)
    stage1 = PromptTuner(backbone, num_prompts=job.num_prompts, positions=job.stage1_placement, lr=job.stage1_lr,
                         steps=job.stage1_steps, **common).fit(train)
    arms["p+f:stage1"] = {"accuracy": stage1.score(test), "prompt_norm": float(stage1.prompt.norm(dim=1).mean())}
    record("p+f", PromptTuner(backbone, num_prompts=job.num_prompts, positions=job.stage1_placement, train="both",
                              lr=job.ft_lr, steps=job.ft_steps, **common).fit(train, init_prompt=stage1.prompt))
    # PPT: the prompt is first trained on self-supervised pairs in the task's format (unlabelled train text)
    pretext = pretext_pairs(job.pretext_texts, job.train_pairs, seed=job.seed + 2)
    ppt = PromptTuner(backbone, num_prompts=job.num_prompts, positions=job.stage1_placement, lr=job.pt_lr,
                      steps=job.ppt_steps, **common).fit(pretext)
    record("ppt", PromptTuner(backbone, num_prompts=job.num_prompts, positions=job.stage1_placement, lr=job.pt_lr,
                              steps=job.pt_steps, **common).fit(train, init_prompt=ppt.prompt))
    return {"seed": job.seed, "arms": arms}


def step_cost(backbone: ByteLM, train_items: list[Any], *, num_prompts: int, placement: str, batch_size: int,
              pt_lr: float, ft_lr: float, pairs: int, seed: int) -> dict[str, Any]:
    """FLOPs (torch's count, deterministic) and interleaved CPU seconds of one PT step vs one FT step."""
    from tenfold.core.timing import count_flops, interleaved_timing
    from tenfold.cpm.prompt import PromptTuner
    from tenfold.cpm.tasks import pair_task

    data = pair_task(train_items, batch_size, seed=seed)
    common = {"batch_size": batch_size, "seed": seed, "scoring": "restricted"}
    pt = PromptTuner(backbone, num_prompts=num_prompts, positions=placement, lr=pt_lr, **common).step_function(data)
    ft = PromptTuner(backbone, num_prompts=0, train="model", lr=ft_lr, **common).step_function(data)
    flops_pt, flops_ft = count_flops(pt), count_flops(ft)
    timing = interleaved_timing(pt, ft, pairs=pairs, warmup=2, clock="process")
    return {"flops_pt": flops_pt, "flops_ft": flops_ft, "timing": timing}


# ---------------------------------------------------------------------------------------------------------------
# MoE growth and the offload engine


def growth_check(backbone: ByteLM, train_stream: np.ndarray, *, experts: int, steps: int, seq_len: int,
                 batch_size: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Dense -> ``experts`` copies (function-preserving), a few MoE steps so experts diverge, then offloaded ==
    resident logits bitwise, with the pool never above its budget."""
    from tenfold.cpm.corpus import LMBatches
    from tenfold.cpm.growth import dense_to_moe, export_experts
    from tenfold.cpm.offload import ExpertStore, OffloadEngine, ResidentExperts, with_expert_runner
    from tenfold.cpm.pretrain import pretrain

    probe = torch.from_numpy(LMBatches(train_stream, seq_len, 8, seed + 7).next()[:, :-1])
    dense = copy.deepcopy(backbone).eval()
    with torch.no_grad():
        dense_logits = dense(probe)
    moe = dense_to_moe(copy.deepcopy(dense), experts, mix="none", seed=seed)
    with torch.no_grad():
        moe_logits = moe(probe)
    preserve_diff = float((moe_logits - dense_logits).abs().max())
    same_argmax = bool(torch.equal(moe_logits.argmax(-1), dense_logits.argmax(-1)))
    pretrain(moe, train_stream, steps=steps, seq_len=seq_len, batch_size=batch_size, seed=seed)
    moe.eval()
    export_experts(moe, workdir / "lm_experts")
    store = ExpertStore(workdir / "lm_experts")
    with torch.no_grad():
        resident = with_expert_runner(moe, ResidentExperts(store))(probe)
        with OffloadEngine(store, 2 * store.expert_bytes, schedule="infmoe") as engine:
            offloaded = with_expert_runner(moe, engine)(probe)
            within_budget = engine.pool.peak_bytes <= engine.pool.budget_bytes
        plain = moe(probe)
    first = moe.blocks[0].ffn
    return {
        "moe_preserve_max_abs_diff": preserve_diff, "moe_preserve_same_argmax": same_argmax,
        "moe_offloaded_bitwise_equal": bool(torch.equal(resident, offloaded)), "moe_within_budget": within_budget,
        "moe_offloaded_vs_plain_max_abs_diff": float((plain - offloaded).abs().max()),
        "moe_experts_diverged": bool((first.wi0[0] - first.wi0[1]).abs().max() > 0),
    }


@dataclass
class StallSamples:
    """Simulated stall (units of beta) per routing batch, for each schedule and slot count."""

    index: dict[int, list[float]] = field(default_factory=dict)
    rule: dict[int, list[float]] = field(default_factory=dict)
    best_of_two: dict[int, list[float]] = field(default_factory=dict)


def schedule_stalls(slot_counts: tuple[int, ...], *, batches: int, experts: int, tokens: int, zipf_s: float,
                    seed: int) -> StallSamples:
    """The exact simulator on ``batches`` Zipf(s)-routed batches with beta = mean alpha of the non-empty experts:
    the InfMoE rule alone, index order and the engine's best-of-two option, at every K."""
    from tenfold.cpm.schedule import best_of_two_order, index_order, infmoe_greedy_order, simulate

    rng = np.random.default_rng(seed)
    probabilities = 1.0 / np.arange(1, experts + 1) ** zipf_s
    probabilities /= probabilities.sum()
    stalls = StallSamples({k: [] for k in slot_counts}, {k: [] for k in slot_counts}, {k: [] for k in slot_counts})
    for _ in range(batches):
        counts = np.bincount(rng.choice(experts, size=tokens, p=probabilities), minlength=experts)
        alphas = [float(a) for a in rng.permutation(counts)]
        beta = float(np.mean([a for a in alphas if a > 0]))
        for k in slot_counts:
            stalls.index[k].append(simulate(alphas, index_order(alphas), beta, k).stall / beta)
            stalls.rule[k].append(simulate(alphas, infmoe_greedy_order(alphas, beta, k), beta, k).stall / beta)
            stalls.best_of_two[k].append(simulate(alphas, best_of_two_order(alphas, beta, k), beta, k).stall / beta)
    return stalls


def engine_timings(workdir: Path, *, stack: tuple[int, int, int, int], tokens: int, zipf_s: float,
                   slot_counts: tuple[int, ...], pairs: int, seed: int, device: str = "cpu") -> dict[str, Any]:
    """Offloaded vs resident on a synthetic stack: exactness on every engine, then wall-clock ABBA pairs of
    naive vs overlap (K=2, index order) on uniform routing and InfMoE rule vs index order at every K on skewed
    routing. The link is emulated by sleeping so that loading one expert takes as long as computing an average
    one (beta ~ alpha), which keeps the emulation honest under CPU contention."""
    from tenfold.core.timing import interleaved_timing
    from tenfold.cpm.offload import ExpertStore, OffloadEngine, ResidentExperts
    from tenfold.cpm.schedule import index_order, infmoe_greedy_order, simulate
    from tenfold.cpm.synthetic import create_expert_stack, routed_tokens

    layers, experts, d_model, d_ff = stack
    create_expert_stack(workdir / "stack", num_layers=layers, num_experts=experts, d_model=d_model, d_ff=d_ff,
                        seed=seed)
    store = ExpertStore(workdir / "stack")
    resident = ResidentExperts(store, device=device)
    uniform = routed_tokens(store.centroids(0), tokens, zipf_s=None, seed=seed)
    skewed = routed_tokens(store.centroids(0), tokens, zipf_s=zipf_s, seed=seed)
    out: dict[str, Any] = {"expert_bytes": store.expert_bytes, "device": device}
    with torch.no_grad():
        reference_uniform = resident.forward(uniform)  # also the warm-up
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            resident.forward(uniform)
            timings.append(time.perf_counter() - started)
        per_expert = float(np.median(timings)) / (layers * experts)
        link = store.expert_bytes / per_expert
        out["link_bytes_per_s"] = link
        reference_skewed = resident.forward(skewed)
        engines: dict[str, OffloadEngine] = {}
        try:
            engines["naive"] = OffloadEngine(store, store.expert_bytes, prefetch=False, link_bytes_per_s=link,
                                             device=device)
            for k in slot_counts:
                for schedule in ("index", "infmoe"):
                    engines[f"{schedule}_k{k}"] = OffloadEngine(store, k * store.expert_bytes, schedule=schedule,
                                                                link_bytes_per_s=link, device=device)
            equal = True
            for engine in engines.values():
                for x, reference in ((uniform, reference_uniform), (skewed, reference_skewed)):
                    equal &= bool(torch.equal(engine.forward(x), reference))
                equal &= engine.pool.peak_bytes <= engine.pool.budget_bytes
            out["bitwise_equal"] = equal
            overlap = engines[f"index_k{min(slot_counts)}"]
            out["overlap_timing"] = interleaved_timing(lambda: engines["naive"].forward(uniform),
                                                       lambda: overlap.forward(uniform), pairs=pairs, clock="wall")
            for k in slot_counts:
                rule, index = engines[f"infmoe_k{k}"], engines[f"index_k{k}"]
                out[f"rule_timing_k{k}"] = interleaved_timing(lambda r=rule: r.forward(skewed),
                                                              lambda i=index: i.forward(skewed), pairs=pairs,
                                                              clock="wall")
                out[f"rule_order_k{k}"] = rule.stats.orders[-1]
                out[f"index_order_k{k}"] = index.stats.orders[-1]
                # what the simulator predicts for this very batch (layer-0 routing) under the engine's cost model
                counts = torch.bincount(torch.argmax(skewed @ store.centroids(0).T, dim=1), minlength=experts)
                alphas = [c * rule.alpha_per_token for c in counts.tolist()]
                out[f"batch_sim_stall_k{k}"] = {
                    "rule": simulate(alphas, infmoe_greedy_order(alphas, rule.beta, k), rule.beta, k).stall / rule.beta,
                    "index": simulate(alphas, index_order(alphas), rule.beta, k).stall / rule.beta,
                    "alpha_mean_over_beta": float(np.mean([a for a in alphas if a > 0])) / rule.beta,
                }
        finally:
            for engine in engines.values():
                engine.close()
    return out
