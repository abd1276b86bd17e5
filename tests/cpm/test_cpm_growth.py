"""Parameter-reuse growth: prefix-initialised embeddings and the function-preserving dense -> MoE copy."""

import copy

import pytest
import torch

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpm.growth import (
    dense_to_moe,
    export_experts,
    extend_vocabulary,
    grow_embedding,
    longest_prefix_sources,
)
from tenfold.cpm.moe import MoEFFN, route
from tenfold.cpm.offload import ExpertStore
from tenfold.cpm.transformer import ByteLM, LMConfig


def test_longest_prefix_sources():
    old = [b"a", b"ab", b"abc", b"x"]
    sources = longest_prefix_sources(old, [b"abcd", b"abz", b"q"], seed=3)
    assert sources[:2] == [2, 1]
    assert 0 <= sources[2] < len(old)
    assert longest_prefix_sources(old, [b"q"], seed=3) == longest_prefix_sources(old, [b"q"], seed=3)


def test_grow_embedding_copies_rows_and_rejects_clashes():
    weight = torch.arange(8.0).reshape(4, 2)
    grown = grow_embedding(weight, [b"a", b"ab", b"abc", b"x"], [b"xy", b"abq"])
    assert grown.shape == (6, 2)
    assert torch.equal(grown[4], weight[3]) and torch.equal(grown[5], weight[1])
    with pytest.raises(BadInputError, match="already in the vocabulary"):
        grow_embedding(weight, [b"a", b"ab", b"abc", b"x"], [b"ab"])
    with pytest.raises(BadInputError, match="rows"):
        grow_embedding(weight, [b"a"], [b"b"])


def _model(dtype=torch.float32):
    torch.manual_seed(0)
    return ByteLM(LMConfig(d_model=16, n_layers=2, n_heads=2, d_ff=32, max_len=16)).to(dtype)


def test_dense_to_moe_is_function_preserving():
    dense = _model(torch.float64)
    ids = torch.randint(0, 256, (3, 12))
    moe = dense_to_moe(copy.deepcopy(dense), 8)
    experts_used = route(dense.embed(ids).reshape(-1, 16).float(), moe.blocks[0].ffn.centroids.float())[0].unique()
    assert len(experts_used) > 1  # several experts really are used
    # identical up to float rounding (different GEMM shapes): 1e-12 in float64
    assert (moe(ids) - dense(ids)).abs().max().item() < 1e-12


def test_base_mix_is_not_function_preserving_and_double_conversion_fails():
    dense = _model()
    ids = torch.randint(0, 256, (2, 10))
    base = dense_to_moe(copy.deepcopy(dense), 4, mix="base")
    assert (base(ids) - dense(ids)).abs().max().item() > 1e-3
    with pytest.raises(BadInputError, match="already an MoE"):
        dense_to_moe(base, 4)
    with pytest.raises(BadConfigError, match="mix"):
        MoEFFN(2, 4, 8, mix="soft")


def test_balanced_routing_respects_capacity():
    torch.manual_seed(1)
    x = torch.randn(20, 8)
    centroids = torch.randn(4, 8)
    centroids[0] *= 50  # an expert every token prefers
    expert, affinity = route(x, centroids, balanced=True)
    assert torch.bincount(expert, minlength=4).max().item() <= 5
    assert torch.allclose(affinity, (x @ centroids.T).gather(1, expert[:, None])[:, 0])


def test_export_experts_roundtrip(tmp_path):
    moe = dense_to_moe(_model(), 3)
    with torch.no_grad():
        moe.blocks[1].ffn.wi0[2].add_(1.0)
    export_experts(moe, tmp_path)
    store = ExpertStore(tmp_path)
    assert (store.num_layers, store.num_experts, store.d_model, store.d_ff) == (2, 3, 16, 32)
    slot = {n: torch.empty(s) for n, s in store.shapes.items()}
    store.read_into(1, 2, slot)
    assert torch.equal(slot["wi0"], moe.blocks[1].ffn.wi0[2])
    assert torch.equal(store.centroids(1), moe.blocks[1].ffn.centroids)
    with pytest.raises(BadConfigError, match="dense"):
        export_experts(_model(), tmp_path / "x")


def test_extend_vocabulary_keeps_old_behaviour():
    model = _model()
    old = [bytes([i]) for i in range(256)] + [f"<special{i}>".encode() for i in range(8)]
    grown = extend_vocabulary(model, old, [b"the", b"zq"])
    assert grown.config.vocab_size == 266
    assert torch.equal(grown.embed.weight[264], model.embed.weight[ord("t")])
    ids = torch.randint(0, 256, (2, 8))
    # old tokens keep their embeddings; the output softmax gains two rows
    assert torch.allclose(grown(ids)[..., :264], model(ids), atol=1e-6)
