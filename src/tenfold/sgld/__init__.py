"""SGLD generalization bounds via information leakage (Wu, Liang, Bian, Chen, Huang, Yao 2021).

Public API: the :class:`SGLD` optimizer with an explicit inverse temperature, temperature conversions,
per-example gradients, the trajectory runner that accumulates leakage, the bounds, and the leakage audit.
"""

from tenfold.sgld.audit import MembershipAudit, clopper_pearson, empirical_epsilon, membership_audit
from tenfold.sgld.bounds import (
    bound_dp,
    bound_kl,
    bound_li,
    bound_lipschitz,
    bound_mou,
    bound_negrea,
    bound_pensia,
    dp_noise_multiplier,
    dp_total_variation,
)
from tenfold.sgld.canary import CanaryAudit, canary_audit
from tenfold.sgld.grid import GridResult, grid_study
from tenfold.sgld.models import LinearSoftmax
from tenfold.sgld.optimizer import SGLD
from tenfold.sgld.per_example import check_per_example_compatible, clip_per_example, per_example_gradients
from tenfold.sgld.temperature import CONVENTIONS, inverse_temperature, noise_std
from tenfold.sgld.trajectory import LangevinRun, Snapshot, run_sgld

__all__ = [
    "CONVENTIONS",
    "CanaryAudit",
    "SGLD",
    "GridResult",
    "LangevinRun",
    "LinearSoftmax",
    "MembershipAudit",
    "Snapshot",
    "bound_dp",
    "canary_audit",
    "bound_kl",
    "bound_li",
    "bound_lipschitz",
    "bound_mou",
    "bound_negrea",
    "bound_pensia",
    "check_per_example_compatible",
    "clip_per_example",
    "clopper_pearson",
    "dp_noise_multiplier",
    "dp_total_variation",
    "empirical_epsilon",
    "grid_study",
    "inverse_temperature",
    "membership_audit",
    "noise_std",
    "per_example_gradients",
    "run_sgld",
]
