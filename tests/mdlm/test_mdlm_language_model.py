"""LSTM and Transformer state language models: learning, generation, save/load, bad inputs."""

import numpy as np
import pytest
import torch

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError
from tenfold.mdlm import KineticLanguageModel, StateLanguageModel
from tenfold.mdlm.transformer import StateTransformer

# a deterministic cycle over states with a gap (ids 0, 5, 9): the vocabulary must be re-indexed
CYCLE = [np.tile([0, 5, 9], 60), np.tile([5, 9, 0], 60)]


@pytest.mark.parametrize("architecture", ["lstm", "transformer"])
def test_learns_a_cycle_and_generates_it(architecture):
    estimator = StateLanguageModel(architecture, hidden_dim=16, embedding_dim=8, window=12, batch_size=16,
                                   steps=120, lr=1e-2, seed=0)
    model = estimator.fit(CYCLE)
    assert model.vocabulary.states.tolist() == [0, 5, 9]
    assert model.history.losses[-1] < 0.2 < np.log(3)  # from chance (ln 3) to near-certain
    chains = model.generate(np.array([[0, 5, 9, 0], [9, 0, 5, 9]]), 30, seed=1)
    assert chains.shape == (2, 30)
    expected_next = {0: 5, 5: 9, 9: 0}
    follows = [expected_next[a] == b for row in chains for a, b in zip(row[:-1], row[1:], strict=True)]
    assert np.mean(follows) > 0.95
    assert np.array_equal(chains, model.generate(np.array([[0, 5, 9, 0], [9, 0, 5, 9]]), 30, seed=1))


def test_transformer_cache_matches_full_forward():
    torch.manual_seed(0)
    net = StateTransformer(7, d_model=16, n_layers=2, n_heads=4, context=10).eval()
    tokens = torch.randint(0, 7, (2, 10))
    full, _ = net(tokens)
    first, cache = net(tokens[:, :6])
    rest, _ = net(tokens[:, 6:], cache)
    torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=1e-5, rtol=1e-5)


def test_snapshots_give_the_budget_curve():
    seen = []
    StateLanguageModel(hidden_dim=8, embedding_dim=4, window=8, batch_size=4, steps=6).fit(
        CYCLE, snapshots=(2, 6), on_snapshot=lambda step, model: seen.append((step, model.steps_done)))
    assert seen == [(2, 2), (6, 6)]


def test_save_load_round_trip(tmp_path):
    model = StateLanguageModel(hidden_dim=8, embedding_dim=4, window=8, batch_size=4, steps=3, seed=2).fit(CYCLE)
    model.metadata = {"tokens": "core"}
    path = tmp_path / "m.pt"
    model.save(path)
    again = KineticLanguageModel.load(path)
    assert again.metadata == {"tokens": "core"} and again.config == model.config
    seeds = np.array([[0, 5, 9]])
    assert np.array_equal(model.generate(seeds, 20, seed=3), again.generate(seeds, 20, seed=3))
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(BadInputError, match="not a tenfold mdlm model"):
        KineticLanguageModel.load(tmp_path / "junk.pt")
    with pytest.raises(MissingDataError):
        KineticLanguageModel.load(tmp_path / "absent.pt")


def test_bad_inputs():
    model = StateLanguageModel(hidden_dim=8, embedding_dim=4, window=8, batch_size=4, steps=2).fit(CYCLE)
    with pytest.raises(BadConfigError, match="temperature"):
        model.generate(np.array([[0, 5]]), 5, temperature=0.0)
    with pytest.raises(BadInputError, match="vocabulary"):
        model.generate(np.array([[0, 4]]), 5)  # state 4 was never seen: a checkpoint/data mismatch
    with pytest.raises(BadInputError, match="shorter than window"):
        StateLanguageModel(window=100).fit([np.arange(50) % 3])
    with pytest.raises(BadConfigError, match="model must be"):
        StateLanguageModel("gru")
    with pytest.raises(BadInputError, match="negative"):
        StateLanguageModel(window=4).fit([np.array([0, 1, -1, 0, 1, 0])])
    with pytest.raises(BadInputError, match="outside the declared"):
        StateLanguageModel(window=4, n_states=2).fit([np.array([0, 1, 2, 0, 1, 0])])
