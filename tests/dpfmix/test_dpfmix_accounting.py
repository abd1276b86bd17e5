"""Accounting: GDP-CLT formulas on hand-computed values, PLD calibration, PRV cross-check, bad input."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold.core.errors import BadConfigError
from tenfold.dpfmix.accounting import (
    calibrate_sigma,
    gdp_advantage_bound,
    gdp_auc_bound,
    gdp_delta,
    gdp_mu_from_eps,
    gdp_mu_from_sigma,
    gdp_sigma_from_mu,
    pld_epsilon,
    prv_epsilon,
)


def test_mu_for_eps_one_matches_spec_table():
    assert gdp_mu_from_eps(1.0, 1e-5) == pytest.approx(0.268, abs=1e-3)
    assert gdp_mu_from_eps(4.0, 1e-5) == pytest.approx(0.925, abs=1e-3)


def test_gdp_delta_is_what_mu_from_eps_inverts():
    mu = gdp_mu_from_eps(2.0, 1e-6)
    assert gdp_delta(mu, 2.0) == pytest.approx(1e-6, rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(sigma=st.floats(0.3, 20.0), rate=st.floats(1e-4, 0.3), releases=st.integers(1, 100000))
def test_clt_sigma_round_trip(sigma, rate, releases):
    mu = gdp_mu_from_sigma(sigma, rate, releases)
    assert gdp_sigma_from_mu(mu, rate, releases) == pytest.approx(sigma, rel=1e-9)


def test_attack_bounds_at_eps_one():
    mu = gdp_mu_from_eps(1.0, 1e-5)
    assert gdp_auc_bound(mu) == pytest.approx(0.575, abs=1e-3)
    assert gdp_advantage_bound(mu) == pytest.approx(0.107, abs=1e-3)
    assert gdp_auc_bound(0.0) == pytest.approx(0.5)


def test_calibrated_sigma_meets_target_tightly():
    rate, releases = 8 / 1797, 1797
    sigma = calibrate_sigma(1.0, 1e-5, rate, releases, interval=1e-3)
    eps = pld_epsilon(sigma, rate, releases, 1e-5, interval=1e-3)
    assert eps <= 1.0
    assert pld_epsilon(sigma * 0.98, rate, releases, 1e-5, interval=1e-3) > 1.0  # not wastefully large


def test_clt_underestimates_epsilon_at_small_sigma():
    # spec A1: with the CLT calibrated for eps = 1 and m = 1, the true (PLD) epsilon is several times larger
    n = 5000
    sigma_clt = gdp_sigma_from_mu(gdp_mu_from_eps(1.0, 1e-5), 1 / n, n)
    assert sigma_clt < 0.7
    assert pld_epsilon(sigma_clt, 1 / n, n, 1e-5, interval=1e-3) > 2.0


def test_replace_one_accounting_matches_issue_numbers():
    # issue 16: n = T = 2000, m = 21, sigma calibrated to eps 4 under add/remove is eps 5.91 under replace-one
    sigma, rate, releases = 0.84101, 21 / 2000, 2000
    assert pld_epsilon(sigma, rate, releases, 1e-5, interval=1e-3) == pytest.approx(3.99, abs=0.01)
    assert pld_epsilon(sigma, rate, releases, 1e-5, interval=1e-3, adjacency="replace-one") == pytest.approx(5.91, abs=0.01)


@pytest.mark.parametrize("interval", [0.0, -1.0, math.nan, math.inf, 0.5])
def test_bad_interval_is_refused(interval):
    # issue 17: --interval -1 once released with sigma ~8e4 and printed eps 0.0000
    with pytest.raises(BadConfigError, match="interval"):
        pld_epsilon(1.0, 0.01, 10, 1e-5, interval=interval)
    with pytest.raises(BadConfigError, match="interval"):
        calibrate_sigma(1.0, 1e-5, 0.01, 10, interval=interval)


def test_unknown_adjacency_is_refused():
    with pytest.raises(BadConfigError, match="adjacency"):
        pld_epsilon(1.0, 0.01, 10, 1e-5, adjacency="swap-two")


def test_pld_agrees_with_prv_accountant():
    sigma, rate, releases = 1.2, 0.01, 500
    low, estimate, high = prv_epsilon(sigma, rate, releases, 1e-5)
    pld = pld_epsilon(sigma, rate, releases, 1e-5)
    assert low - 0.02 <= pld <= high + 0.02
    assert pld == pytest.approx(estimate, abs=0.03)


@pytest.mark.parametrize(
    ("eps", "delta", "rate", "releases"),
    [(0.0, 1e-5, 0.01, 10), (-1.0, 1e-5, 0.01, 10), (math.inf, 1e-5, 0.01, 10), (1.0, 0.0, 0.01, 10),
     (1.0, 1.0, 0.01, 10), (1.0, 1e-5, 1.0, 10), (1.0, 1e-5, 0.0, 10), (1.0, 1e-5, 0.01, 0)],
)
def test_bad_privacy_parameters_are_refused(eps, delta, rate, releases):
    with pytest.raises(BadConfigError):
        calibrate_sigma(eps, delta, rate, releases)
