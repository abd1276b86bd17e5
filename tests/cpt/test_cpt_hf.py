"""The Hugging Face adapter on a randomly initialised small ViLT (no download)."""

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")

from tenfold.cpt import CPTGrounder, FineTuneGrounder  # noqa: E402
from tenfold.cpt.hf import HuggingFaceVLBackbone  # noqa: E402
from tenfold.cpt.vocabulary import WORDS  # noqa: E402


@pytest.fixture(scope="module")
def backbone():
    import torch

    tokenizer = transformers.BertTokenizerFast(vocab={word: index for index, word in enumerate(WORDS)})
    config = transformers.ViltConfig(
        vocab_size=len(WORDS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        image_size=32, patch_size=8, max_position_embeddings=40,
    )
    torch.manual_seed(0)
    return HuggingFaceVLBackbone(transformers.ViltForMaskedLM(config).eval(), tokenizer)


def test_cpt_runs_on_a_vilt_masked_lm(backbone, examples):
    example = examples[0]
    grounder = CPTGrounder(backbone)
    scores = grounder.score(example.image, example.proposals, example.query)
    assert scores.copies == len(example.proposals)
    assert scores.probabilities.sum() == pytest.approx(1.0)
    log_p = grounder.mask_log_probabilities(example.image, example.proposals, example.query)
    assert log_p.shape == (len(example.proposals), len(WORDS))
    assert np.allclose(np.exp(log_p).sum(axis=1), 1.0, atol=1e-4)


def test_vilt_region_states_feed_the_finetuning_baseline(backbone, examples):
    fitted = FineTuneGrounder(backbone).fit(examples[:2], steps=1)
    assert 0 <= fitted.predict(examples[0].image, examples[0].proposals, examples[0].query) < len(examples[0].proposals)
