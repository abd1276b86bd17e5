"""Accountant non-convergence (prv_accountant#36-style failures): fall back to a coarser PLD and say so."""

import pytest

from tenfold.dpfmix import accounting


def test_fine_interval_failure_falls_back_with_warning(monkeypatch):
    real = accounting._pld_epsilon

    def flaky(sigma, rate, releases, delta, interval, adjacency):
        if interval < 1e-3:
            raise ValueError("discrete mean differs")
        return real(sigma, rate, releases, delta, interval, adjacency)

    monkeypatch.setattr(accounting, "_pld_epsilon", flaky)
    with pytest.warns(accounting.AccountantFallbackWarning, match="fell back to interval 0.001"):
        eps = accounting.pld_epsilon(1.0, 0.01, 100, 1e-5, interval=1e-4)
    assert eps == pytest.approx(real(1.0, 0.01, 100, 1e-5, 1e-3, "add-remove"))
