"""The Langevin simulator: determinism, back-end agreement, physics sanity, bad configs."""

import numpy as np
import pytest

from tenfold.core.errors import BadConfigError
from tenfold.mdlm import FourWellPotential, simulate, true_basins
from tenfold.mdlm.simulation import HAVE_NUMBA


def test_shape_dtype_and_determinism():
    a = simulate(3, 50, 2, seed=4)
    b = simulate(3, 50, 2, seed=4)
    assert a.shape == (3, 50, 3) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a, simulate(3, 50, 2, seed=5))


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
def test_numba_and_numpy_backends_agree():
    a = simulate(2, 40, 1, seed=1, backend="numba", chunk_frames=15)
    b = simulate(2, 40, 1, seed=1, backend="numpy", chunk_frames=15)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_force_is_minus_gradient():
    pot = FourWellPotential()
    x = np.linspace(-2.2, 2.2, 41)
    h = 1e-5
    numeric = -(pot.energy(x + h) - pot.energy(x - h)) / (2 * h)
    np.testing.assert_allclose(pot.slow_force(x), numeric, rtol=1e-4, atol=1e-4)
    assert pot.energy(np.array([0.0]))[0] > pot.energy(np.array([0.5]))[0] + 4


def test_walkers_stay_in_wells_and_fast_coordinates_flip():
    frames = simulate(8, 400, 1, seed=0)
    assert np.abs(frames[..., 0]).max() < 2.5
    flips = np.mean(np.diff(np.sign(frames[..., 1]), axis=1) != 0)
    assert 0.03 < flips < 0.3  # fast: about one flip in ten frames
    assert set(np.unique(true_basins(frames[..., 0]))) <= {0, 1, 2, 3}


@pytest.mark.parametrize("kwargs", [{"n_walkers": 0}, {"n_frames": 0}, {"n_fast": -1}, {"dt": 0.0},
                                    {"backend": "gpu"}])
def test_bad_configs(kwargs):
    args = {"n_walkers": 2, "n_frames": 5, "n_fast": 1} | kwargs
    with pytest.raises(BadConfigError):
        simulate(**args)
