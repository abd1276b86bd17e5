import numpy as np
import pytest

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.cpt import CPTGrounder, FineTuneGrounder, GroundingExample, draw_shots


def test_single_mode_scores_one_copy_per_proposal(tiny_model, examples):
    example = examples[0]
    scores = CPTGrounder(tiny_model).score(example.image, example.proposals, example.query)
    assert scores.copies == len(example.proposals)
    assert scores.probabilities.sum() == pytest.approx(1.0)
    assert scores.best == int(np.argmax(scores.scores))
    log_p = CPTGrounder(tiny_model).mask_log_probabilities(example.image, example.proposals, example.query)
    assert np.allclose(np.exp(log_p).sum(axis=1), 1.0, atol=1e-5)
    red = tiny_model.tokenizer.convert_tokens_to_ids("red")
    assert np.allclose(log_p[:, red], scores.scores, atol=1e-5)


def test_batched_prediction_matches_one_by_one(tiny_model, examples):
    grounder = CPTGrounder(tiny_model, max_batch_copies=3)
    one_by_one = [grounder.predict(e.image, e.proposals, e.query, tags=e.tags) for e in examples]
    assert grounder.predict_many(examples) == one_by_one


def test_multi_mode_uses_subsets_with_anchor(tiny_model, examples):
    colors = [("red", (240, 0, 30)), ("blue", (0, 0, 200)), ("green", (0, 200, 0))]
    example = next(e for e in examples if len(e.proposals) == 5)
    scores = CPTGrounder(tiny_model, colors=colors, mode="multi").score(example.image, example.proposals, example.query)
    assert scores.mode == "multi" and scores.copies == 2  # [0,1,2] then anchor 0 + [3,4]
    assert np.isfinite(scores.scores).all()
    plain = CPTGrounder(tiny_model, colors=colors, mode="multi", calibrate_anchor=False)
    assert plain.score(example.image, example.proposals, example.query).copies == 2


def test_multi_mode_falls_back_when_proposals_overlap(tiny_model):
    image = np.full((32, 32, 3), 0.8, np.float32)
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]
    grounder = CPTGrounder(tiny_model, colors=[("red", (255, 0, 0)), ("blue", (0, 0, 255))], mode="multi")
    with pytest.warns(UserWarning, match="overlap"):
        scores = grounder.score(image, boxes, "the circle")
    assert scores.mode == "single" and scores.copies == 3


def test_query_naming_the_marker_colour_switches_colour(tiny_model, examples):
    example = examples[0]
    grounder = CPTGrounder(tiny_model, fallback_colors=[("blue", (0, 0, 220))])
    with pytest.warns(UserWarning, match="marker colour 'red'"):
        scores = grounder.score(example.image, example.proposals, "the red circle")
    assert scores.color_word == "blue"
    with pytest.raises(BadInputError, match="no other colour"):
        CPTGrounder(tiny_model).score(example.image, example.proposals, "the red circle")


def test_one_proposal_is_returned_unscored(tiny_model, examples):
    scores = CPTGrounder(tiny_model).score(examples[0].image, examples[0].proposals[:1], "the circle")
    assert scores.best == 0 and not scores.scored and scores.copies == 0


@pytest.mark.parametrize(
    "options, message",
    [
        ({"colors": [("red", (1, 2, 3)), ("red", (4, 5, 6))]}, "duplicate colour words"),
        ({"colors": [("red", (1, 2, 3)), ("blue", (1, 2, 3))]}, "duplicate RGB"),
        ({"colors": [("crimson", (1, 2, 3))]}, "single known token"),
        ({"alpha": 0.0}, "alpha"),
        ({"template": "{query} is [MASK] [MASK] ."}, "exactly one"),
        ({"mode": "many"}, "mode"),
    ],
)
def test_bad_configuration(tiny_model, options, message):
    with pytest.raises((BadConfigError, BadInputError), match=message):
        CPTGrounder(tiny_model, **options)


def test_bad_proposals_and_masks(tiny_model, examples):
    grounder = CPTGrounder(tiny_model)
    image = examples[0].image
    with pytest.raises(BadInputError, match="empty"):
        grounder.score(image, np.zeros((0, 4)), "the circle")
    with pytest.raises(BadInputError, match="degenerate"):
        grounder.score(image, [[5, 5, 5, 9], [0, 0, 4, 4]], "the circle")
    with pytest.raises(BadInputError, match="masks"):
        grounder.score(image, examples[0].proposals, "the circle", masks=np.ones((1, 3, 3), bool))


def test_few_shot_draws_are_shared_and_recorded(tiny_model, examples):
    cpt_runs = CPTGrounder(tiny_model).fit_few_shot(examples, 2, [0, 1], steps=2)
    ft_runs = FineTuneGrounder(tiny_model).fit_few_shot(examples, 2, [0, 1], steps=2)
    assert [r.shot_ids for r in cpt_runs] == [r.shot_ids for r in ft_runs]
    assert cpt_runs[0].shot_ids == draw_shots(len(examples), 2, 0).tolist()
    assert cpt_runs[0].shot_ids != cpt_runs[1].shot_ids
    fitted = cpt_runs[0].grounder
    assert fitted.backbone is not tiny_model and fitted.score_kind == "none_normalized"
    assert not any(p.grad is not None for p in tiny_model.parameters())  # the shared backbone is untouched
    assert fitted.predict_many(examples[:3]) == [fitted.predict(e.image, e.proposals, e.query, tags=e.tags) for e in examples[:3]]


def test_few_shot_is_deterministic(tiny_model, examples):
    first = CPTGrounder(tiny_model).fit(examples[:2], steps=2, seed=5)
    second = CPTGrounder(tiny_model).fit(examples[:2], steps=2, seed=5)
    for a, b in zip(first.backbone.parameters(), second.backbone.parameters(), strict=True):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())


def test_k_larger_than_pool_and_unmatched_ground_truth(tiny_model, examples):
    with pytest.raises(BadConfigError, match="larger than the pool"):
        CPTGrounder(tiny_model).fit_few_shot(examples[:3], 4, 1, steps=1)
    far = GroundingExample(examples[0].image, examples[0].proposals, "the circle", np.array([60, 60, 64, 64], np.float32))
    assert far.positive_index() is None  # never silently labelled as proposal 0
    with pytest.raises(BadInputError, match="IoU > 0.5"):
        CPTGrounder(tiny_model).fit([far], steps=1)
    with pytest.raises(BadInputError, match="IoU > 0.5"):
        FineTuneGrounder(tiny_model).fit([far], steps=1)


def test_finetune_baseline_predicts_after_fit(tiny_model, examples):
    with pytest.raises(BadConfigError, match="not fitted"):
        FineTuneGrounder(tiny_model).predict(examples[0].image, examples[0].proposals, "the circle")
    fitted = FineTuneGrounder(tiny_model).fit(examples[:4], steps=3)
    scores = fitted.score(examples[0].image, examples[0].proposals, examples[0].query)
    assert scores.probabilities.sum() == pytest.approx(1.0)
    assert len(fitted.predict_many(examples)) == len(examples)
