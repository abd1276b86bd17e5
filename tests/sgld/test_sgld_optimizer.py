"""SGLD update rule, temperature conventions, per-example gradients and clipping."""

import math

import numpy as np
import pytest
import torch

from tenfold.core.errors import BadConfigError
from tenfold.sgld.models import LinearSoftmax
from tenfold.sgld.optimizer import SGLD
from tenfold.sgld.per_example import (
    check_per_example_compatible,
    clip_per_example,
    linear_softmax_gradients,
    per_example_gradients,
)
from tenfold.sgld.temperature import inverse_temperature, noise_std


def test_update_is_gradient_step_plus_scaled_gaussian():
    w = torch.nn.Parameter(torch.zeros(20000))
    w.grad = torch.full((20000,), 2.0)
    SGLD([w], lr=0.1, beta=50.0, generator=torch.Generator().manual_seed(0)).step()
    # w = -0.1 * 2 + sqrt(2 * 0.1 / 50) * xi
    assert w.detach().mean().item() == pytest.approx(-0.2, abs=0.003)
    assert w.detach().std().item() == pytest.approx(math.sqrt(0.004), rel=0.02)


def test_schedule_and_determinism():
    def run(seed):
        w = torch.nn.Parameter(torch.zeros(5))
        opt = SGLD([w], lr=lambda t: 0.1 * 0.5**t, beta=1e3, generator=torch.Generator().manual_seed(seed))
        etas = []
        for _ in range(3):
            w.grad = torch.ones(5)
            etas.append(opt.current_lr())
            opt.step()
        return w.detach().clone(), etas

    a, etas = run(1)
    b, _ = run(1)
    assert torch.equal(a, b) and etas == [0.1, 0.05, 0.025]


def test_default_noise_is_secret_and_a_numpy_generator_is_replayable():
    def run(generator):
        w = torch.nn.Parameter(torch.zeros(20000))
        w.grad = torch.zeros(20000)
        SGLD([w], lr=0.1, beta=50.0, generator=generator).step()
        return w.detach().clone()

    a, b = run(None), run(None)
    assert not torch.equal(a, b)  # OS entropy: two runs never share noise
    assert a.std().item() == pytest.approx(math.sqrt(0.004), rel=0.02)
    c, d = run(np.random.default_rng(5)), run(np.random.default_rng(5))
    assert torch.equal(c, d) and c.mean().item() == pytest.approx(0.0, abs=0.002)
    with pytest.raises(BadConfigError, match="generator"):
        SGLD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, beta=1.0, generator=5)


@pytest.mark.parametrize("beta", [0.0, -1.0, math.inf])
def test_bad_beta(beta):
    with pytest.raises(BadConfigError, match="beta"):
        SGLD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, beta=beta)


def test_bad_lr_and_schedule():
    with pytest.raises(BadConfigError, match="lr"):
        SGLD([torch.nn.Parameter(torch.zeros(1))], lr=0.0, beta=1.0)
    w = torch.nn.Parameter(torch.zeros(1))
    w.grad = torch.zeros(1)
    opt = SGLD([w], lr=lambda t: 0.1 - t, beta=1.0)
    opt.step()
    with pytest.raises(BadConfigError, match="positive"):
        opt.step()


def test_temperature_conventions_round_trip():
    lr, beta = 0.01, 400.0
    assert inverse_temperature("beta", beta) == beta
    assert inverse_temperature("temperature", 1 / beta) == pytest.approx(beta)
    assert inverse_temperature("noise_std", noise_std(lr, beta), lr=lr) == pytest.approx(beta)
    assert inverse_temperature("noise_variance", noise_std(lr, beta) ** 2, lr=lr) == pytest.approx(beta)
    assert inverse_temperature("bayes", 5000) == 5000
    with pytest.raises(BadConfigError, match="unknown temperature convention"):
        inverse_temperature("sigma", 1.0)
    with pytest.raises(BadConfigError, match="needs the step size"):
        inverse_temperature("noise_std", 0.1)
    with pytest.raises(BadConfigError, match="positive"):
        inverse_temperature("temperature", -1.0)


def test_per_example_gradients_match_closed_form_and_autograd():
    torch.manual_seed(0)
    model = LinearSoftmax(4, 3)
    torch.nn.init.normal_(model.linear.weight)
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    vmapped = per_example_gradients(model, x, y)
    closed = linear_softmax_gradients(model.linear.weight, x, y)
    assert torch.allclose(vmapped, closed, atol=1e-5)
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x[2:3]), y[2:3]).backward()
    assert torch.allclose(vmapped[2], model.linear.weight.grad.reshape(-1), atol=1e-6)


def test_clipping():
    grads = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    clipped = clip_per_example(grads, 1.0)
    assert torch.allclose(clipped.norm(dim=1), torch.tensor([1.0, 0.5]))
    assert clip_per_example(grads, None) is grads
    with pytest.raises(BadConfigError):
        clip_per_example(grads, 0.0)


def test_batchnorm_is_refused_with_groupnorm_hint():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    with pytest.raises(BadConfigError, match="GroupNorm"):
        check_per_example_compatible(model)
    check_per_example_compatible(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GroupNorm(2, 8)))
    assert np.isfinite(noise_std(0.1, 10.0))
