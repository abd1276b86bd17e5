"""Typed errors: every bad input ends in one of these, with what was wrong and how to fix it."""

from __future__ import annotations


class TenfoldError(Exception):
    """Base of every error tenfold raises on purpose; the CLI prints it on one line and exits 2."""


class BadInputError(TenfoldError, ValueError):
    """An argument or a file's content is malformed: wrong shape, range, dtype, NaN, empty."""


class MissingDataError(TenfoldError, FileNotFoundError):
    """A path that was given does not exist or holds none of the expected files."""


class BadConfigError(TenfoldError, ValueError):
    """A parameter is absurd or a combination of parameters is inconsistent."""


class UnknownExperimentError(TenfoldError, KeyError):
    """An experiment name is not in the registry."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""
