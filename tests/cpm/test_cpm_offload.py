"""The offload engine: bitwise equality with the resident model, budget, skipped experts, errors, no deadlock."""

import threading
import time

import pytest
import torch

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError
from tenfold.cpm.offload import ExpertStore, Link, OffloadEngine, ResidentExperts
from tenfold.cpm.synthetic import create_expert_stack, routed_tokens


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stack")
    create_expert_stack(folder, num_layers=2, num_experts=6, d_model=16, d_ff=32, seed=0)
    return ExpertStore(folder)


@pytest.mark.parametrize("kwargs", [{"prefetch": False}, {"schedule": "index"}, {"schedule": "infmoe"},
                                    {"schedule": "best-of-two"}, {"schedule": "infmoe", "max_slots": 3}])
def test_offloaded_equals_resident_bitwise(store, kwargs):
    x = routed_tokens(store.centroids(0), 50, zipf_s=1.2, seed=1)
    reference = ResidentExperts(store).forward(x)
    budget = 3 * store.expert_bytes + 7
    with OffloadEngine(store, budget, **kwargs) as engine:
        assert torch.equal(engine.forward(x), reference)
        assert engine.pool.peak_bytes <= budget
        assert engine.pool.num_slots == (1 if not kwargs.get("prefetch", True) else 3)


def test_zero_token_experts_are_skipped_and_one_expert_is_fine(store):
    centroids = store.centroids(0)
    x = 50 * centroids[[2] * 10]  # every token routes to expert 2 in every layer (shared gate)
    with OffloadEngine(store, 2 * store.expert_bytes) as engine:
        y = engine.forward(x)
        assert engine.stats.loads == store.num_layers
        assert engine.stats.skipped_experts == store.num_layers * (store.num_experts - 1)
        assert engine.stats.bytes_moved == store.num_layers * store.expert_bytes
    assert torch.equal(y, ResidentExperts(store).forward(x))


def test_budget_below_one_expert(store):
    with pytest.raises(BadConfigError, match="smaller than one expert"):
        OffloadEngine(store, store.expert_bytes - 1)


def test_loader_error_propagates_without_deadlock(store, monkeypatch):
    engine = OffloadEngine(store, 2 * store.expert_bytes, timeout_s=10)
    calls = {"n": 0}
    original = store.read_into

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "read_into", failing)
    started = time.perf_counter()
    with pytest.raises(OSError, match="disk went away"):
        engine.forward(routed_tokens(store.centroids(0), 40, seed=2))
    assert time.perf_counter() - started < 10
    assert not any(t.name == "infmoe-loader" and t.is_alive() for t in threading.enumerate())
    engine.close()


def test_one_engine_per_thread(store):
    engine = OffloadEngine(store, 2 * store.expert_bytes)
    engine._lock.acquire()
    try:
        with pytest.raises(BadConfigError, match="another thread"):
            engine.layer_update(0, torch.zeros(2, 16))
    finally:
        engine._lock.release()
        engine.close()


def test_link_throttle_paces_copies():
    link = Link(1e6)
    started = time.perf_counter()
    link.pace(20_000, started)
    assert time.perf_counter() - started >= 0.019
    with pytest.raises(BadConfigError, match="bandwidth"):
        Link(0)


def test_missing_corrupt_and_mismatched_files(tmp_path, store):
    with pytest.raises(MissingDataError, match="does not exist"):
        ExpertStore(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingDataError, match="no layer"):
        ExpertStore(tmp_path / "empty")
    corrupt = tmp_path / "corrupt"
    create_expert_stack(corrupt, num_layers=1, num_experts=2, d_model=8, d_ff=16)
    data = (corrupt / "layer0.safetensors").read_bytes()
    (corrupt / "layer0.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="corrupt|truncated"):
        ExpertStore(corrupt)
    mixed = tmp_path / "mixed"
    create_expert_stack(mixed, num_layers=1, num_experts=2, d_model=8, d_ff=16)
    other = tmp_path / "other"
    create_expert_stack(other, num_layers=1, num_experts=2, d_model=8, d_ff=24)
    (other / "layer0.safetensors").rename(mixed / "layer1.safetensors")
    with pytest.raises(BadInputError, match="expected"):
        ExpertStore(mixed)
    with OffloadEngine(store, 2 * store.expert_bytes) as engine, pytest.raises(BadInputError, match="tokens must be"):
        engine.layer_update(0, torch.zeros(3, 5))


@pytest.mark.parametrize("device", ["banana", "tpu", "cuda:99"])
def test_unusable_devices_are_named_errors(device):
    from tenfold.cpm.offload import resolve_device

    with pytest.raises(BadConfigError, match="device"):
        resolve_device(device)
    assert resolve_device("cpu") == torch.device("cpu")


def test_link_refuses_nan_and_budget_refuses_nan(store):
    with pytest.raises(BadConfigError, match="finite"):
        Link(float("nan"))
    with pytest.raises(BadConfigError, match="smaller than one expert"):
        OffloadEngine(store, float("nan"))


def test_damaged_headers_are_named(tmp_path):
    import json
    import struct

    for name, header in (("list", [1, 2]), ("entry", {"a": 3}), ("offsets", {"a": {"dtype": "F32", "shape": [2]}})):
        folder = tmp_path / name
        folder.mkdir()
        raw = json.dumps(header).encode()
        (folder / "layer0.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw)
        with pytest.raises(BadInputError, match="not a valid safetensors"):
            ExpertStore(folder)
