"""Fixtures for core tests: an isolated experiment registry."""

import importlib

import pytest

experiment_module = importlib.import_module("tenfold.core.experiment")


@pytest.fixture
def isolated_registry(monkeypatch):
    """An empty registry for the test, with method discovery switched off; restored afterwards."""
    monkeypatch.setattr(experiment_module, "_REGISTRY", {})
    monkeypatch.setattr(experiment_module, "_IMPORT_ERRORS", {})
    monkeypatch.setattr(experiment_module, "load_experiments", lambda: {})
    import tenfold.cli

    monkeypatch.setattr(tenfold.cli, "load_experiments", lambda: {})
    return experiment_module._REGISTRY


@pytest.fixture
def toy_settings():
    """SETTINGS for a toy experiment: one frozen Settings subclass, a value per scale."""
    from dataclasses import dataclass

    from tenfold.core.experiment import Scale, Settings

    @dataclass(frozen=True, kw_only=True)
    class ToySettings(Settings):
        # how many seeds the toy run uses
        seeds: int = 3

    return {Scale.SMOKE: ToySettings(seeds=1), Scale.SMALL: ToySettings(), Scale.FULL: ToySettings(seeds=5)}
