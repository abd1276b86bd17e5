"""The trajectory runner on a tiny task, the membership audit, Clopper-Pearson and the canary epsilon bound."""

import numpy as np
import pytest
import torch

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.sgld.audit import SmallAuditWarning, clopper_pearson, empirical_epsilon, membership_audit
from tenfold.sgld.digits_task import digits_task, unit_digits
from tenfold.sgld.models import LinearSoftmax
from tenfold.sgld.trajectory import run_sgld


def _run(**kwargs):
    task = digits_task(60, 60, seed=0)
    params = dict(beta=1e3, lr=0.5, steps=30, batch=8, snapshot_at=[10, 30], seed=0) | kwargs
    model = params.pop("model", LinearSoftmax(65, 10))
    return run_sgld(model, task.x_train, task.y_train, task.x_heldout, task.y_heldout, task.x_population,
                    task.y_population, **params)


def test_unit_digits():
    x, y = unit_digits()
    assert x.shape == (1797, 65) and np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-6)


def test_run_records_snapshots_with_growing_sums_and_is_deterministic():
    a, b = _run(), _run()
    assert [s.step for s in a.snapshots] == [10, 30]
    first, last = a.snapshots
    assert last.sum_eta == pytest.approx(15.0) and first.sum_eta == pytest.approx(5.0)
    assert last.sum_eta_sq_diff > first.sum_eta_sq_diff > 0
    # clipped at L = 1: ||g_i - g'||^2 <= 4
    assert last.sum_eta_sq_diff <= 4 * last.sum_eta + 1e-6
    assert last.train_error < 0.9
    assert last.member_losses.shape == (60,) and last.nonmember_losses.shape == (60,)
    assert a.snapshots[1].gap == b.snapshots[1].gap


def test_closed_form_and_torch_func_paths_agree():
    a = _run(gradients="closed-form", steps=10, snapshot_at=[10])
    b = _run(gradients="torch.func", steps=10, snapshot_at=[10])
    for field in ("sum_eta_sq_diff", "sum_beta_eta_gradsq", "sum_beta_eta_incoherence"):
        assert getattr(a.snapshots[0], field) == pytest.approx(getattr(b.snapshots[0], field), rel=1e-4)
    assert a.snapshots[0].train_error == b.snapshots[0].train_error


def test_gap_only_runs_follow_the_same_trajectory():
    full = _run(steps=30, snapshot_at=[10, 30])
    light = _run(steps=30, snapshot_at=[10, 30], leakage=False)
    assert [s.gap for s in light.snapshots] == pytest.approx([s.gap for s in full.snapshots], abs=1e-6)
    assert np.isnan(light.snapshots[0].sum_eta_sq_diff)


def test_unseeded_runs_draw_fresh_randomness():
    a, b = _run(seed=None, steps=10, snapshot_at=[10]), _run(seed=None, steps=10, snapshot_at=[10])
    assert not np.array_equal(a.snapshots[0].member_losses, b.snapshots[0].member_losses)


def test_general_model_and_bad_inputs():
    mlp = torch.nn.Sequential(torch.nn.Linear(65, 8), torch.nn.Tanh(), torch.nn.Linear(8, 10))
    run = _run(model=mlp, steps=5, snapshot_at=[5])
    assert run.dim == 65 * 8 + 8 + 8 * 10 + 10
    with pytest.raises(BadConfigError, match="closed-form"):
        _run(model=mlp, gradients="closed-form")
    bn = torch.nn.Sequential(torch.nn.Linear(65, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 10))
    with pytest.raises(BadConfigError, match="GroupNorm"):
        _run(model=bn)
    with pytest.raises(BadConfigError, match="beta"):
        _run(beta=-1.0)
    with pytest.raises(BadConfigError, match="sampling"):
        _run(sampling="uniform")
    with pytest.raises(BadConfigError, match="snapshot"):
        _run(snapshot_at=[100])


def test_membership_audit_detects_separation_and_reports_null():
    rng = np.random.default_rng(0)
    strong = membership_audit(rng.random(300) * 0.5, rng.random(300) * 0.5 + 0.5, permutations=50, bootstrap=50)
    assert strong.auc == 1.0 and strong.advantage == 1.0
    assert strong.auc_ci[0] > 0.99
    chance = membership_audit(rng.random(300), rng.random(300), permutations=100, bootstrap=20)
    assert chance.auc == pytest.approx(0.5, abs=0.06)
    assert 0.02 < chance.null_advantage_mean < 0.12  # small-n bias: random scores still "win" a little
    with pytest.warns(SmallAuditWarning):
        membership_audit(rng.random(50), rng.random(50), permutations=5, bootstrap=5)
    with pytest.raises(BadInputError):
        membership_audit(np.array([np.nan]), np.array([1.0]))


def test_clopper_pearson_and_empirical_epsilon():
    low, high = clopper_pearson(5, 10)
    assert low == pytest.approx(0.187, abs=0.001) and high == pytest.approx(0.813, abs=0.001)
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0
    # perfectly separable canary over 100 + 100 runs: eps >= ln(0.9637 / 0.0363)
    eps = empirical_epsilon(np.ones(100), np.zeros(100), delta=0.0)
    assert eps == pytest.approx(np.log(0.96378 / 0.03622), abs=0.01)
    assert empirical_epsilon(np.zeros(50), np.zeros(50)) == 0.0
    with pytest.raises(BadInputError):
        clopper_pearson(3, 2)


def test_canary_audit_lower_bound_stays_below_the_dp_epsilon():
    from tenfold.sgld.canary import canary_audit

    audit = canary_audit(beta=1e3, lr=0.5, steps=5, runs=4, batch=8, n_train=40, seed=0)
    assert audit.scores_in.shape == (4,) and audit.scores_out.shape == (4,)
    assert 0.0 <= audit.eps_lower <= audit.eps_upper
    with pytest.raises(BadConfigError):
        canary_audit(beta=1e3, lr=0.5, steps=5, runs=1)
