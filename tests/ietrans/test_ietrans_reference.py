"""The vectorised internal transfer equals a direct loop over triplet types (benchmarks/ietrans/naive_transfer.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tenfold.ietrans.transfer import internal_transfer, softmax

NAIVE = Path(__file__).resolve().parents[2] / "benchmarks" / "ietrans" / "naive_transfer.py"


def load_naive():
    spec = importlib.util.spec_from_file_location("ietrans_naive_transfer", NAIVE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.naive_internal_transfer


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_matches_the_loop(seed, make_graphs):
    rng = np.random.default_rng(seed)
    n, num_c, num_p = 300, 4, 6
    # A skewed predicate prior so general/specific structure and conflicts actually occur.
    triplets = list(
        zip(
            rng.integers(1, num_c + 1, n).tolist(),
            rng.choice(np.arange(1, num_p + 1), n, p=[0.4, 0.25, 0.15, 0.1, 0.06, 0.04]).tolist(),
            rng.integers(1, num_c + 1, n).tolist(),
            strict=True,
        )
    )
    graphs = make_graphs(triplets, num_c, num_p)
    probs = softmax(rng.normal(0, 1.5, (n, num_p + 1)))
    s, p, o = graphs.triplet_classes()
    for k in (0.3, 0.7, 1.0):
        expected = load_naive()(s, p, o, probs, k)
        got = internal_transfer(graphs, probs, k).predicates
        np.testing.assert_array_equal(got, expected)
        if k == 0.7:
            assert (got != p).sum() > 0  # the case is not trivial
