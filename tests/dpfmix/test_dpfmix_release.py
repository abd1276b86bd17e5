"""DPFMixRelease: shapes, guarantee, noise scale, adjacency, seeded determinism, and every bad input of spec A7."""

import warnings

import numpy as np
import pytest

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.dpfmix.accounting import WeakNoiseWarning
from tenfold.dpfmix.release import DPFMixRelease, LargeDeltaWarning, LargeSamplingRateWarning, one_hot


def _data(n=300, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, size=n)


pytestmark = pytest.mark.filterwarnings("ignore::tenfold.core.randomness.InsecureSeedWarning")


def test_release_shapes_guarantee_and_label_clipping():
    x, y = _data()
    release = DPFMixRelease(2.0, 1e-4, m=10, n_classes=3, interval=1e-2).fit(x, y)
    assert release.features.shape == (300, 5) and release.labels.shape == (300, 3)
    assert release.eps <= 2.0 and release.adjacency == "replace-one"
    assert np.all(release.labels >= 0)
    assert 1 / release.sigma_x**2 + 1 / release.sigma_y**2 == pytest.approx(1 / release.sigma**2)
    assert release.diagnostics["clipped_fraction"] > 0.9  # N(0, I_5) rows have norm ~2 > C_x = 1
    assert "clipped_fraction" not in release.summary()


def test_release_is_deterministic_per_insecure_seed():
    x, y = _data()
    a = DPFMixRelease(2.0, 1e-4, m=10, n_classes=3, interval=1e-2, insecure_seed=7).fit(x, y)
    b = DPFMixRelease(2.0, 1e-4, m=10, n_classes=3, interval=1e-2, insecure_seed=7).fit(x, y)
    c = DPFMixRelease(2.0, 1e-4, m=10, n_classes=3, interval=1e-2, insecure_seed=8).fit(x, y)
    assert np.array_equal(a.features, b.features)
    assert not np.allclose(a.features, c.features)


def test_replace_one_needs_more_noise_than_add_remove_for_the_same_target():
    x, y = _data()
    replace = DPFMixRelease(2.0, 1e-4, m=10, n_classes=3, interval=1e-2).fit(x, y)
    add_remove = DPFMixRelease(2.0, 1e-4, m=10, n_classes=3, interval=1e-2, n_public=300).fit(x, y)
    assert add_remove.adjacency == "add-remove" and add_remove.eps <= 2.0
    assert replace.sigma > 1.2 * add_remove.sigma


def test_add_remove_uses_the_public_count_for_rate_and_T():
    x, y = _data(n=280)
    release = DPFMixRelease(2.0, 1e-4, m=10, n_classes=3, interval=1e-2, n_public=300, insecure_seed=0).fit(x, y)
    assert release.releases == 300 and release.sampling_rate == pytest.approx(10 / 300)
    assert release.n_public == 300 and release.diagnostics["n"] == 280


def test_mixture_mean_and_noise_scale_follow_the_mechanism():
    # all records identical (norm 1): a mixture is (|S|/m) f + N(0, (sigma_x/m)^2), |S| ~ Bin(n, m/n)
    n, m = 400, 8
    x = np.tile([[0.6, 0.8]], (n, 1))
    release = DPFMixRelease(4.0, 1e-4, m=m, releases=4000, interval=1e-2, insecure_seed=1).fit(x, targets=np.zeros(n))
    assert release.features.mean(axis=0) == pytest.approx([0.6, 0.8], abs=0.05)
    ratio_variance = (m / n) * (1 - m / n) * n / m**2  # variance of |S|/m
    expected = ratio_variance * np.array([0.36, 0.64]) + (release.sigma_x / m) ** 2
    assert release.features.var(axis=0) == pytest.approx(expected, rel=0.1)
    assert release.labels.std() == pytest.approx(release.sigma_y / m, rel=0.1)


def test_auto_m_uses_the_closed_form():
    x, y = _data(n=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        release = DPFMixRelease(4.0, 1e-5, m="auto", n_classes=3, interval=1e-2).fit(x, y)
    assert release.m == round(0.925 * 2000 / np.sqrt(3.9216 * 2000))


def test_save_writes_npz_with_meta(tmp_path):
    x, y = _data()
    release = DPFMixRelease(2.0, 1e-4, m=10, n_classes=3, interval=1e-2).fit(x, y)
    path = release.save(tmp_path / "r.npz")
    loaded = np.load(path)
    assert loaded["features"].shape == (300, 5)
    assert '"eps"' in str(loaded["meta"]) and '"adjacency": "replace-one"' in str(loaded["meta"])
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        (dict(m=0), BadConfigError, "mixup degree m"),
        (dict(m=300), BadConfigError, "0 < m < n"),
        (dict(m="big"), BadConfigError, "auto"),
        (dict(eps=0.0), BadConfigError, "epsilon"),
        (dict(delta=1.5), BadConfigError, "delta"),
        (dict(releases=0), BadConfigError, "releases T"),
        (dict(interval=0.0), BadConfigError, "interval"),
        (dict(interval=-1.0), BadConfigError, "interval"),
        (dict(interval=float("nan")), BadConfigError, "interval"),
        (dict(adjacency="swap"), BadConfigError, "adjacency"),
        (dict(adjacency="add-remove"), BadConfigError, "n_public"),
        (dict(n_public=299), BadConfigError, "replace-one"),
        (dict(insecure_seed=-1), BadConfigError, "insecure seed"),
        (dict(n_classes=None), BadConfigError, "n_classes"),
        (dict(n_classes=2), BadInputError, "labels must lie in 0..1"),
    ],
)
def test_bad_configuration(kwargs, error, text):
    x, y = _data()
    params = dict(eps=1.0, delta=1e-4, m=10, n_classes=3, interval=1e-2, adjacency=None) | kwargs
    if "n_public" in kwargs:
        params["adjacency"] = "replace-one"
    eps = params.pop("eps")
    with pytest.raises(error, match=text):
        DPFMixRelease(eps, **params).fit(x, y)


def test_bad_features_and_labels():
    x, y = _data()
    release = DPFMixRelease(1.0, 1e-4, m=10, n_classes=3, interval=1e-2)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(BadInputError, match="NaN"):
        release.fit(bad, y)
    with pytest.raises(BadInputError, match="labels must lie"):
        release.fit(x, np.r_[y[:-1], -1])
    with pytest.raises(BadInputError, match="rows"):
        release.fit(x, y[:-1])
    with pytest.raises(BadInputError, match="exactly one"):
        release.fit(x)
    with pytest.raises(BadInputError, match="2-D"):
        release.fit(x[:, 0], y)


def test_warnings_for_large_rate_large_delta_and_weak_noise():
    x, y = _data(n=40)
    with pytest.warns(LargeSamplingRateWarning):
        DPFMixRelease(8.0, 1e-5, m=30, n_classes=3, interval=1e-2).fit(x, y)
    with pytest.warns(LargeDeltaWarning):
        DPFMixRelease(8.0, 0.1, m=4, n_classes=3, interval=1e-2).fit(x, y)
    x, y = _data(n=2000)
    with pytest.warns(WeakNoiseWarning):
        DPFMixRelease(1.0, 1e-5, m=2, n_classes=3, interval=1e-2).fit(x, y)


def test_one_hot():
    assert np.array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(BadInputError):
        one_hot(np.array([0.5, 1.0]), 3)


def test_auto_m_warns_when_sweet_spot_is_unreachable():
    from tenfold.dpfmix.mstar import UnreachableSweetSpotWarning

    x, y = _data(n=30)
    with pytest.warns(UnreachableSweetSpotWarning), warnings.catch_warnings():
        warnings.simplefilter("ignore", LargeSamplingRateWarning)
        release = DPFMixRelease(60.0, 1e-5, m="auto", n_classes=3, interval=1e-2).fit(x, y)
    assert release.m > 15
