import numpy as np
import pytest
import torch

from tenfold.cpt import PretrainConfig, Vocabulary, load_or_pretrain, load_weights
from tenfold.cpt.pretrain import build_corpus, cache_dir, mask_tokens, pretrain, warmup_linear
from tenfold.cpt.synth import grounding_items, referring_expression

TINY = PretrainConfig(scenes=48, steps=4, batch_size=16, warmup=2, hidden=16, layers=1, heads=2, ffn=32, snapshots=(2,))


def test_masking_targets_only_maskable_tokens_and_at_least_one_per_row():
    tokenizer = Vocabulary()
    corpus = build_corpus(16, 0, 32, 0.5, tokenizer)
    ids = torch.from_numpy(corpus.input_ids)
    probability = torch.from_numpy(corpus.mask_probability)
    masked, labels = mask_tokens(ids, probability, tokenizer, torch.Generator().manual_seed(0))
    chosen = labels != -100
    assert chosen.any(dim=1).all()
    assert (probability[chosen] > 0).all()  # never [CLS]/[SEP]/[PAD]
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(masked[~chosen], ids[~chosen])
    colour = tokenizer.convert_tokens_to_ids("red")
    assert probability[ids == colour].min() == pytest.approx(0.6)


def test_warmup_linear_schedule():
    assert warmup_linear(0, 10, 100) == pytest.approx(0.1)
    assert warmup_linear(9, 10, 100) == pytest.approx(1.0)
    assert warmup_linear(55, 10, 100) == pytest.approx(0.5)
    assert warmup_linear(100, 10, 100) == 0.0


def test_pretraining_is_cached_and_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("TENFOLD_CACHE", str(tmp_path))
    first = load_or_pretrain(TINY)
    assert not first.from_cache and len(first.losses) == TINY.steps
    assert cache_dir() == tmp_path / "cpt"
    again = load_or_pretrain(TINY)
    assert again.from_cache and set(again.snapshots) == {2}
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    fresh = pretrain(TINY)
    assert fresh.losses == first.losses


def test_interrupted_pretraining_resumes_to_the_same_weights(tmp_path):
    reference = pretrain(TINY)

    class Stop(Exception):
        pass

    def stop(step, loss):
        if step == 3:
            raise Stop

    checkpoint = tmp_path / "resume.pt"
    with pytest.raises(Stop):
        pretrain(TINY, checkpoint=checkpoint, checkpoint_every=2, on_step=stop)
    resumed = pretrain(TINY, checkpoint=checkpoint, checkpoint_every=2)
    assert resumed.losses == reference.losses
    for a, b in zip(reference.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_load_weights_rejects_missing_file(tmp_path):
    from tenfold.core.errors import MissingDataError

    with pytest.raises(MissingDataError, match="cpt pretrain"):
        load_weights(tmp_path / "none.safetensors")


def test_referring_expressions_single_out_the_target():
    items = grounding_items(40, seed=1)
    assert 0.2 < np.mean([1 / len(i.proposals) for i in items]) < 0.34
    for item in items:
        assert 3 <= len(item.proposals) <= 5
        assert referring_expression(item.scene.objects, item.target) == item.query
        assert item.scene.image.dtype == np.float32 and item.scene.image.shape == (64, 64, 3)
    again = grounding_items(40, seed=1)
    assert [i.query for i in items] == [i.query for i in again]
