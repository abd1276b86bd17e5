import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tenfold.core.errors import BadInputError
from tenfold.cpt import box_iou, check_boxes, crop_regions, mark


def test_mark_blends_box_pixels_only():
    image = np.zeros((4, 6, 3), dtype=np.float32)
    marked = mark(image, [[1, 1, 3, 2]], (255, 0, 0), alpha=0.5)
    assert np.allclose(marked[1, 1:3], [0.5, 0.0, 0.0])
    untouched = np.ones((4, 6), bool)
    untouched[1, 1:3] = False
    assert np.all(marked[untouched] == 0.0)
    assert np.all(image == 0.0)  # input untouched


def test_xywh_equals_xyxy_and_uint8_accepted():
    image = (np.arange(5 * 5 * 3) % 255).astype(np.uint8).reshape(5, 5, 3)
    a = mark(image, [[1, 0, 4, 3]], (0, 255, 0), 0.4)
    b = mark(image, [[1, 0, 3, 3]], (0, 255, 0), 0.4, box_format="xywh")
    assert np.array_equal(a, b)


def test_mask_marks_only_mask_and_empty_mask_falls_back_to_box():
    image = np.full((4, 4, 3), 0.2, dtype=np.float32)
    masks = np.zeros((2, 4, 4), bool)
    masks[0, 0, 0] = True
    with pytest.warns(UserWarning, match="mask 1 is empty"):
        marked = mark(image, [[0, 0, 2, 2], [2, 2, 4, 4]], [(255, 255, 255), (0, 0, 0)], 1.0, masks=masks)
    assert marked[0, 0, 0] == 1.0 and marked[0, 1, 0] == pytest.approx(0.2)
    assert np.all(marked[2:, 2:] == 0.0)


@pytest.mark.parametrize(
    "boxes, message",
    [
        ([], "empty"),
        ([[0, 0, float("nan"), 2]], "NaN"),
        ([[3, 0, 1, 2]], "degenerate"),
        ([[10, 10, 12, 12]], "outside"),
        ([[0, 0, 1]], "shape"),
    ],
)
def test_bad_boxes(boxes, message):
    with pytest.raises(BadInputError, match=message):
        check_boxes(boxes, 8, 8)


def test_bad_alpha_and_mask_shape():
    image = np.zeros((4, 4, 3), dtype=np.float32)
    for alpha in (0.0, 1.5, -1):
        with pytest.raises(BadInputError, match="alpha"):
            mark(image, [[0, 0, 2, 2]], (1, 2, 3), alpha)
    with pytest.raises(BadInputError, match="does not match"):
        mark(image, [[0, 0, 2, 2]], (1, 2, 3), 0.5, masks=np.ones((1, 5, 4), bool))
    with pytest.raises(BadInputError, match="RGB"):
        mark(image, [[0, 0, 2, 2]], (1, 2, 300), 0.5)


def test_box_iou_hand_computed():
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 1, 1]])
    b = torch.tensor([[1.0, 1, 3, 3], [5, 5, 6, 6]])
    iou = box_iou(a, b)
    assert iou[0, 0] == pytest.approx(1 / 7)
    assert iou[1, 0] == 0 and iou[0, 1] == 0


box = st.tuples(st.floats(0, 50), st.floats(0, 50), st.floats(0.5, 30), st.floats(0.5, 30)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]]
)


@settings(max_examples=40, deadline=None)
@given(box, box)
def test_box_iou_properties(first, second):
    a, b = torch.tensor([first]), torch.tensor([second])
    value = float(box_iou(a, b)[0, 0])
    assert 0.0 <= value <= 1.0 + 1e-6
    assert value == pytest.approx(float(box_iou(b, a)[0, 0]), abs=1e-6)
    assert float(box_iou(a, a)[0, 0]) == pytest.approx(1.0, abs=1e-5)


def test_crop_regions_reads_the_box():
    image = torch.zeros(1, 8, 8, 3)
    image[0, 2:6, 4:8, 0] = 1.0
    crops = crop_regions(image, torch.tensor([[[4.0, 2, 8, 6], [0, 0, 4, 2]]]), 4)
    assert crops.shape == (1, 2, 3, 4, 4)
    assert torch.allclose(crops[0, 0, 0], torch.ones(4, 4))
    assert torch.all(crops[0, 1] == 0)
