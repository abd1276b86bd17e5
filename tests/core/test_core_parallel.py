import pytest

from tenfold.core.errors import BadConfigError
from tenfold.core.parallel import run_parallel, worker_count

_STATE = {}


def _remember(offset):
    _STATE["offset"] = offset


def _shifted_square(x):
    import torch

    return x * x + _STATE.get("offset", 0), torch.get_num_threads()


def test_results_keep_job_order_across_spawned_workers():
    done = []
    results = run_parallel(
        _shifted_square, [3, 1, 2], workers=2, initializer=_remember, initargs=(10,),
        cost=lambda x: x, on_done=lambda i, r: done.append(i),
    )
    assert [r[0] for r in results] == [19, 11, 14]
    assert all(threads == 1 for _, threads in results)
    assert sorted(done) == [0, 1, 2]


def test_one_worker_runs_in_process_with_the_same_initializer_and_keeps_threads():
    import torch

    before = torch.get_num_threads()
    assert [r[0] for r in run_parallel(_shifted_square, [2, 5], workers=1, initializer=_remember, initargs=(1,))] == [5, 26]
    assert torch.get_num_threads() == before


def test_worker_count_reads_the_environment(monkeypatch):
    monkeypatch.setenv("TENFOLD_WORKERS", "3")
    assert worker_count() == 3
    monkeypatch.setenv("TENFOLD_WORKERS", "zero")
    with pytest.raises(BadConfigError, match="TENFOLD_WORKERS"):
        worker_count()
    monkeypatch.setenv("TENFOLD_WORKERS", "0")
    with pytest.raises(BadConfigError):
        worker_count()
