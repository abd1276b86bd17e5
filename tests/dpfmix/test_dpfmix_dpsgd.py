"""The DP-SGD peer (Opacus) spends exactly the requested PLD budget and learns something."""

import numpy as np

from tenfold.dpfmix.dpsgd import train_dpsgd_linear


def test_dpsgd_peer_meets_budget_and_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = (x[:, 0] > 0).astype(int)
    result = train_dpsgd_linear(x, y, 2, eps=8.0, delta=1e-5, epochs=3, batch_size=50, seed=0)
    assert result.eps <= 8.0
    assert result.steps == 3 * 8
    assert result.score(x, y) > 0.7
