"""What two or more methods share: the experiment contract, statistics and timing for claims, files in
and out, secret randomness, input checks, the report, data and the fit loop."""

from tenfold.core.errors import (
    BadConfigError,
    BadInputError,
    MissingDataError,
    TenfoldError,
    UnknownExperimentError,
)
from tenfold.core.experiment import (
    Claim,
    ClaimSpec,
    Measurements,
    Result,
    Scale,
    Settings,
    Unmeasured,
    experiment,
    get_experiment,
    list_experiments,
)
from tenfold.core.intervals import Samples

__all__ = [
    "BadConfigError",
    "BadInputError",
    "Claim",
    "ClaimSpec",
    "Measurements",
    "MissingDataError",
    "Result",
    "Samples",
    "Scale",
    "Settings",
    "TenfoldError",
    "UnknownExperimentError",
    "Unmeasured",
    "experiment",
    "get_experiment",
    "list_experiments",
]
