"""mdlm: language models of molecular-dynamics kinetics compared with Markov state models.

Zeng, Cao, Huang & Yao, "A Note on Learning Rare Events in Molecular Dynamics using LSTM and
Transformer" (arXiv:2107.06573, 2021): LSTM/Transformer models of discretised MD learn slow
kinetics only with the right state partition (metastable macrostates, recrossings removed) and
temporal resolution.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "BASIN_CENTRES": "simulation",
    "FourWellPotential": "simulation",
    "KineticLanguageModel": "language_model",
    "KineticsScore": "study",
    "LanguageModelConfig": "language_model",
    "MacrostateMap": "partition",
    "MarkovModelFit": "partition",
    "MfptError": "kinetics",
    "PassageStatistics": "kinetics",
    "Reference": "study",
    "StateLanguageModel": "language_model",
    "StatePartition": "study",
    "Vocabulary": "language_model",
    "as_dtrajs": "trajectories",
    "as_walkers": "trajectories",
    "bins_partition": "study",
    "bootstrap_error": "kinetics",
    "build_partition": "study",
    "chapman_kolmogorov": "partition",
    "cluster_microstates": "partition",
    "fit_msm": "partition",
    "held_out_seeds": "study",
    "implied_timescales": "partition",
    "load_array": "trajectories",
    "mfpt_error": "kinetics",
    "mfpt_matrix": "kinetics",
    "min_dwell_filter": "partition",
    "msm_mfpt_between_sets": "kinetics",
    "nearest_centre_bins": "partition",
    "passage_statistics": "kinetics",
    "passage_times": "kinetics",
    "pcca_lumping": "partition",
    "populations": "kinetics",
    "read_trajectory": "trajectories",
    "score": "study",
    "simulate": "simulation",
    "simulate_msm": "study",
    "total_variation": "kinetics",
    "transition_based_assignment": "partition",
    "transitions_per_1e5": "kinetics",
    "true_basins": "simulation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.mdlm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.mdlm.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
