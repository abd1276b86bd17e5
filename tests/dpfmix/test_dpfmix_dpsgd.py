"""The DP-SGD peer (Opacus) spends exactly the requested PLD budget and learns something."""

import numpy as np

from tenfold.dpfmix.dpsgd import train_dpsgd_linear


def test_dpsgd_peer_meets_budget_and_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = (x[:, 0] > 0).astype(int)
    result = train_dpsgd_linear(x, y, 2, eps=8.0, delta=1e-5, epochs=3, batch_size=50)
    assert result.eps <= 8.0 and result.adjacency == "add-remove"
    assert result.steps == 3 * 8
    assert result.score(x, y) > 0.7


def test_dpsgd_default_noise_is_not_replayable_and_a_seed_is():
    import warnings

    import torch

    from tenfold.core.randomness import InsecureSeedWarning

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = (x[:, 1] > 0).astype(int)
    kwargs = dict(eps=2.0, epochs=1, batch_size=40, interval=1e-2)
    a = train_dpsgd_linear(x, y, 2, **kwargs)
    b = train_dpsgd_linear(x, y, 2, **kwargs)
    assert not torch.equal(a.model.weight, b.model.weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureSeedWarning)
        c = train_dpsgd_linear(x, y, 2, insecure_seed=4, **kwargs)
        d = train_dpsgd_linear(x, y, 2, insecure_seed=4, **kwargs)
    assert torch.equal(c.model.weight, d.model.weight)
