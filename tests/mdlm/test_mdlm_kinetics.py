"""The kinetics math on hand-computed cases and properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.mdlm import (
    mfpt_error,
    mfpt_matrix,
    min_dwell_filter,
    passage_statistics,
    passage_times,
    populations,
    total_variation,
    transition_based_assignment,
    transitions_per_1e5,
)

TRAJ = np.array([0, 0, 2, 1, 1, 0, 2, 1, 0, 0])


def test_passage_times_hand_computed():
    times, censored = passage_times(TRAJ, 0, 1)
    # 0-run starts at 0 -> first 1 at 3; re-entry into 0 at 5 -> 1 at 7; the last 0-run is cut off
    assert times.tolist() == [3, 2] and censored == 1
    times, censored = passage_times(TRAJ, 1, 0)
    assert times.tolist() == [2, 1] and censored == 0
    times, censored = passage_times(TRAJ, 2, 1)
    assert times.tolist() == [1, 1] and censored == 0


def test_passage_clock_starts_at_first_entry_after_target():
    # repeated entries into the source keep the first start; unassigned -1 frames are ignored
    d = np.array([1, -1, 0, 2, 0, -1, 1])
    times, _ = passage_times(d, 0, 1)
    assert times.tolist() == [4]


def test_mfpt_matrix_nan_when_no_passage():
    m = mfpt_matrix([np.array([0, 0, 1, 1, 0])], 3)
    assert m[0, 1] == 2 and m[1, 0] == 2
    assert np.isnan(m[0, 2]) and np.isnan(m[2, 0]) and np.isnan(m[0, 0])


def test_mfpt_pools_chains_by_passage_count():
    stats = passage_statistics([np.array([0, 0, 0, 1]), np.array([0, 1, 0, 1])], 2)
    # passages 0->1: 3 (chain 0), 1 and 1 (chain 1) -> mean 5/3
    assert stats.mfpt()[0, 1] == pytest.approx(5 / 3)
    assert stats.total_counts[0, 1] == 3


def test_mfpt_error_hand_computed():
    gen = np.array([[np.nan, 2.0, np.nan], [4.0, np.nan, 1.0], [1.0, 1.0, np.nan]])
    ref = np.array([[np.nan, 1.0, 3.0], [4.0, np.nan, 1.0], [1.0, 1.0, np.nan]])
    err = mfpt_error(gen, ref)
    assert err.n_pairs == 5 and err.excluded_pairs == [(0, 2)]
    assert err.error == pytest.approx(np.log(2) / 5)
    assert err.median_ratio == pytest.approx(1.0)


def test_mfpt_error_rejects_mismatched_shapes():
    with pytest.raises(BadInputError):
        mfpt_error(np.zeros((2, 2)), np.zeros((3, 3)))


def test_populations_and_total_variation():
    p = populations([np.array([-1, 0, 0, 1]), np.array([1, 1])], 2)
    assert p.tolist() == pytest.approx([0.4, 0.6])
    assert total_variation([0.5, 0.5], [0.2, 0.8]) == pytest.approx(0.3)
    assert transitions_per_1e5([np.array([0, 1, 1, 0])]) == pytest.approx(1e5 * 2 / 4)


def test_transition_based_assignment():
    core = np.array([-1, -1, 2, -1, -1, 0, -1, 2])
    assert transition_based_assignment(core).tolist() == [-1, -1, 2, 2, 2, 0, 0, 2]


def test_min_dwell_filter_splits_short_runs():
    labels = np.array([0] * 6 + [1] * 2 + [2] * 6 + [1] * 3)
    filtered = min_dwell_filter(labels, 3)
    # the 2-frame run of 1 goes half to 0 and half to 2; the final run of 3 is long enough
    assert filtered.tolist() == [0] * 7 + [2] * 7 + [1] * 3
    with pytest.raises(BadConfigError):
        min_dwell_filter(labels, 0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-1, 3), min_size=1, max_size=60))
def test_tba_properties(core):
    core = np.array(core)
    out = transition_based_assignment(core)
    hits = np.flatnonzero(core >= 0)
    if hits.size == 0:
        assert np.all(out == -1)
        return
    assert np.all(out[: hits[0]] == -1)
    assert np.array_equal(out[hits], core[hits])  # core frames keep their own set
    assert np.all(np.diff(out[hits[0]:])[core[hits[0] + 1:] < 0] == 0)  # non-core frames never switch


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=2, max_size=80))
def test_mfpt_equals_brute_force(states):
    d = np.array(states)
    for i in range(3):
        for j in range(3):
            if i == j:
                continue
            times, _ = passage_times(d, i, j)
            brute, start = [], None
            for t, s in enumerate(d):
                if s == j and start is not None:
                    brute.append(t - start)
                    start = None
                elif s == i and start is None:
                    start = t
            assert times.tolist() == brute


def test_censoring_and_resolution_warnings():
    from tenfold.mdlm.kinetics import check_chain_length, check_resolution

    with pytest.warns(UserWarning, match="censored"):
        assert not check_chain_length(100, np.array([[np.nan, 50.0], [30.0, np.nan]]))
    assert check_chain_length(1000, np.array([[np.nan, 50.0], [30.0, np.nan]]))
    with pytest.warns(UserWarning, match="too coarse"):
        check_resolution([np.array([0, 1, 0, 1, 0, 1])])
