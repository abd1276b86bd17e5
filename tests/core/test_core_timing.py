import time

import pytest

from tenfold.core.errors import BadConfigError
from tenfold.core.experiment import ClaimSpec, Scale
from tenfold.core.timing import count_flops, interleaved_timing


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_interleaved_timing_alternates_order_and_decides_on_the_log_ratio():
    calls = []
    timing = interleaved_timing(lambda: calls.append("a") or _spin(0.002), lambda: calls.append("b") or _spin(0.004),
                                pairs=6, warmup=1)
    assert calls[:2] == ["a", "b"]  # warm-up
    assert calls[2:6] == ["a", "b", "b", "a"]  # ABBA
    assert len(timing.a_seconds) == len(timing.b_seconds) == 6
    assert 0.3 < timing.ratio < 0.8
    faster = ClaimSpec("t", "A is faster", "<", 1.0, over="pairs", log_ratio=True).evaluate(timing.log_ratios, Scale.SMALL)
    assert faster.verdict == "pass"
    slower = ClaimSpec("t", "A is slower", ">", 1.0, over="pairs", log_ratio=True).evaluate(timing.log_ratios, Scale.SMALL)
    assert slower.verdict == "fail"


def test_timing_arguments_are_checked():
    with pytest.raises(BadConfigError):
        interleaved_timing(lambda: None, lambda: None, pairs=1)
    with pytest.raises(BadConfigError):
        interleaved_timing(lambda: None, lambda: None, clock="sundial")


def test_count_flops_counts_a_matmul():
    import torch

    a, b = torch.ones(8, 16), torch.ones(16, 4)
    assert count_flops(lambda: a @ b) == 2 * 8 * 16 * 4
