"""The optimal mixup degree: u* solves (1+u) ln(1+u) = 2u; closed form matches the spec table; grid argmax."""

import math

import pytest

from tenfold.core.errors import BadConfigError
from tenfold.dpfmix.mstar import U_STAR, UnreachableSweetSpotWarning, closed_form_m, optimal_m


def test_u_star():
    assert U_STAR == pytest.approx(3.9216, abs=1e-4)
    assert (1 + U_STAR) * math.log1p(U_STAR) == pytest.approx(2 * U_STAR)


@pytest.mark.parametrize(("eps", "n", "expected"), [(1, 60000, 33), (4, 60000, 114), (2, 50000, 57), (4, 809, 13.3)])
def test_closed_form_matches_spec_table(eps, n, expected):
    m_star, _ = closed_form_m(eps, 1e-5, n, n)
    assert m_star == pytest.approx(expected, rel=0.02)


def test_closed_form_maximises_clt_utility():
    # m ln(1 + a/m^2) is maximal at m*: check against neighbours
    n = 20000
    m_star, mu = closed_form_m(1.0, 1e-5, n, n)
    a = mu**2 * n
    def utility(m):
        return m * math.log1p(a / m**2)
    assert utility(m_star) > utility(m_star * 0.8) and utility(m_star) > utility(m_star * 1.25)


def test_numeric_grid_argmax_is_near_closed_form():
    result = optimal_m(4.0, 1e-5, 2000, grid=[8, 16, 32, 64], interval=1e-2)
    assert result.closed_form == pytest.approx(20.9, rel=0.02)
    assert result.numeric in (16, 32)
    assert len(result.sigmas) == 4 and result.sigmas == sorted(result.sigmas)


def test_unreachable_sweet_spot_warns_and_bad_grid_refused():
    with pytest.warns(UnreachableSweetSpotWarning):
        optimal_m(50.0, 1e-5, 20, numeric=False)
    with pytest.raises(BadConfigError):
        optimal_m(1.0, 1e-5, 100, grid=[200])
