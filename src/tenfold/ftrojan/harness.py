"""The attacks x defences harness: train one model per attack on the same split and seed, then measure
BA, ASR, image quality and every defence on it, so the rows of the table are comparable."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.ftrojan import defences
from tenfold.ftrojan.metrics import attack_success_rate, benign_accuracy, image_quality
from tenfold.ftrojan.poison import poison_dirty_label
from tenfold.ftrojan.training import TrainConfig, train_classifier

Trigger = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DefenceConfig:
    """Which defences run and their parameters (STRIP as in BackdoorBench: alpha 0.5, 64 overlays, FRR 5%)."""

    strip_images: int = 100
    strip_overlays: int = 64
    strip_frr: float = 0.05
    nc_steps: int = 60
    nc_batch: int = 24
    nc_cost: float = 2e-3
    filters: tuple[str, ...] = ("gaussian", "wiener", "jpeg")
    detectors: bool = True  # activation clustering and spectral signatures on the training set
    pruning: bool = True
    neural_cleanse: bool = True


@dataclass
class AttackRow:
    """One row of the table: an attack (or none) and what every measurement gave."""

    name: str
    metrics: dict[str, float] = field(default_factory=dict)


def evaluate_attack(
    name: str,
    trigger: Trigger | None,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    target: int,
    rate: float,
    train: TrainConfig,
    defence: DefenceConfig | None = None,
    num_classes: int | None = None,
    seed: int = 0,
    probe: Trigger | None = None,
) -> tuple[AttackRow, object]:
    """Poison (unless ``trigger`` is None), train, and measure; returns the row and the trained model.

    ``probe``: for the no-attack row, a trigger whose ASR on the clean model is reported (the floor)."""
    if trigger is not None and not 0 < rate < 1:
        raise BadConfigError(f"rate must be in (0, 1), got {rate}")
    classes = num_classes or int(max(y_train.max(), y_test.max())) + 1
    if trigger is None:
        x_fit, y_fit, poisoned = x_train, y_train, np.zeros(len(y_train), dtype=bool)
    else:
        data = poison_dirty_label(x_train, y_train, trigger, target=target, rate=rate, seed=seed)
        x_fit, y_fit, poisoned = data.x, data.y, data.mask
    model = train_classifier(x_fit, y_fit, train, num_classes=classes)
    row = AttackRow(name)
    m = row.metrics
    m["ba"] = benign_accuracy(model, x_test, y_test)
    non_target = y_test != target
    if trigger is not None:
        triggered = np.asarray(trigger(x_test[non_target]), dtype=np.float32)
        m["asr"] = attack_success_rate(model, x_test, y_test, trigger, target)
        m["asr_incl_target"] = attack_success_rate(model, x_test, y_test, trigger, target, include_target=True)
        m.update({k: v for k, v in image_quality(x_test[non_target], triggered).items()})
    elif probe is not None:
        m["asr"] = attack_success_rate(model, x_test, y_test, probe, target)
    if defence is None:
        return row, model
    rng = np.random.default_rng(seed)
    # STRIP: clean test inputs vs triggered non-target inputs, overlays drawn from the clean training set.
    if trigger is not None:
        pick_clean = rng.choice(len(x_test), size=min(defence.strip_images, len(x_test)), replace=False)
        pick_trig = rng.choice(len(triggered), size=min(defence.strip_images, len(triggered)), replace=False)
        pool = x_train[~poisoned]
        clean_h = defences.strip_entropy(model, x_test[pick_clean], pool, overlays=defence.strip_overlays, seed=seed)
        trig_h = defences.strip_entropy(model, triggered[pick_trig], pool, overlays=defence.strip_overlays, seed=seed + 1)
        report = defences.strip_report(clean_h, trig_h, frr=defence.strip_frr)
        m["strip_far"] = report.far
        m["strip_frr"] = report.frr
    if defence.neural_cleanse:
        nc = defences.neural_cleanse(
            model, x_test, classes, steps=defence.nc_steps, batch_size=defence.nc_batch, cost=defence.nc_cost, seed=seed
        )
        m["nc_anomaly_index"] = nc.anomaly_index
        m["nc_flagged_class"] = nc.flagged_class
    if defence.detectors and trigger is not None:
        features = defences.penultimate_features(model, x_fit)
        m["ac_f1"] = defences.detection_f1(defences.activation_clustering(features, y_fit, seed=seed), poisoned)
        m["ss_f1"] = defences.detection_f1(defences.spectral_signatures(features, y_fit, expected_rate=rate), poisoned)
    if defence.pruning and trigger is not None:
        pruned = defences.prune_dormant_channels(model, x_test, y_test, triggered, target)
        m["prune_channels"] = pruned.pruned
        m["prune_ba"] = pruned.accuracy
        m["prune_asr"] = pruned.attack_success
    for filter_name in defence.filters:
        apply = defences.INPUT_FILTERS[filter_name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # Wiener divides by zero on flat windows
            m[f"{filter_name}_ba"] = benign_accuracy(model, apply(x_test), y_test)
            if trigger is not None:
                from tenfold.ftrojan.training import predict

                m[f"{filter_name}_asr"] = float(np.mean(predict(model, apply(triggered)) == target))
    return row, model
