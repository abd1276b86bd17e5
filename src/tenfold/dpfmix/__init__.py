"""DPFMix: differentially private data release by random feature mixup (Li, Cao, Yao 2022).

Public API: :class:`DPFMixRelease` (the release), :func:`optimal_m` (the sweet spot), the PLD/GDP
accounting helpers, public-only feature maps, downstream models and the membership-inference check.
"""

from tenfold.dpfmix.accounting import (
    calibrate_sigma,
    gdp_advantage_bound,
    gdp_auc_bound,
    gdp_mu_from_eps,
    gdp_mu_from_sigma,
    gdp_sigma_from_mu,
    pld_epsilon,
    prv_epsilon,
)
from tenfold.dpfmix.downstream import SoftLabelRidge, SoftmaxRegression, loss_threshold_attack
from tenfold.dpfmix.features import HOGFeatures, PixelFeatures, PrivateFitError, PublicPCA
from tenfold.dpfmix.mixing import poisson_mixing_matrix, split_noise
from tenfold.dpfmix.mstar import U_STAR, OptimalM, closed_form_m, optimal_m
from tenfold.dpfmix.release import DPFMixRelease, ReleasedData

__all__ = [
    "DPFMixRelease",
    "HOGFeatures",
    "OptimalM",
    "PixelFeatures",
    "PrivateFitError",
    "PublicPCA",
    "ReleasedData",
    "SoftLabelRidge",
    "SoftmaxRegression",
    "U_STAR",
    "calibrate_sigma",
    "closed_form_m",
    "gdp_advantage_bound",
    "gdp_auc_bound",
    "gdp_mu_from_eps",
    "gdp_mu_from_sigma",
    "gdp_sigma_from_mu",
    "loss_threshold_attack",
    "optimal_m",
    "pld_epsilon",
    "poisson_mixing_matrix",
    "prv_epsilon",
    "split_noise",
]
