"""The mixing matrix: Poisson inclusion at rate m/n, fixed 1/m weights, sparse; the noise split identity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from tenfold.core.errors import BadConfigError
from tenfold.dpfmix.mixing import (
    clip_rows,
    dense_mixing_matrix,
    gaussian_noise,
    poisson_mixing_matrix,
    split_noise,
)


def test_matrix_is_sparse_with_fixed_weights_and_poisson_rate():
    rng = np.random.default_rng(0)
    n, releases, m = 40, 20000, 4
    matrix = poisson_mixing_matrix(n, releases, m, rng)
    assert sparse.issparse(matrix) and matrix.shape == (releases, n)
    assert np.allclose(matrix.data, 1 / m)
    inclusion = (matrix.toarray() > 0).mean(axis=0)
    assert np.allclose(inclusion, m / n, atol=0.01)  # each record in each mixture with prob m/n
    sizes = np.diff(matrix.indptr)
    assert sizes.mean() == pytest.approx(m, rel=0.02)
    assert sizes.var() == pytest.approx(n * (m / n) * (1 - m / n), rel=0.08)  # Binomial, not fixed size


def test_matrix_is_seeded_and_matches_dense_construction_in_law():
    a = poisson_mixing_matrix(100, 50, 5, np.random.default_rng(3))
    b = poisson_mixing_matrix(100, 50, 5, np.random.default_rng(3))
    assert (a != b).nnz == 0
    dense = dense_mixing_matrix(100, 4000, 5, np.random.default_rng(0))
    ours = poisson_mixing_matrix(100, 4000, 5, np.random.default_rng(1))
    assert (dense > 0).mean() == pytest.approx(ours.nnz / (100 * 4000), rel=0.05)


def test_explicit_rate_keeps_the_fixed_weight():
    matrix = poisson_mixing_matrix(500, 4000, 8, np.random.default_rng(0), rate=0.01)
    assert np.allclose(matrix.data, 1 / 8)
    assert np.diff(matrix.indptr).mean() == pytest.approx(5.0, rel=0.05)  # rate * n records per mixture


def test_secure_noise_has_the_requested_scale_and_is_centred():
    noise = gaussian_noise(np.random.default_rng(0), (200000,), 2.5)
    assert noise.mean() == pytest.approx(0.0, abs=0.02)
    assert noise.std() == pytest.approx(2.5, rel=0.01)
    with pytest.raises(BadConfigError):
        gaussian_noise(np.random.default_rng(0), (3,), float("nan"))


def test_matrix_scales_linearly_not_quadratically():
    matrix = poisson_mixing_matrix(200000, 1000, 16, np.random.default_rng(0))
    assert matrix.nnz < 1000 * 16 * 2


@pytest.mark.parametrize("m", [0, -1, 40, 50])
def test_m_out_of_range(m):
    with pytest.raises(BadConfigError):
        poisson_mixing_matrix(40, 10, m, np.random.default_rng(0))


@settings(max_examples=50, deadline=None)
@given(sigma=st.floats(0.01, 100), lam=st.floats(0.01, 100))
def test_noise_split_keeps_the_joint_multiplier(sigma, lam):
    sx, sy = split_noise(sigma, lam)
    assert 1 / sx**2 + 1 / sy**2 == pytest.approx(1 / sigma**2, rel=1e-9)


def test_lambda_one_gives_equal_split():
    assert split_noise(1.0, 1.0) == pytest.approx((np.sqrt(2), np.sqrt(2)))
    with pytest.raises(BadConfigError):
        split_noise(1.0, 0.0)


def test_clip_rows_reports_fraction():
    x = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    clipped, fraction = clip_rows(x, 1.0)
    assert np.allclose(np.linalg.norm(clipped, axis=1), [1.0, 0.5, 0.0])
    assert fraction == pytest.approx(1 / 3)
