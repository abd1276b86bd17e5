"""Prompt tuning: placement split, negative-id layout, masks, freezing, verbalizers, checkpoints."""

import numpy as np
import pytest
import torch

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpm.corpus import BOS_ID, SEP_ID
from tenfold.cpm.prompt import PromptEncoder, PromptTuner, attention_block, layout_pair, split_prompt
from tenfold.cpm.tasks import PairData, first_sentence, pair_task, perturb
from tenfold.cpm.transformer import ByteLM, LMConfig


@pytest.mark.parametrize(("positions", "split"), [("F", (10, 0, 0)), ("F+M", (5, 5, 0)), ("M+B", (0, 5, 5)),
                                                  ("F+M+B", (3, 3, 4)), ([0.2, 0.3, 0.5], (2, 3, 5))])
def test_split_prompt(positions, split):
    assert split_prompt(10, positions) == split


def test_cpm2_default_split_of_100():
    assert split_prompt(100, "F+M+B") == (33, 34, 33)


@pytest.mark.parametrize(("num", "positions", "match"), [
    (0, "F", "at least one"), (10, [0.5, 0.4, 0.0], "sum to 1"), (10, [1.5, -0.5, 0.0], "non-negative"),
    (1, "F+M", "empty"), (10, "X", "unknown"),
])
def test_split_prompt_bad_inputs(num, positions, match):
    with pytest.raises(BadConfigError, match=match):
        split_prompt(num, positions)


def test_layout_places_negative_ids_and_separator():
    first, second = np.array([[1, 2, 3]]), np.array([[4, 5]])
    assert layout_pair(first, second, (2, 1, 1), 32).tolist() == [[-1, -2, 1, 2, 3, -3, 4, 5, -4, BOS_ID]]
    assert layout_pair(first, second, (1, 0, 0), 32).tolist() == [[-1, 1, 2, 3, SEP_ID, 4, 5, BOS_ID]]


def test_layout_truncates_text_never_prompts():
    first, second = np.ones((2, 10), dtype=np.int64), np.ones((2, 10), dtype=np.int64)
    with pytest.warns(UserWarning, match="prompts kept"):
        ids = layout_pair(first, second, (2, 2, 2), 16)
    assert ids.shape == (2, 16) and (ids < 0).sum(axis=1).tolist() == [6, 6]
    with pytest.raises(BadConfigError, match="no room"):
        layout_pair(first, second, (8, 8, 0), 16)


def _backbone():
    torch.manual_seed(0)
    return ByteLM(LMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, max_len=64))


def test_encoder_maps_negative_ids_to_prompt_rows():
    model = _backbone()
    encoder = PromptEncoder(model.embed, 3, "random")
    ids = torch.tensor([[-1, 65, -3]])
    out = encoder(ids)
    assert torch.equal(out[0, 0], encoder.prompt[0]) and torch.equal(out[0, 2], encoder.prompt[2])
    assert torch.equal(out[0, 1], model.embed.weight[65])
    with pytest.raises(BadInputError, match="no slot"):
        encoder(torch.tensor([[-4]]))
    with pytest.raises(BadInputError, match="prompt slots"):
        model(ids)
    text = PromptEncoder(model.embed, 2, "text", init_text="ok")
    assert torch.equal(text.prompt[1], model.embed.weight[ord("k")])
    with pytest.raises(BadConfigError, match="init_text"):
        PromptEncoder(model.embed, 2, "text")


def test_attention_masks():
    ids = torch.tensor([[-1, 7, -2, 8, BOS_ID]])
    assert attention_block(ids, False, False) is None
    p2t = attention_block(ids, True, False)[0]
    assert p2t[0].tolist() == [False, True, False, True, True] and not p2t[1].any()
    t2p = attention_block(ids, False, True)[0]
    assert t2p[1].tolist() == [True, False, True, False, False] and not t2p[0].any()
    assert not t2p[4].any()  # the answer position (the "decoder") always sees the prompt


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    return PairData(rng.integers(32, 127, (n, 6)), rng.integers(32, 127, (n, 6)), rng.integers(0, 2, n))


def test_prompt_tuning_trains_only_the_prompt():
    backbone = _backbone()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    tuner = PromptTuner(backbone, num_prompts=4, positions="F+M", steps=3, batch_size=8,
                        mask_token2prompt=True).fit(_data())
    assert tuner.cost_.trainable_params == 4 * 16
    assert tuner.cost_.optimizer_state_bytes < 3 * 4 * 16 * 4 + 64
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())
    assert not torch.equal(tuner.prompt, PromptEncoder(backbone.embed, 4, "vocab").prompt)


def test_full_tuning_leaves_the_callers_backbone_alone():
    backbone = _backbone()
    before = backbone.embed.weight.clone()
    tuner = PromptTuner(backbone, num_prompts=0, train="model", lr=1e-2, steps=2, batch_size=8).fit(_data())
    assert torch.equal(backbone.embed.weight, before)
    assert tuner.cost_.trainable_params == sum(p.numel() for p in backbone.parameters())
    with pytest.raises(BadConfigError, match="at least one prompt"):
        PromptTuner(backbone, num_prompts=0, train="prompt")


def test_verbalizer_options():
    backbone = _backbone()
    with pytest.raises(BadConfigError, match="multi_token"):
        PromptTuner(backbone, verbalizer=("no", "yes"))
    tuner = PromptTuner(backbone, verbalizer=("no", "yes"), multi_token="first", scoring="full", steps=1,
                        batch_size=4).fit(_data())
    assert tuner.verbalizer_ids == [ord("n"), ord("y")]
    assert set(np.unique(tuner.predict(_data())).tolist()) <= {-1, 0, 1}
    with pytest.raises(BadConfigError, match="same token"):
        PromptTuner(backbone, verbalizer=("yes", "yup"), multi_token="first")


def test_checkpoint_roundtrip_and_hash_check(tmp_path):
    backbone = _backbone()
    data = _data()
    tuner = PromptTuner(backbone, num_prompts=3, positions="F+B", steps=2, batch_size=8).fit(data)
    tuner.save(tmp_path / "p.safetensors")
    loaded = PromptTuner.load(tmp_path / "p.safetensors", backbone)
    assert np.array_equal(loaded.predict(data), tuner.predict(data))
    other = _backbone()
    with torch.no_grad():
        other.ln_f.add_(1e-3)
    with pytest.raises(BadInputError, match="trained against backbone"):
        PromptTuner.load(tmp_path / "p.safetensors", other)
    with pytest.raises(BadConfigError, match="not fitted"):
        PromptTuner(backbone).predict(data)


def test_pair_task_is_balanced_and_perturbation_is_light():
    from tenfold.cpm.corpus import DocItem

    items = [DocItem(f"m{i % 3}.f{i}", f"m{i % 3}", f"Return the number {i} of things in a container.\n\nMore.")
             for i in range(12)]
    data = pair_task(items, 40, seed=0, width=25)
    assert data.first.shape == (40, 25) and data.labels.mean() == 0.5
    assert first_sentence("Do a thing. Then more.\n\nRest") == "Do a thing."
    rng = np.random.default_rng(0)
    assert len(perturb("one two three four five", rng).split()) >= 3


def test_step_function_runs_one_step_and_prompt_steps_skip_weight_gradients():
    from tenfold.core.timing import count_flops

    backbone = _backbone()
    data = _data()
    pt = PromptTuner(backbone, num_prompts=4, positions="F", batch_size=8).step_function(data)
    ft = PromptTuner(backbone, num_prompts=0, train="model", lr=1e-3, batch_size=8).step_function(data)
    assert float(pt()) > 0 and float(ft()) > 0
    assert count_flops(pt) < count_flops(ft)


def test_loading_a_model_file_as_a_prompt_is_refused(tmp_path):
    from tenfold.cpm.transformer import save_lm

    backbone = _backbone()
    save_lm(backbone, tmp_path / "model.safetensors")
    with pytest.raises(BadInputError, match="readable prompt checkpoint|backbone hash"):
        PromptTuner.load(tmp_path / "model.safetensors", backbone)
