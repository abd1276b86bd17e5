"""SynthSGG, the training helpers (Rwt weights, loss normalisation, background sampling) and both models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.ietrans.scene_graphs import images_with_relations, ordered_pairs, pair_offsets, select_images
from tenfold.ietrans.synth import SynthConfig, make_synth
from tenfold.ietrans.training import (
    IGNORE,
    PredicateClassifier,
    reweighting_weights,
    sample_background,
    weighted_cross_entropy,
)
from tenfold.ietrans.transfer import attraction_table


@pytest.fixture(scope="module")
def tiny_world():
    return make_synth(5, num_train=60, num_test=20)


def test_synth_is_deterministic_and_biased_as_specified(tiny_world):
    world, train, _ = tiny_world
    again = make_synth(5, num_train=60, num_test=20)[1]
    np.testing.assert_array_equal(train.annotated.relations, again.annotated.relations)
    np.testing.assert_array_equal(train.annotated.pair_features, again.annotated.pair_features)
    assert world.num_predicates == 34 and len(world.general_predicates) == 5
    latent, annotated = train.latent, train.annotated
    assert 0.45 < annotated.num_relations / latent.num_relations < 0.75  # beta = 0.6
    assert np.all(annotated.boxes[:, 2:] > annotated.boxes[:, :2])
    assert np.all((annotated.boxes >= 0) & (annotated.boxes <= 1))
    annotated.validate()
    latent.validate()
    with pytest.raises(BadConfigError):
        SynthConfig(alpha=1.5).validate()


def test_general_predicates_have_low_attraction():
    world, train, _ = make_synth(0, num_train=800, num_test=1)
    table, _ = attraction_table(train.annotated)
    attraction = table.attraction
    general = list(world.general_predicates)
    specific = [p for p in range(1, world.num_predicates + 1) if p not in general and table.predicate_counts[p] > 20]
    best_general = np.median(attraction[:, general].max(axis=0))
    best_specific = np.median(attraction[:, specific].max(axis=0))
    assert best_general < best_specific


def test_select_images_keeps_pair_features_aligned(tiny_world):
    _, train, _ = tiny_world
    graphs = train.annotated
    chosen = images_with_relations(graphs)[::2]
    subset = select_images(graphs, chosen)
    subset.validate()
    assert subset.num_images == len(chosen)
    starts = pair_offsets(graphs.object_offsets)
    np.testing.assert_array_equal(subset.pair_features[: starts[chosen[0] + 1] - starts[chosen[0]]],
                                  graphs.pair_features[starts[chosen[0]] : starts[chosen[0] + 1]])
    assert subset.num_relations == int(np.isin(graphs.relation_image, chosen).sum())


def test_reweighting_weights_are_median_over_count():
    weights, missing = reweighting_weights(np.array([999, 10, 40, 0, 20]))
    assert missing == [3]
    assert weights.tolist() == pytest.approx([1.0, 2.0, 0.5, 0.0, 1.0])  # median(10, 40, 20) = 20
    with pytest.raises(BadInputError):
        reweighting_weights(np.array([5, 0, 0]))


def test_reweighted_loss_is_a_plain_mean_not_torch_weight_normalised():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    targets = torch.tensor([0, 1, IGNORE])
    weights = torch.tensor([1.0, 3.0, 1.0])
    per = torch.nn.functional.cross_entropy(logits[:2], targets[:2], reduction="none")
    ours = weighted_cross_entropy(logits, targets, weights)
    assert ours.item() == pytest.approx(((per[0] + 3 * per[1]) / 2).item())
    torch_mean = torch.nn.functional.cross_entropy(logits[:2], targets[:2], weight=weights)
    assert ours.item() != pytest.approx(torch_mean.item())


def test_background_sampling_keeps_all_foreground_and_the_quota():
    targets = np.array([1, 0, 0, 0, 0, 2, 0, 0, 0, 0])
    image = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    rows = sample_background(targets, image, np.array([0, 1]), 2.0, seed=0)
    assert {0, 5} <= set(rows.tolist()) and len(rows) == 6
    assert sample_background(targets, image, np.array([1]), None, 0).tolist() == [5, 6, 7, 8, 9]


@pytest.mark.parametrize("model", ["pairmlp", "motifs"])
def test_classifiers_fit_and_score_every_pair(tiny_world, model):
    _, train, test = tiny_world
    classifier = PredicateClassifier(model=model, epochs=1, background_ratio=3.0, frequency_bias=True, hidden=32)
    classifier.fit(train.annotated)
    probs = classifier.predict_proba(test.annotated)
    assert probs.shape == (len(ordered_pairs(test.annotated)[0]), 35)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert np.isfinite(classifier.history_[0])


def test_classifier_rejects_bad_settings(tiny_world):
    _, train, _ = tiny_world
    with pytest.raises(BadConfigError):
        PredicateClassifier(model="vgg").fit(train.annotated)
    with pytest.raises(BadConfigError):
        PredicateClassifier(background_ratio=0).fit(train.annotated)
    with pytest.raises(BadConfigError, match="not fitted"):
        PredicateClassifier().predict_proba(train.annotated)
