"""What two or more methods share: the experiment registry, the report, data, the fit loop, errors."""

from tenfold.core.errors import (
    BadConfigError,
    BadInputError,
    MissingDataError,
    TenfoldError,
    UnknownExperimentError,
)
from tenfold.core.experiment import Claim, Result, Scale, experiment, get_experiment, list_experiments

__all__ = [
    "BadConfigError",
    "BadInputError",
    "Claim",
    "MissingDataError",
    "Result",
    "Scale",
    "TenfoldError",
    "UnknownExperimentError",
    "experiment",
    "get_experiment",
    "list_experiments",
]
