"""The attacks x defences harness: train one model per attack on the same split and seed, then measure
BA, ASR, image quality and every defence on it, so the rows of the table are comparable."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tenfold.core.errors import BadConfigError
from tenfold.ftrojan import defences
from tenfold.ftrojan.metrics import attack_success_rate, benign_accuracy, image_quality
from tenfold.ftrojan.neural_cleanse import NeuralCleanseConfig, neural_cleanse
from tenfold.ftrojan.poison import poison_dirty_label
from tenfold.ftrojan.training import TrainConfig, predict, train_classifier

Trigger = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DefenceConfig:
    """Which defences run and their parameters (STRIP as in BackdoorBench: alpha 0.5, 64 overlays, FRR 5%;
    Neural Cleanse with the authors' schedule, None to skip it)."""

    strip_images: int = 100
    strip_overlays: int = 64
    strip_frr: float = 0.05
    neural_cleanse: NeuralCleanseConfig | None = NeuralCleanseConfig()
    filters: tuple[str, ...] = ("gaussian", "wiener", "jpeg")
    detectors: bool = True  # activation clustering and spectral signatures on the training set
    pruning: bool = True


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

    Every row has ``ba`` and ``target_rate`` (non-target clean test images the model sends to the target:
    its label bias). With a trigger (or, for the no-attack row, a ``probe`` trigger, whose success on the
    clean model is the floor) it has ``asr`` (triggered non-target images sent to the target) and
    ``asr_flip`` (the same among images the model did not already send there when clean, so that label
    bias is not counted as the trigger's success)."""
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
    clean_predictions = predict(model, x_test)
    m["ba"] = float(np.mean(clean_predictions == y_test))
    non_target = y_test != target
    m["target_rate"] = float(np.mean(clean_predictions[non_target] == target))
    measured = trigger if trigger is not None else probe
    triggered = None
    if measured is not None:
        triggered = np.asarray(measured(x_test[non_target]), dtype=np.float32)
        hits = predict(model, triggered) == target
        m["asr"] = float(np.mean(hits))
        not_already = clean_predictions[non_target] != target
        m["asr_flip"] = float(np.mean(hits[not_already])) if not_already.any() else float("nan")
        m["asr_flip_n"] = int(not_already.sum())  # images behind asr_flip, for tests on the proportion
    if trigger is not None:
        m["asr_incl_target"] = attack_success_rate(model, x_test, y_test, trigger, target, include_target=True)
        m.update(image_quality(x_test[non_target], triggered))
    if defence is None:
        return row, model
    _defend(m, model, defence, trigger, triggered, x_train, x_test, y_test, x_fit, y_fit, poisoned,
            target=target, rate=rate, classes=classes, seed=seed)
    return row, model


def _defend(
    m: dict, model, defence: DefenceConfig, trigger: Trigger | None, triggered: np.ndarray | None,
    x_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, x_fit: np.ndarray, y_fit: np.ndarray,
    poisoned: np.ndarray, *, target: int, rate: float, classes: int, seed: int,
) -> None:
    """Run every configured defence on a trained model and add its numbers to ``m``."""
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
    if defence.neural_cleanse is not None:
        started = time.process_time()
        nc = neural_cleanse(model, x_test, classes, defence.neural_cleanse, seed=seed)
        m["nc_cpu_s"] = time.process_time() - started
        m["nc_anomaly_index"] = nc.anomaly_index
        m["nc_flagged_class"] = nc.flagged_class
        m["nc_target_index"] = nc.class_index(target)
        m["nc_converged"] = int(nc.converged.sum())
        m["nc_reached_success"] = int(nc.reached_success.sum())
        m["nc_epochs"] = [int(e) for e in nc.epochs]
        m["nc_mask_norms"] = [round(float(v), 3) for v in nc.mask_norms]
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
            if triggered is not None and trigger is not None:
                m[f"{filter_name}_asr"] = float(np.mean(predict(model, apply(triggered)) == target))
