"""Partition with deeptime: k-means, MSM on the largest connected set, PCCA+, cores, bad inputs."""

import numpy as np
import pytest

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.mdlm import (
    as_dtrajs,
    as_walkers,
    build_partition,
    chapman_kolmogorov,
    cluster_microstates,
    fit_msm,
    implied_timescales,
    pcca_lumping,
    simulate,
    true_basins,
)


@pytest.fixture(scope="module")
def small_system():
    frames = simulate(8, 2500, 1, seed=3)
    walkers = list(frames)
    micro, centres = cluster_microstates(walkers, 24, seed=0, max_fit_frames=5000)
    return walkers, micro, centres


def test_pcca_recovers_true_basins(small_system):
    walkers, micro, centres = small_system
    part = build_partition(micro, 24, train_walkers=6, order_by=centres[:, 0],
                           truth=[true_basins(w[:, 0]) for w in walkers])
    assert part.info["adjusted_rand_index"] > 0.9
    assert part.macro_map.n_macro == 4
    # ordered by the slow coordinate: macrostate 0 is the leftmost well
    left = np.concatenate([part.macro_map.crisp[d][w[:, 0] < -1.3] for d, w in zip(micro, walkers, strict=True)])
    assert np.mean(left == 0) > 0.95
    tokens = part.tokens("core")
    assert all(t.min() >= 0 for t in tokens)


def test_implied_timescales_and_ck_test(small_system):
    _, micro, _ = small_system
    its = implied_timescales(micro, [1, 5], 3)
    assert its.shape == (2, 3) and np.all(its[:, 0] > its[:, 2])
    ck = chapman_kolmogorov(micro, 5, 4, multiples=2)
    assert ck["predictions"].shape == ck["estimates"].shape == (3, 4)
    assert np.all(np.abs(ck["predictions"][1:] - ck["estimates"][1:]) < 0.2)


def test_disconnected_states_are_dropped_with_a_warning():
    d = [np.array([0, 1, 0, 1, 0, 1, 1, 0, 2, 2, 2])]  # state 2 is entered but never left
    with pytest.warns(UserWarning, match="largest connected set"):
        fit = fit_msm(d, 1)
    assert fit.active_set.tolist() == [0, 1] and fit.dropped_states.tolist() == [2]
    assert fit.to_active(np.array([2, 1, 0])).tolist() == [-1, 1, 0]


def test_bad_partition_inputs(small_system):
    _, micro, _ = small_system
    fit = fit_msm(micro, 5)
    with pytest.raises(BadConfigError, match="smaller than"):
        pcca_lumping(fit, 24)
    with pytest.raises(BadConfigError, match=">= 2"):
        pcca_lumping(fit, 1)
    with pytest.raises(BadInputError, match="lower theta_core"):
        pcca_lumping(fit, 4, theta_core=1.0)
    with pytest.raises(BadConfigError, match="lag"):
        fit_msm([np.array([0, 1, 0])], 3)


def test_bad_trajectories():
    with pytest.raises(BadInputError, match="NaN"):
        as_walkers(np.array([[0.0, 1.0], [np.nan, 1.0]]))
    with pytest.raises(BadInputError, match="features"):
        as_walkers([np.zeros((5, 2)), np.zeros((5, 3))])
    with pytest.raises(BadInputError, match="dimensions"):
        as_walkers(np.zeros((2, 2, 2, 2)))
    with pytest.raises(BadInputError, match="non-integer"):
        as_dtrajs(np.array([0.0, 1.5]))
    with pytest.raises(BadInputError, match="negative"):
        as_dtrajs(np.array([0, -2]))


def test_readers(tmp_path):
    from tenfold.core.errors import MissingDataError
    from tenfold.mdlm import read_trajectory

    table = tmp_path / "COLVAR"
    table.write_text("#! FIELDS time phi\n0 0.1\n1 0.2\n2 -0.3\n")
    walkers = read_trajectory(table)
    assert len(walkers) == 1 and walkers[0].shape == (3, 2)
    np.save(tmp_path / "w.npy", np.zeros((2, 5, 3)))
    assert [w.shape for w in read_trajectory(tmp_path / "w.npy")] == [(5, 3), (5, 3)]
    with pytest.raises(MissingDataError):
        read_trajectory(tmp_path / "absent.npy")
    dcd = tmp_path / "run.dcd"
    dcd.write_bytes(b"\0" * 10)
    try:
        import mdtraj  # noqa: F401
    except ImportError:
        with pytest.raises(BadInputError, match="mdtraj"):
            read_trajectory(dcd)
