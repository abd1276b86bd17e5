"""The reshape pipeline: methods, degree, parts, guards, people, and the bad inputs of spec 7."""

import warnings

import numpy as np
import pytest

from tenfold.bodyreshape.flow_generator import FlowGenerator, GeneratorConfig
from tenfold.bodyreshape.keypoints import fixture_image, fixture_keypoints
from tenfold.bodyreshape.pipeline import BodyReshaper
from tenfold.core.errors import BadConfigError, BadInputError


@pytest.fixture(scope="module")
def portrait():
    """Camera man at 128 px with matching keypoints (fast)."""
    image = fixture_image("camera")[::4, ::4].copy()
    keypoints = fixture_keypoints("camera").copy()
    keypoints[:, :2] /= 4
    return image, keypoints


@pytest.fixture(scope="module")
def tiny_model():
    return FlowGenerator(GeneratorConfig(width=2, input_size=32)).eval()


@pytest.mark.parametrize("method", ["capsule", "mls", "liquify"])
def test_methods_slim_without_folds(portrait, method):
    image, keypoints = portrait
    result = BodyReshaper(method=method).reshape(image, keypoints)
    assert result.status == "ok" and result.people == 1
    assert result.image.shape == image.shape and result.flow.shape == (128, 128, 2)
    assert np.abs(result.flow).max() > 0.3 and result.min_det >= 0.3
    assert not np.array_equal(result.image, image)


def test_learned_method_runs_through_roi_and_feathering(portrait):
    import torch

    image, keypoints = portrait
    torch.manual_seed(0)
    model = FlowGenerator(GeneratorConfig(width=2, input_size=32)).eval()
    torch.nn.init.normal_(model.decoder_top[-1].weight, 0, 0.5)  # a non-zero flow so the ROI paste is exercised
    result = BodyReshaper(method="learned", model=model).reshape(image, keypoints)
    assert result.status == "ok" and np.isfinite(result.flow).all() and np.abs(result.flow).max() > 0
    assert result.min_det >= 0.3
    # The ROI (joint box + 25 %) plus its ROI/3 feather leaves far corners untouched for this pose.
    assert np.abs(result.flow[:4, -4:]).max() < np.abs(result.flow).max()


@pytest.mark.parametrize("method", ["capsule", "mls", "liquify", "learned"])
def test_degree_zero_is_bit_exact(portrait, tiny_model, method):
    image, keypoints = portrait
    result = BodyReshaper(method=method, model=tiny_model, degree=0.0).reshape(image, keypoints)
    assert np.array_equal(result.image, image)


def test_degree_scales_and_negative_widens(portrait):
    image, keypoints = portrait
    half = BodyReshaper(degree=0.5).reshape(image, keypoints).flow
    full = BodyReshaper(degree=1.0).reshape(image, keypoints).flow
    widen = BodyReshaper(degree=-1.0).reshape(image, keypoints).flow
    np.testing.assert_allclose(2 * half, full, atol=1e-4)
    np.testing.assert_allclose(widen, -full, atol=1e-4)


@pytest.mark.parametrize("degree", [float("nan"), float("inf"), 2.5, -3])
def test_bad_degrees_are_rejected(degree):
    with pytest.raises(BadConfigError, match="degree"):
        BodyReshaper(degree=degree)


def test_degree_above_one_warns_for_the_learned_flow_only(tiny_model):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BodyReshaper(method="learned", model=tiny_model, degree=1.5)
    assert any("trained range" in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BodyReshaper(method="capsule", degree=1.5)  # an analytic field has no trained range


def test_per_part_degrees_switch_parts_off(portrait):
    image, keypoints = portrait
    everything = BodyReshaper().reshape(image, keypoints).flow
    torso_only = BodyReshaper(parts={"arms": 0.0, "legs": 0.0}).reshape(image, keypoints).flow
    elbow = np.round(keypoints[3, :2]).astype(int)  # right elbow, far from the torso axis
    region = (slice(elbow[1] - 3, elbow[1] + 3), slice(elbow[0] - 3, elbow[0] + 3))
    assert np.abs(torso_only[region]).max() < 0.5 * np.abs(everything[region]).max()
    with pytest.raises(BadConfigError, match="parts"):
        BodyReshaper(parts={"head": 1.0})


def test_no_person_returns_the_input_or_raises_when_strict(portrait):
    image, keypoints = portrait
    nobody = keypoints.copy()
    nobody[:, 2] = 0.0
    result = BodyReshaper().reshape(image, nobody)
    assert result.status == "no_person" and np.array_equal(result.image, image) and not result.flow.any()
    with pytest.raises(BadInputError, match="no person"):
        BodyReshaper(strict=True).reshape(image, nobody)


def test_two_people_are_both_reshaped(portrait):
    image, keypoints = portrait
    wide = np.concatenate([image, image], axis=1)
    second = keypoints.copy()
    second[:, 0] += 128
    result = BodyReshaper().reshape(wide, np.stack([keypoints, second]))
    assert result.people == 2
    np.testing.assert_allclose(np.abs(result.flow[:, :128]).max(), np.abs(result.flow[:, 128:]).max(), rtol=0.2)


def test_protect_mask_and_suppression_reduce_the_flow(portrait):
    image, keypoints = portrait
    base = BodyReshaper().reshape(image, keypoints).flow
    mask = np.zeros(image.shape[:2], np.float32)
    protected = BodyReshaper().reshape(image, keypoints, protect_mask=mask)
    assert not protected.flow.any() and np.array_equal(protected.image, image)
    suppressed = BodyReshaper(suppress_px=0.5).reshape(image, keypoints).flow
    assert np.linalg.norm(suppressed, axis=-1).max() < np.linalg.norm(base, axis=-1).max()
    with pytest.raises(BadInputError, match="protect_mask"):
        BodyReshaper().reshape(image, keypoints, protect_mask=np.ones((3, 3)))


def test_grey_rgba_and_uint16_images(portrait):
    image, keypoints = portrait
    grey = BodyReshaper().reshape(image[..., 0], keypoints)
    assert grey.image.shape == (128, 128, 3)
    rgba = np.concatenate([image, np.linspace(0, 1, 128 * 128, dtype=np.float32).reshape(128, 128, 1)], axis=-1)
    warped = BodyReshaper().reshape(rgba, keypoints)
    assert warped.alpha is not None and not np.array_equal(warped.alpha, rgba[..., 3])
    wide = BodyReshaper().reshape((image * 65535).astype(np.uint16), keypoints)
    np.testing.assert_allclose(wide.image, BodyReshaper().reshape(image, keypoints).image, atol=1e-3)


@pytest.mark.parametrize(
    "bad, message",
    [(None, "None"), (np.zeros((0, 0, 3)), "empty"), (np.zeros((20, 64, 3), np.float32), "too small"),
     (np.full((64, 64, 3), np.nan, np.float32), "NaN"), (np.full((64, 64, 3), 2.0, np.float32), r"\[0, 1\]"),
     (np.zeros((64, 64, 5), np.float32), "shape")],
)
def test_bad_images_are_rejected(portrait, bad, message):
    _, keypoints = portrait
    with pytest.raises(BadInputError, match=message):
        BodyReshaper().reshape(bad, keypoints)


def test_learned_method_needs_a_model():
    with pytest.raises(BadConfigError, match="model"):
        BodyReshaper(method="learned")
    with pytest.raises(BadConfigError, match="method"):
        BodyReshaper(method="magic")


def test_learned_method_blends_two_people(portrait):
    import torch

    image, keypoints = portrait
    torch.manual_seed(1)
    model = FlowGenerator(GeneratorConfig(width=2, input_size=32)).eval()
    torch.nn.init.normal_(model.decoder_top[-1].weight, 0, 0.2)
    second = keypoints.copy()
    second[:, 0] += 128
    wide = np.concatenate([image, image], axis=1)
    result = BodyReshaper(method="learned", model=model).reshape(wide, np.stack([keypoints, second]))
    assert result.people == 2 and np.isfinite(result.flow).all() and result.min_det >= 0.3
    single = BodyReshaper(method="learned", model=model).reshape(wide, keypoints)
    assert np.abs(result.flow[:, 200:]).max() > np.abs(single.flow[:, 200:]).max()  # the second ROI moved too


def _suit_area_change(name: str, flow: np.ndarray) -> float:
    from tenfold.bodyreshape.experiment import SUIT_MASKS
    from tenfold.bodyreshape.warp import remap

    image = fixture_image(name)
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    suit = SUIT_MASKS[name](image, rows, cols).astype(np.float32)
    return float((remap(suit, flow) > 0.5).sum() / (suit > 0.5).sum() - 1)


@pytest.mark.parametrize("name", ["astronaut", "camera"])
@pytest.mark.parametrize("method", ["capsule", "mls", "liquify"])
def test_default_degrees_slim_the_bundled_portraits_visibly_without_folds(name, method):
    """Issue 19: degree 1 needs no fold guard and narrows the suit; degree 2 goes further unless the guard
    had to cap it, and then it says so."""
    image, keypoints = fixture_image(name), fixture_keypoints(name)
    one = BodyReshaper(method=method).reshape(image, keypoints)
    two = BodyReshaper(method=method, degree=2.0).reshape(image, keypoints)
    assert one.shrink == 1.0 and one.min_det >= 0.3 and one.guard_text() == "fold guard: not needed"
    assert _suit_area_change(name, one.flow) < (-0.025 if name == "astronaut" else -0.01)
    assert two.min_det >= 0.3 - 1e-6
    np.testing.assert_allclose(two.flow, 2 * two.shrink * one.flow, atol=1e-3)
    assert two.shrink > 0.5  # degree 2 is at least the flow of degree 1, never less
    if two.shrink < 1.0:
        assert "acts as" in two.notes[0]
    assert _suit_area_change(name, two.flow) < _suit_area_change(name, one.flow)


@pytest.mark.parametrize("field, value", [("strength", float("nan")), ("strength", float("inf")), ("strength", -0.1),
                                          ("suppress_px", float("nan")), ("width_scale", float("nan")),
                                          ("width_scale", 0.0), ("min_det", 1.0)])
@pytest.mark.parametrize("method", ["capsule", "liquify"])
def test_non_finite_or_absurd_parameters_are_refused_before_any_pixel(field, value, method):
    """Issue 17: NaN strength once gave an all-black image and 'ok'."""
    with pytest.raises(BadConfigError, match=field):
        BodyReshaper(method=method, **{field: value})
