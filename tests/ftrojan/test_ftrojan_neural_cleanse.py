"""Neural Cleanse: the MAD score by hand, the authors' cost schedule traced by hand, and detection on a
hand-built model whose backdoor is known."""

import numpy as np
import pytest
import torch
from torch import nn

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ftrojan.neural_cleanse import (
    NeuralCleanseConfig,
    _ClassState,
    anomaly_index,
    class_anomaly_index,
    neural_cleanse,
)


def test_anomaly_index_by_hand():
    norms = np.array([10.0, 11.0, 9.0, 10.0, 2.0])
    # median 10, |dev| = 0,1,1,0,8 -> MAD 1 -> index (10 - 2) / 1.4826
    index, flagged = anomaly_index(norms)
    assert flagged == 4 and index == pytest.approx(8 / 1.4826)
    assert class_anomaly_index(norms, 1) == pytest.approx(-1 / 1.4826)  # above the median: negative
    assert anomaly_index(np.ones(5))[0] == 0.0
    assert class_anomaly_index(np.array([1.0, 1.0, 1.0, 0.5]), 3) == float("inf")  # MAD 0, below the median


def test_cost_schedule_and_early_stop_follow_the_authors_rules():
    config = NeuralCleanseConfig(patience=2, early_stop_patience=3, init_cost=1.0, cost_multiplier=2.0, max_epochs=100)
    state = _ClassState(config)
    trace = []
    for success, norm in [(1.0, 10.0), (1.0, 9.0), (1.0, 9.5), (0.5, 5.0), (0.5, 5.0), (0.5, 5.0)]:
        improved = state.end_epoch(success, norm)
        trace.append((improved, round(state.cost, 4), state.done))
    assert trace == [
        (True, 0.0, False),  # cost still 0: one successful epoch of the two needed
        (True, 1.0, False),  # two successful epochs at cost 0: the cost is set to init_cost
        (False, 2.0, False),  # two successes at that cost: up by the multiplier
        (False, 2.0, False),  # failing
        (False, round(2.0 / 2.0**1.5, 4), False),  # two failures: down by multiplier ** 1.5
        (False, round(2.0 / 2.0**1.5, 4), True),  # went up and down, no better mask for 3 epochs: stop
    ]
    assert state.converged and state.best_norm == 9.0 and state.epochs == 6


def test_epoch_cap_ends_a_class_without_convergence():
    state = _ClassState(NeuralCleanseConfig(max_epochs=3))
    for _ in range(3):
        state.end_epoch(0.2, 50.0)
    assert state.done and not state.converged and state.best_norm == float("inf")


class _ColourModel(nn.Module):
    """Five classes by the mean colour of an 8x8 image; with ``backdoor``, a bright red pixel at (7, 7)
    also sends any image to class 0, a one-pixel trigger that Neural Cleanse should find."""

    PROTOTYPES = torch.tensor([[0.8, 0.2, 0.2], [0.2, 0.8, 0.2], [0.2, 0.2, 0.8], [0.8, 0.8, 0.2], [0.2, 0.8, 0.8]])

    def __init__(self, backdoor: bool) -> None:
        super().__init__()
        self.backdoor = backdoor
        self.scale = nn.Parameter(torch.tensor(40.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        colour = x.mean(dim=(2, 3))
        logits = -self.scale * ((colour[:, None, :] - self.PROTOTYPES[None]) ** 2).sum(dim=2)
        if self.backdoor:
            logits[:, 0] = logits[:, 0] + 60.0 * torch.relu(x[:, 0, 7, 7] - 0.5)
        return logits


def _clean_images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 5, n)
    colours = _ColourModel.PROTOTYPES.numpy()[labels]
    return np.clip(colours[:, None, None, :] + rng.normal(0, 0.03, (n, 8, 8, 3)), 0, 1).astype(np.float32)


@pytest.mark.parametrize("backdoor", [True, False])
def test_neural_cleanse_flags_a_known_backdoor_and_not_its_absence(backdoor):
    torch.manual_seed(0)
    model = _ColourModel(backdoor)
    config = NeuralCleanseConfig(batch_size=16, samples_per_epoch=64, max_epochs=40, patience=2, early_stop_patience=6)
    report = neural_cleanse(model, _clean_images(), 5, config, seed=0)
    assert report.mask_norms.shape == (5,) and report.converged.all() and report.reached_success.all()
    assert model.scale.requires_grad  # gradients are restored afterwards
    if backdoor:
        assert report.flagged_class == 0 and report.anomaly_index > 2 and report.class_index(0) > 2
        assert report.mask_norms[0] < 0.5 * np.median(report.mask_norms)
    else:
        assert report.anomaly_index < 2  # (cut at 25 epochs, before convergence, it falsely flags a class)


def test_bad_configuration_and_input():
    with pytest.raises(BadConfigError, match="samples per epoch"):
        NeuralCleanseConfig(batch_size=32, samples_per_epoch=10)
    with pytest.raises(BadConfigError, match="epochs"):
        NeuralCleanseConfig(max_epochs=-1)
    with pytest.raises(BadConfigError, match="learning rate"):
        NeuralCleanseConfig(lr=float("nan"))
    with pytest.raises(BadInputError, match="clean images"):
        neural_cleanse(_ColourModel(False), np.zeros((0, 8, 8, 3), np.float32), 5)
