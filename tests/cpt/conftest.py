"""Shared fixtures for the CPT tests: a tiny randomly initialised backbone and a few synthetic queries."""

import pytest
import torch

from tenfold.cpt import GroundingExample, TinyVL, TinyVLConfig, Vocabulary
from tenfold.cpt.synth import grounding_items


@pytest.fixture(scope="session")
def tiny_model() -> TinyVL:
    torch.manual_seed(0)
    return TinyVL(TinyVLConfig(len(Vocabulary()), hidden=16, layers=1, heads=2, ffn=32)).eval()


@pytest.fixture(scope="session")
def examples() -> list[GroundingExample]:
    return [
        GroundingExample(i.scene.image, i.proposals, i.query, i.target_box, i.tags)
        for i in grounding_items(12, seed=3)
    ]
