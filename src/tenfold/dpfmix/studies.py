"""The spec's E1-E4 studies as plain functions (the experiment and the CLI call them).

E1 sweet spot on seeded linear regression; E2 DPFMix (public-PCA features) vs DPMix (raw pixels) on a real
image set; E3 DP-SGD peer at equal PLD epsilon; E4 loss-threshold membership inference against the GDP bound.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tenfold.dpfmix.accounting import gdp_auc_bound, gdp_mu_from_eps
from tenfold.dpfmix.downstream import SoftLabelRidge, SoftmaxRegression, loss_threshold_attack
from tenfold.dpfmix.features import PixelFeatures, PublicPCA
from tenfold.dpfmix.mixing import clip_rows
from tenfold.dpfmix.mstar import closed_form_m
from tenfold.dpfmix.release import DPFMixRelease, one_hot
from tenfold.dpfmix.synthetic import linear_regression_data, ols_test_mse

Progress = Callable[[str], None]


def _quiet(progress: Progress | None) -> Progress:
    return progress or (lambda _message: None)


@dataclass
class SweetSpot:
    """E1: test MSE of OLS on the release, per epsilon and m (mean over repeats), and predicted m*."""

    grid: list[float]
    mse: dict[float, list[float]]  # eps -> mean MSE per grid value
    mse_se: dict[float, list[float]]
    predicted: dict[float, float]
    measured: dict[float, float]
    sigmas: dict[float, list[float]]


def sweet_spot_study(
    *,
    n: int,
    eps_values: list[float],
    grid: list[float],
    repeats: int,
    d: int = 10,
    delta: float = 1e-5,
    seed: int = 0,
    interval: float = 1e-3,
    progress: Progress | None = None,
) -> SweetSpot:
    """Release n = T seeded regression records at each (eps, m), fit OLS, measure clean-test MSE."""
    say = _quiet(progress)
    mse: dict[float, list[float]] = {}
    mse_se: dict[float, list[float]] = {}
    sigmas: dict[float, list[float]] = {}
    predicted: dict[float, float] = {}
    measured: dict[float, float] = {}
    for eps in eps_values:
        predicted[eps] = closed_form_m(eps, delta, n, n)[0]
        mse[eps], mse_se[eps], sigmas[eps] = [], [], []
        for m in grid:
            say(f"E1 sweet spot: eps={eps:g} m={m:g}")
            values = []
            for r in range(repeats):
                x, y, beta = linear_regression_data(n, d, seed=seed * 1000 + r)
                x_test, y_test, _ = linear_regression_data(2000, d, seed=seed * 1000 + 500 + r, beta=beta)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    release = DPFMixRelease(eps, delta, m=m, interval=interval, seed=seed * 1000 + r).fit(x, targets=y)
                values.append(ols_test_mse(release.features, release.labels, x_test, y_test))
            mse[eps].append(float(np.mean(values)))
            mse_se[eps].append(float(np.std(values, ddof=1) / np.sqrt(repeats)) if repeats > 1 else 0.0)
            sigmas[eps].append(release.sigma)
        measured[eps] = float(grid[int(np.argmin(mse[eps]))])
    return SweetSpot(list(grid), mse, mse_se, predicted, measured, sigmas)


@dataclass
class DigitsComparison:
    """E2-E4: validation-selected test accuracy per arm and epsilon, the DP-SGD peer, and the attack."""

    eps_values: list[float]
    accuracy: dict[str, dict[float, float]] = field(default_factory=dict)  # arm -> eps -> mean test acc
    accuracy_se: dict[str, dict[float, float]] = field(default_factory=dict)
    chosen: dict[str, dict[float, tuple[float, float]]] = field(default_factory=dict)  # arm -> eps -> (m, alpha)
    dpsgd_eps: dict[float, float] = field(default_factory=dict)
    attack: dict[str, dict[str, float]] = field(default_factory=dict)
    n_private: int = 0


def _splits(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """75/25 train/held-out; train -> 40% public (label-free features) / 60% private; held-out -> val / test."""
    from sklearn.model_selection import train_test_split

    x_train, x_held, y_train, y_held = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    x_pub, x_priv, _y_pub, y_priv = train_test_split(x_train, y_train, test_size=0.6, random_state=seed, stratify=y_train)
    x_val, x_test, y_val, y_test = train_test_split(x_held, y_held, test_size=0.5, random_state=seed, stratify=y_held)
    return x_pub, x_priv, y_priv, x_val, y_val, x_test, y_test


def digits_study(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    eps_values: list[float],
    m_grid: list[float],
    alphas: list[float],
    seeds: int,
    pca_components: int = 16,
    dpsgd: bool = True,
    dpsgd_epochs: int = 30,
    attack_eps: tuple[float, ...] = (1.0, 4.0),
    delta: float = 1e-5,
    seed: int = 0,
    interval: float = 1e-3,
    progress: Progress | None = None,
) -> DigitsComparison:
    """Arms: DPMix (raw pixels), DPMix on publicly centred pixels (extra), DPFMix (public PCA), DP-SGD peer."""
    say = _quiet(progress)
    n_classes = int(labels.max()) + 1  # the class count of a public benchmark is public
    arms = {
        "dpmix_raw": lambda s: PixelFeatures(),
        "dpmix_centred": lambda s: PixelFeatures(center=True),
        f"dpfmix_pca{pca_components}": lambda s: PublicPCA(pca_components, seed=s),
    }
    fmix = f"dpfmix_pca{pca_components}"
    # scores[arm][eps][(m, alpha)] -> list of (val, test) over seeds
    scores: dict[str, dict[float, dict[tuple[float, float], list[tuple[float, float]]]]] = {
        a: {e: {} for e in eps_values} for a in arms
    }
    dpsgd_scores: dict[float, list[float]] = {e: [] for e in eps_values}
    attack_rows: dict[str, list[tuple[float, float]]] = {}
    out = DigitsComparison(list(eps_values))
    for s in range(seeds):
        run_seed = seed * 100 + s
        x_pub, x_priv, y_priv, x_val, y_val, x_test, y_test = _splits(images, labels, run_seed)
        out.n_private = int(x_priv.shape[0])
        for arm, make in arms.items():
            feature_map = make(run_seed).fit(x_pub, public=True)
            f_priv = feature_map.transform_private(x_priv)
            f_val, _ = clip_rows(feature_map.transform(x_val), 1.0)
            f_test, _ = clip_rows(feature_map.transform(x_test), 1.0)
            for eps in eps_values:
                for m in m_grid:
                    say(f"E2 seed {s + 1}/{seeds}: {arm} eps={eps:g} m={m:g}")
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        release = DPFMixRelease(
                            eps, delta, m=m, n_classes=n_classes, interval=interval, seed=run_seed
                        ).fit(f_priv, y_priv)
                    for alpha in alphas:
                        model = SoftLabelRidge(alpha).fit(release.features, release.labels)
                        scores[arm][eps].setdefault((m, alpha), []).append(
                            (model.score(f_val, y_val), model.score(f_test, y_test))
                        )
                    if arm == fmix and eps in attack_eps and m == _nearest(m_grid, closed_form_m(eps, delta, len(y_priv), len(y_priv))[0]):
                        attack_rows.setdefault(f"eps{eps:g}", []).append(
                            _attack(release.features, release.labels, f_priv, y_priv, f_test, y_test, run_seed)
                        )
            if arm == fmix:
                f_priv_clipped, _ = clip_rows(f_priv, 1.0)
                attack_rows.setdefault("nonprivate", []).append(
                    _attack(f_priv_clipped, one_hot(y_priv, n_classes), f_priv, y_priv, f_test, y_test, run_seed)
                )
                if dpsgd:
                    from tenfold.dpfmix.dpsgd import train_dpsgd_linear

                    for eps in eps_values:
                        say(f"E3 seed {s + 1}/{seeds}: DP-SGD eps={eps:g}")
                        peer = train_dpsgd_linear(
                            f_priv_clipped, y_priv, n_classes, eps=eps, delta=delta, epochs=dpsgd_epochs,
                            seed=run_seed, interval=interval,
                        )
                        dpsgd_scores[eps].append(peer.score(f_test, y_test))
                        out.dpsgd_eps[eps] = peer.eps
    for arm in arms:
        out.accuracy[arm], out.accuracy_se[arm], out.chosen[arm] = {}, {}, {}
        for eps in eps_values:
            table = scores[arm][eps]
            best = max(table, key=lambda key: np.mean([v for v, _ in table[key]]))  # chosen on validation
            tests = [t for _, t in table[best]]
            out.accuracy[arm][eps] = float(np.mean(tests))
            out.accuracy_se[arm][eps] = float(np.std(tests, ddof=1) / np.sqrt(len(tests))) if len(tests) > 1 else 0.0
            out.chosen[arm][eps] = best
    if dpsgd:
        out.accuracy["dpsgd"] = {e: float(np.mean(v)) for e, v in dpsgd_scores.items()}
        out.accuracy_se["dpsgd"] = {
            e: float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0 for e, v in dpsgd_scores.items()
        }
    for key, rows in attack_rows.items():
        auc = np.array([a for a, _ in rows])
        se = np.array([e for _, e in rows])
        # pooled: mean AUC over seeds, its SE from the per-seed Hanley-McNeil SEs (independent splits)
        out.attack[key] = {"auc": float(auc.mean()), "se": float(np.sqrt(np.sum(se**2)) / len(se))}
    for eps in attack_eps:
        if f"eps{eps:g}" in out.attack:
            mu = gdp_mu_from_eps(eps, delta)
            out.attack[f"eps{eps:g}"].update({"mu": mu, "gdp_auc_bound": gdp_auc_bound(mu)})
    return out


def _nearest(grid: list[float], value: float) -> float:
    return float(min(grid, key=lambda g: abs(np.log(g) - np.log(max(value, 1e-9)))))


def _attack(
    train_x: np.ndarray,
    train_y: np.ndarray,
    members_x: np.ndarray,
    members_y: np.ndarray,
    others_x: np.ndarray,
    others_y: np.ndarray,
    seed: int,
) -> tuple[float, float]:
    """Train a linear softmax (no weight decay, to convergence) and attack it by per-sample loss."""
    members_x, _ = clip_rows(members_x, 1.0)
    model = SoftmaxRegression(l2=0.0, max_iter=300, seed=seed).fit(train_x, train_y)
    result = loss_threshold_attack(model.per_sample_loss(members_x, members_y), model.per_sample_loss(others_x, others_y))
    return result.auc, result.auc_se
