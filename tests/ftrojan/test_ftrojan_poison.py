"""Poisoning semantics, baseline triggers and the metrics."""

import numpy as np
import pytest

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ftrojan import (
    BadNetsTrigger,
    BlendedTrigger,
    FrequencyTrigger,
    SIGTrigger,
    poison_clean_label,
    poison_count,
    poison_dirty_label,
)
from tenfold.ftrojan.metrics import image_quality, to_uint8


def _data(n=40, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 0.9, (n, 32, 32, 3)).astype(np.float32), np.arange(n) % classes


def test_poison_count_is_floor_of_rate_times_n():
    assert poison_count(1000, 0.05) == 50
    assert poison_count(99, 0.1) == 9


def test_dirty_label_poisons_non_target_rows_only_and_relabels():
    x, y = _data()
    result = poison_dirty_label(x, y, FrequencyTrigger(), target=0, rate=0.25, seed=3)
    assert len(result.indices) == 10
    assert np.all(y[result.indices] != 0)
    assert np.all(result.y[result.indices] == 0)
    untouched = ~result.mask
    np.testing.assert_array_equal(result.x[untouched], x[untouched])
    np.testing.assert_array_equal(result.y[untouched], y[untouched])
    np.testing.assert_allclose(result.x[result.indices], FrequencyTrigger()(x[result.indices]), atol=1e-6)
    assert np.array_equal(x, _data()[0])  # the input is not modified


def test_selection_is_seeded_and_first_mode_matches_official_order():
    x, y = _data()
    a = poison_dirty_label(x, y, FrequencyTrigger(), target=1, rate=0.1, seed=5).indices
    b = poison_dirty_label(x, y, FrequencyTrigger(), target=1, rate=0.1, seed=5).indices
    c = poison_dirty_label(x, y, FrequencyTrigger(), target=1, rate=0.1, seed=6).indices
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    first = poison_dirty_label(x, y, FrequencyTrigger(), target=1, rate=0.1, selection="first").indices
    np.testing.assert_array_equal(first, np.flatnonzero(y != 1)[:4])


def test_clean_label_keeps_labels_and_takes_an_adversarial_step():
    x, y = _data()
    gradient = lambda images, labels: np.ones_like(images)  # noqa: E731
    result = poison_clean_label(x, y, FrequencyTrigger(), target=2, rate=0.2, gradient=gradient, degree=8.0)
    assert np.all(y[result.indices] == 2) and np.array_equal(result.y, y)
    plain = poison_clean_label(x, y, FrequencyTrigger(), target=2, rate=0.2)
    assert np.array_equal(result.indices, plain.indices)
    assert np.mean(result.x[result.indices]) > np.mean(plain.x[plain.indices])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"rate": 0.0}, BadConfigError, "rate"),
        ({"rate": 1.5}, BadConfigError, "rate"),
        ({"rate": 0.9}, BadConfigError, "non-target"),
        ({"target": 7}, BadConfigError, "not among the labels"),
        ({"selection": "best"}, BadConfigError, "selection"),
    ],
)
def test_bad_poisoning_arguments(kwargs, error, message):
    x, y = _data()
    arguments = {"target": 0, "rate": 0.1} | kwargs
    with pytest.raises(error, match=message):
        poison_dirty_label(x, y, FrequencyTrigger(), **arguments)


def test_empty_or_mismatched_sets_are_rejected():
    with pytest.raises(BadInputError, match="empty"):
        poison_dirty_label(np.zeros((0, 32, 32, 3)), np.zeros(0, int), FrequencyTrigger(), target=0, rate=0.1)
    with pytest.raises(BadInputError, match="one entry per image"):
        poison_dirty_label(np.zeros((4, 32, 32, 3)), np.zeros(3, int), FrequencyTrigger(), target=0, rate=0.5)


def test_baseline_triggers():
    x, _ = _data(4)
    patched = BadNetsTrigger(3)(x)
    assert set(np.unique(patched[:, -3:, -3:])) == {0.0, 1.0}
    np.testing.assert_array_equal(patched[:, :-3], x[:, :-3])
    blended = BlendedTrigger(0.1, seed=1)(x)
    np.testing.assert_allclose(blended, BlendedTrigger(0.1, seed=1)(x))
    assert np.abs(blended - x).max() <= 0.1 + 1e-6
    sig = SIGTrigger(20, 6)(x)
    assert np.abs(sig - x).max() <= 20 / 255 + 1e-9
    assert np.allclose(sig[0, 0] - x[0, 0], sig[0, 5] - x[0, 5])  # same wave on every row
    with pytest.raises(BadConfigError):
        BlendedTrigger(1.5)


def test_image_quality_of_ftrojan_is_invisible_but_badnets_is_not():
    x, _ = _data(6, seed=1)
    ftrojan = image_quality(x, FrequencyTrigger()(x))
    assert ftrojan["psnr"] > 40 and ftrojan["ssim"] > 0.97 and ftrojan["linf"] <= 6
    assert image_quality(x, BadNetsTrigger(3)(x))["psnr"] < ftrojan["psnr"]
    assert to_uint8(np.array([0.5, 1.2, -1])).tolist() == [128, 255, 0]
