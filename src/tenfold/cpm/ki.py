"""Knowledge inheritance (Qin et al. 2021, used by CPM-2): train a bigger student with help from a smaller teacher.

    L(t) = (1 - a_t) * L_self(S; x) + a_t * tau^2 * KL(softmax(z_T / tau) || softmax(z_S / tau))
    a_t  = max(0, 1 - t / T_KI)        ("linear"; "distil_then_mlm" is 1 before T_KI, 0 after)

Both terms are averaged over the same supervised positions. The teacher is frozen (eval + no_grad).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tenfold.core.errors import BadConfigError, BadInputError

SCHEDULES = ("linear", "distil_then_mlm")


def inheritance_weight(step: int, t_ki: int, schedule: str = "linear") -> float:
    """a_t: the weight of the KI term at optimiser step ``step`` (0-based)."""
    if t_ki <= 0:
        raise BadConfigError(f"T_KI={t_ki}; the inheritance phase needs at least one step")
    if schedule == "linear":
        return max(0.0, 1.0 - step / t_ki)
    if schedule == "distil_then_mlm":
        return 1.0 if step < t_ki else 0.0
    raise BadConfigError(f"unknown KI schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")


def ki_divergence(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    mask: torch.Tensor | None = None,
    tau: float = 1.0,
    teacher_vocab: torch.Tensor | None = None,
) -> torch.Tensor:
    """tau^2 * mean over supervised positions of KL(teacher || student) at temperature tau.

    Logits are [..., V]. ``mask`` (bool, [...]) marks the supervised positions. ``teacher_vocab`` (long [V_T])
    maps teacher vocabulary entries to student ids when the student's vocabulary is a superset: the student's
    logits are restricted to that slice and renormalised. Computed in fp32 so fp16 logits cannot overflow.
    """
    if tau <= 0:
        raise BadConfigError(f"temperature tau={tau}; it must be > 0")
    if teacher_vocab is not None:
        student_logits = student_logits.index_select(-1, teacher_vocab.to(student_logits.device))
    if student_logits.shape != teacher_logits.shape:
        raise BadInputError(
            f"student logits {tuple(student_logits.shape)} and teacher logits {tuple(teacher_logits.shape)} differ; "
            "teacher and student must score the same positions over the same vocabulary "
            "(give teacher_vocab when the student's vocabulary extends the teacher's)"
        )
    log_p_student = F.log_softmax(student_logits.float() / tau, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / tau, dim=-1)
    per_position = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(-1)
    if mask is not None:
        if mask.shape != per_position.shape:
            raise BadInputError(f"mask shape {tuple(mask.shape)} does not match positions {tuple(per_position.shape)}")
        count = mask.sum().clamp_min(1)
        return tau**2 * (per_position * mask).sum() / count
    return tau**2 * per_position.mean()


def vocabulary_map(teacher_tokens: list[bytes] | list[str], student_tokens: list[bytes] | list[str]) -> torch.Tensor:
    """Student ids of the teacher's tokens, in teacher order; errors unless the student's table is a superset."""
    index = {tok: i for i, tok in enumerate(student_tokens)}
    missing = [t for t in teacher_tokens if t not in index]
    if missing:
        raise BadInputError(
            f"{len(missing)} teacher tokens (e.g. {missing[:3]!r}) are not in the student's vocabulary; KI needs a "
            "shared vocabulary or a student vocabulary that extends the teacher's"
        )
    return torch.tensor([index[t] for t in teacher_tokens], dtype=torch.long)


def _num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class KnowledgeInheritance:
    """A loss wrapper around any model pair with the same scored positions: call it with both models' inputs.

    ``forward_fn(model, batch) -> (logits [..., V], targets [...])`` runs a model on a batch; the self-supervised
    loss is cross-entropy on the positions where ``targets != ignore_index`` and the KI term uses the same ones.
    """

    def __init__(
        self,
        teacher: nn.Module,
        t_ki: int,
        *,
        total_steps: int | None = None,
        tau: float = 1.0,
        schedule: str = "linear",
        teacher_vocab: torch.Tensor | None = None,
        ignore_index: int = -100,
    ) -> None:
        if t_ki <= 0 or (total_steps is not None and t_ki > total_steps):
            raise BadConfigError(
                f"T_KI={t_ki} must lie in [1, total_steps={total_steps}] (the step at which inheritance ends)"
            )
        if tau <= 0:
            raise BadConfigError(f"temperature tau={tau}; it must be > 0")
        if schedule not in SCHEDULES:
            raise BadConfigError(f"unknown KI schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
        self.teacher = teacher
        self.t_ki = t_ki
        self.tau = tau
        self.schedule = schedule
        self.teacher_vocab = teacher_vocab
        self.ignore_index = ignore_index
        self._freeze()

    def _freeze(self) -> None:
        # The teacher is never trained: eval mode (no dropout) and no gradients, whatever the caller did.
        self.teacher.eval()
        for parameter in self.teacher.parameters():
            parameter.requires_grad_(False)

    def check_sizes(self, student: nn.Module) -> None:
        """Warn when the teacher is the larger model: that is ordinary distillation, not inheritance."""
        if _num_params(self.teacher) > _num_params(student):
            warnings.warn("the KI teacher is larger than the student: this is ordinary knowledge distillation",
                          stacklevel=2)

    def loss(
        self,
        student: nn.Module,
        batch: object,
        step: int,
        forward_fn: Callable[[nn.Module, object], tuple[torch.Tensor, torch.Tensor]],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """(1 - a_t) LM + a_t KI on ``batch`` at ``step``; returns the loss and its parts for logging."""
        if self.teacher.training:
            self._freeze()
        weight = inheritance_weight(step, self.t_ki, self.schedule)
        student_logits, targets = forward_fn(student, batch)
        mask = targets != self.ignore_index
        self_loss = F.cross_entropy(
            student_logits.reshape(-1, student_logits.shape[-1]).float(), targets.reshape(-1),
            ignore_index=self.ignore_index,
        )
        if weight == 0.0:  # past T_KI: no teacher forward, no cost
            return self_loss, {"weight": 0.0, "lm": float(self_loss.detach()), "ki": 0.0}
        with torch.no_grad():
            teacher_logits, _ = forward_fn(self.teacher, batch)
        ki = ki_divergence(student_logits, teacher_logits, mask, self.tau, self.teacher_vocab)
        total = (1.0 - weight) * self_loss + weight * ki
        return total, {"weight": weight, "lm": float(self_loss.detach()), "ki": float(ki.detach())}
