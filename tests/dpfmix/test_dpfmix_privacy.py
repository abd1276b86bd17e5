"""Attacks that a release must survive in real use (issue 16): seed replay, repeated releases, leaky metadata.

The positive controls show each attack works when the release opts in to a replayable seed, so a pass on
the default release means the attack failed, not that the test was blind.
"""

import json
import warnings

import numpy as np
import pytest

from tenfold.core.randomness import InsecureSeedWarning
from tenfold.dpfmix.mixing import clip_rows, gaussian_noise, poisson_mixing_matrix
from tenfold.dpfmix.release import DPFMixRelease

N, D, K, M, T = 300, 6, 4, 16, 600


def _private(seed=0, scale=1.0, n=N):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, D)) * scale, rng.integers(0, K, size=n)


def _meta(path):
    with np.load(path, allow_pickle=False) as archive:
        return sorted(archive.files), json.loads(str(archive["meta"]))


def _replay(path, candidate_seed):
    """The attack of issue 16: rebuild the mixing matrix and the noise from a guessed seed, subtract the noise
    and invert the mixing by least squares; returns the recovered (n, d) features."""
    with np.load(path, allow_pickle=False) as archive:
        features = archive["features"].astype(np.float64)
        meta = json.loads(str(archive["meta"]))
    n, releases, m = meta["n_public"], meta["releases"], meta["m"]
    generator = np.random.Generator(np.random.PCG64(candidate_seed))
    mixing = poisson_mixing_matrix(n, releases, m, generator, rate=meta["sampling_rate"])
    noise = gaussian_noise(generator, features.shape, meta["sigma_x"] * meta["clip_features"] / m)
    recovered, *_ = np.linalg.lstsq(mixing.toarray(), features - noise, rcond=None)
    return recovered


def _release(tmp_path, name, x, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureSeedWarning)
        release = DPFMixRelease(1.0, 1e-5, m=M, releases=T, n_classes=K, interval=1e-2, **kwargs).fit(x, y)
    return release, release.save(tmp_path / name)


def _distance(a, b):
    return float(np.mean(np.linalg.norm(a - b, axis=1)))


def test_seed_replay_recovers_a_seeded_release_but_not_a_default_one(tmp_path):
    x, y = _private()
    truth, _ = clip_rows(x, 1.0)
    chance = _distance(truth, truth[np.random.default_rng(1).permutation(N)])  # a random other record
    _, seeded = _release(tmp_path, "seeded.npz", x, y, insecure_seed=0)
    assert _distance(_replay(seeded, 0), truth) < 1e-3  # the attack works when the seed is known
    _, default = _release(tmp_path, "default.npz", x, y)
    for candidate in range(5):  # the public default and a few small user seeds
        assert _distance(_replay(default, candidate), truth) >= chance


def test_two_default_releases_of_the_same_data_differ_and_seeded_ones_repeat(tmp_path):
    x, y = _private()
    a, _ = _release(tmp_path, "a.npz", x, y)
    b, _ = _release(tmp_path, "b.npz", x, y)
    assert not np.allclose(a.features, b.features)
    assert np.corrcoef(a.features.ravel(), b.features.ravel())[0, 1] < 0.5
    c, _ = _release(tmp_path, "c.npz", x, y, insecure_seed=7)
    d, _ = _release(tmp_path, "d.npz", x, y, insecure_seed=7)
    assert np.array_equal(c.features, d.features)


def test_insecure_seed_warns_and_is_written_into_the_release(tmp_path):
    x, y = _private()
    with pytest.warns(InsecureSeedWarning, match="replayable seed 3"):
        release = DPFMixRelease(1.0, 1e-5, m=M, n_classes=K, interval=1e-2, insecure_seed=3).fit(x, y)
    _, meta = _meta(release.save(tmp_path / "r.npz"))
    assert meta["randomness"]["insecure_seed"] == 3 and "INSECURE" in meta["randomness"]["randomness"]
    _, secure = _release(tmp_path, "s.npz", x, y)
    assert _meta(secure)[1]["randomness"]["insecure_seed"] is None


def test_release_file_holds_no_field_derived_from_private_data(tmp_path):
    # Same n and d, very different records: one set is entirely clipped, the other not at all. Every field
    # of the file except the noisy arrays must be identical, so none of them is a statistic of the records.
    big, y = _private(seed=0, scale=10.0)
    small, y2 = _private(seed=5, scale=0.01)
    first, path_a = _release(tmp_path, "a.npz", big, y)
    second, path_b = _release(tmp_path, "b.npz", small, y2)
    assert first.diagnostics["clipped_fraction"] == 1.0 and second.diagnostics["clipped_fraction"] == 0.0
    files_a, meta_a = _meta(path_a)
    files_b, meta_b = _meta(path_b)
    assert files_a == files_b == ["features", "labels", "meta"]
    assert meta_a == meta_b
    assert meta_a["adjacency"] == "replace-one" and meta_a["n_public"] == N  # n published, so replace-one
    assert "clipped" not in json.dumps(meta_a)


def test_add_remove_release_publishes_only_the_public_count(tmp_path):
    # Under add/remove the true n is private: two data sets of different size give identical metadata.
    x, y = _private(n=N)
    x2, y2 = _private(seed=3, n=N - 7)
    _, path_a = _release(tmp_path, "a.npz", x, y, adjacency="add-remove", n_public=N)
    _, path_b = _release(tmp_path, "b.npz", x2, y2, adjacency="add-remove", n_public=N)
    meta_a, meta_b = _meta(path_a)[1], _meta(path_b)[1]
    assert meta_a == meta_b
    assert meta_a["adjacency"] == "add-remove" and meta_a["n_public"] == N and meta_a["sampling_rate"] == M / N
