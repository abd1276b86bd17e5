"""mdlm: language models of molecular-dynamics kinetics compared with Markov state models.

Zeng, Cao, Huang & Yao, "A Note on Learning Rare Events in Molecular Dynamics using LSTM and
Transformer" (arXiv:2107.06573, 2021): LSTM/Transformer models of discretised MD learn slow
kinetics only with the right state partition (metastable macrostates, recrossings removed) and
temporal resolution.
"""

from tenfold.mdlm.kinetics import (
    MfptError,
    PassageStatistics,
    bootstrap_error,
    mfpt_error,
    mfpt_matrix,
    msm_mfpt_between_sets,
    passage_statistics,
    passage_times,
    populations,
    total_variation,
    transitions_per_1e5,
)
from tenfold.mdlm.language_model import (
    KineticLanguageModel,
    LanguageModelConfig,
    StateLanguageModel,
    Vocabulary,
)
from tenfold.mdlm.partition import (
    MacrostateMap,
    MarkovModelFit,
    chapman_kolmogorov,
    cluster_microstates,
    fit_msm,
    implied_timescales,
    min_dwell_filter,
    nearest_centre_bins,
    pcca_lumping,
    transition_based_assignment,
)
from tenfold.mdlm.simulation import BASIN_CENTRES, FourWellPotential, simulate, true_basins
from tenfold.mdlm.study import (
    KineticsScore,
    Reference,
    StatePartition,
    bins_partition,
    build_partition,
    held_out_seeds,
    score,
    simulate_msm,
)
from tenfold.mdlm.trajectories import as_dtrajs, as_walkers, load_array, read_trajectory

__all__ = [
    "BASIN_CENTRES", "FourWellPotential", "KineticLanguageModel", "KineticsScore", "LanguageModelConfig",
    "MacrostateMap", "MarkovModelFit", "MfptError", "PassageStatistics", "Reference", "StateLanguageModel",
    "StatePartition", "Vocabulary", "as_dtrajs", "as_walkers", "bins_partition", "bootstrap_error",
    "build_partition", "chapman_kolmogorov", "cluster_microstates", "fit_msm", "held_out_seeds",
    "implied_timescales", "load_array", "mfpt_error", "mfpt_matrix", "min_dwell_filter", "msm_mfpt_between_sets",
    "nearest_centre_bins", "passage_statistics", "passage_times", "pcca_lumping", "populations",
    "read_trajectory", "score", "simulate", "simulate_msm", "total_variation", "transition_based_assignment",
    "transitions_per_1e5", "true_basins",
]
