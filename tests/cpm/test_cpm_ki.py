"""Knowledge inheritance: the schedule, the KL term on hand-computed cases, teacher freezing, bad inputs."""

import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpm.ki import KnowledgeInheritance, inheritance_weight, ki_divergence, vocabulary_map
from tenfold.cpm.pretrain import causal_forward
from tenfold.cpm.transformer import ByteLM, LMConfig


def test_linear_schedule_decays_to_zero_at_t_ki():
    assert inheritance_weight(0, 10) == 1.0
    assert inheritance_weight(5, 10) == 0.5
    assert inheritance_weight(10, 10) == 0.0
    assert inheritance_weight(50, 10) == 0.0


def test_hard_switch_schedule():
    assert inheritance_weight(9, 10, "distil_then_mlm") == 1.0
    assert inheritance_weight(10, 10, "distil_then_mlm") == 0.0


@pytest.mark.parametrize("t_ki", [0, -3])
def test_bad_t_ki(t_ki):
    with pytest.raises(BadConfigError, match="T_KI"):
        inheritance_weight(0, t_ki)


def test_kl_matches_hand_computation_with_temperature():
    teacher = torch.tensor([[math.log(0.75), math.log(0.25)]])
    student = torch.tensor([[0.0, 0.0]])
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert ki_divergence(student, teacher, tau=1.0).item() == pytest.approx(expected, rel=1e-6)
    # tau = 2: teacher probabilities become softmax(log p / 2) and the term is scaled by tau^2
    p = torch.tensor([math.sqrt(0.75), math.sqrt(0.25)])
    p = p / p.sum()
    expected_tau2 = 4 * float((p * torch.log(p / 0.5)).sum())
    assert ki_divergence(student, teacher, tau=2.0).item() == pytest.approx(expected_tau2, rel=1e-5)


def test_mask_restricts_positions():
    teacher = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])
    student = torch.zeros(1, 2, 2)
    only_second = ki_divergence(student, teacher, torch.tensor([[False, True]]))
    assert only_second.item() == pytest.approx(0.0, abs=1e-7)
    assert ki_divergence(student, teacher, torch.tensor([[True, False]])).item() > 0.1


def test_sub_vocabulary_slice_renormalises_student():
    student = torch.tensor([[1.0, 5.0, 2.0]])  # student id 1 is a token the teacher does not have
    teacher = torch.tensor([[0.3, -0.2]])
    sliced = ki_divergence(student, teacher, teacher_vocab=torch.tensor([0, 2]))
    direct = ki_divergence(torch.tensor([[1.0, 2.0]]), teacher)
    assert sliced.item() == pytest.approx(direct.item(), rel=1e-6)


def test_shape_mismatch_and_bad_tau():
    with pytest.raises(BadInputError, match="same positions"):
        ki_divergence(torch.zeros(2, 5), torch.zeros(3, 5))
    with pytest.raises(BadConfigError, match="tau"):
        ki_divergence(torch.zeros(2, 5), torch.zeros(2, 5), tau=0)


def test_fp16_logits_do_not_overflow():
    student = (torch.randn(4, 50) * 300).half()
    teacher = (torch.randn(4, 50) * 300).half()
    assert torch.isfinite(ki_divergence(student, teacher))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=6, max_size=6), st.lists(st.floats(-20, 20), min_size=6, max_size=6),
       st.floats(0.5, 4.0))
def test_kl_is_non_negative_and_zero_on_equal(a, b, tau):
    s, t = torch.tensor([a]), torch.tensor([b])
    assert ki_divergence(s, t, tau=tau).item() >= -1e-5
    assert ki_divergence(t, t, tau=tau).item() == pytest.approx(0.0, abs=1e-5)


def test_vocabulary_map_superset_and_mismatch():
    assert vocabulary_map([b"a", b"b"], [b"b", b"x", b"a"]).tolist() == [2, 0]
    with pytest.raises(BadInputError, match="not in the student's vocabulary"):
        vocabulary_map([b"a", b"q"], [b"a", b"b"])


def _tiny(layers=1, d=16):
    return ByteLM(LMConfig(d_model=d, n_layers=layers, n_heads=2, d_ff=32, max_len=16))


def test_teacher_is_frozen_and_put_in_eval_mode():
    teacher = _tiny().train()
    KnowledgeInheritance(teacher, 5, total_steps=10)
    assert not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())


def test_loss_mixes_terms_and_skips_teacher_after_t_ki():
    torch.manual_seed(0)
    teacher, student = _tiny(), _tiny(2)
    calls = []

    def forward(model, batch):
        calls.append(model is teacher)
        return causal_forward(model, batch)

    ki = KnowledgeInheritance(teacher, 4, total_steps=8, tau=1.0)
    batch = torch.randint(0, 256, (2, 9))
    loss0, parts0 = ki.loss(student, batch, 0, forward)
    assert parts0["weight"] == 1.0 and loss0.item() == pytest.approx(parts0["ki"], rel=1e-5)
    loss2, parts2 = ki.loss(student, batch, 2, forward)
    assert loss2.item() == pytest.approx(0.5 * parts2["lm"] + 0.5 * parts2["ki"], rel=1e-5)
    calls.clear()
    loss5, parts5 = ki.loss(student, batch, 5, forward)
    assert calls == [False] and loss5.item() == pytest.approx(parts5["lm"])


def test_bad_configs_and_larger_teacher_warning():
    teacher, student = _tiny(2, 32), _tiny(1, 16)
    with pytest.raises(BadConfigError, match="T_KI"):
        KnowledgeInheritance(teacher, 20, total_steps=10)
    with pytest.raises(BadConfigError, match="tau"):
        KnowledgeInheritance(teacher, 5, tau=-1)
    with pytest.raises(BadConfigError, match="schedule"):
        KnowledgeInheritance(teacher, 5, schedule="cosine")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        KnowledgeInheritance(teacher, 5).check_sizes(student)
    assert any("ordinary knowledge distillation" in str(w.message) for w in caught)


def test_steps_to_reach_interpolates_between_evaluations():
    from tenfold.cpm.pretrain import PretrainHistory, steps_to_reach

    history = PretrainHistory(eval_steps=[10, 20, 30], val_losses=[3.0, 2.0, 1.0])
    assert steps_to_reach(history, 2.5) == 20.0
    assert steps_to_reach(history, 2.5, interpolate=True) == pytest.approx(15.0)
    assert steps_to_reach(history, 3.5, interpolate=True) == 10.0
    assert steps_to_reach(history, 0.5, interpolate=True) == float("inf")
