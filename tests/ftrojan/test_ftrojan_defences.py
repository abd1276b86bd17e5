"""Defences on hand-made inputs and on a tiny trained model."""

import numpy as np
import pytest
import torch

from tenfold.core.errors import BadConfigError
from tenfold.ftrojan import FrequencyTrigger
from tenfold.ftrojan import defences as d
from tenfold.ftrojan.harness import DefenceConfig, evaluate_attack
from tenfold.ftrojan.neural_cleanse import NeuralCleanseConfig
from tenfold.ftrojan.training import TrainConfig


def test_strip_report_threshold_and_rates():
    clean = np.linspace(0.0, 1.0, 101)
    report = d.strip_report(clean, np.array([0.0, 0.01, 0.5, 0.9]), frr=0.05)
    assert report.threshold == pytest.approx(0.05)
    assert report.frr == pytest.approx(5 / 101)
    assert report.far == pytest.approx(0.5)
    with pytest.raises(BadConfigError):
        d.strip_report(clean, clean, frr=0.0)


def test_spectral_signatures_and_clustering_find_an_outlying_cluster():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(100, 6))
    features[:10] += 8.0  # poisoned samples sit far away along one direction
    labels = np.zeros(100, dtype=int)
    poisoned = np.zeros(100, dtype=bool)
    poisoned[:10] = True
    assert d.detection_f1(d.spectral_signatures(features, labels, expected_rate=0.1), poisoned) > 0.75
    assert d.detection_f1(d.activation_clustering(features, labels, components=3), poisoned) == pytest.approx(1.0)
    assert d.detection_f1(np.zeros(100, bool), poisoned) == 0.0


def test_filters_keep_shape_and_range_and_blur_removes_the_high_frequency_trigger():
    x = np.full((2, 32, 32, 3), 0.5)
    triggered = FrequencyTrigger()(x)
    for name, apply in d.INPUT_FILTERS.items():
        out = apply(triggered)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1, name
    residual = np.abs(d.gaussian_filter(triggered) - x).mean()
    assert residual < 0.25 * np.abs(triggered - x).mean()


@pytest.fixture(scope="module")
def tiny_split():
    rng = np.random.default_rng(0)
    # Two classes that differ in brightness: learnable in one epoch.
    y = np.arange(120) % 2
    x = np.clip(rng.normal(0.35 + 0.3 * y[:, None, None, None], 0.08, (120, 32, 32, 3)), 0, 1).astype(np.float32)
    return x[:80], y[:80], x[80:], y[80:]


def test_harness_row_has_every_measurement(tiny_split):
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = tiny_split
    config = DefenceConfig(
        strip_images=4, strip_overlays=3, filters=("gaussian", "jpeg"),
        neural_cleanse=NeuralCleanseConfig(batch_size=4, samples_per_epoch=8, max_epochs=2),
    )
    row, model = evaluate_attack(
        "FTrojan", FrequencyTrigger(), x_train, y_train, x_test, y_test, target=0, rate=0.2,
        train=TrainConfig(epochs=2, width=2, seed=0), defence=config, seed=0,
    )
    for key in ("ba", "target_rate", "asr", "asr_flip", "asr_incl_target", "psnr", "ssim", "strip_far", "nc_anomaly_index",
                "nc_target_index", "ac_f1", "ss_f1", "prune_asr", "gaussian_asr", "jpeg_ba"):
        assert key in row.metrics, key
    assert 0 <= row.metrics["asr"] <= 1 and row.metrics["psnr"] > 40
    assert all(p.requires_grad for p in model.parameters())  # Neural Cleanse restores gradients
    clean_row, _ = evaluate_attack(
        "none", None, x_train, y_train, x_test, y_test, target=0, rate=0.2,
        train=TrainConfig(epochs=1, width=2, seed=0), probe=FrequencyTrigger(),
    )
    assert set(clean_row.metrics) == {"ba", "target_rate", "asr", "asr_flip", "asr_flip_n"}
    assert row.metrics["nc_epochs"] == [2, 2]
