import math

import numpy as np
import pytest

from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.image_quality import psnr
from tenfold.core.validation import check_array, check_number


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0, 0.0, 11.0])
def test_check_number_refuses_nan_infinities_and_out_of_range(value):
    with pytest.raises(BadConfigError, match="--strength"):
        check_number("--strength", value, low=0.0, high=10.0, low_open=True)


def test_check_number_accepts_in_range_and_checks_whole_numbers():
    assert check_number("--width", 4, low=1, integer=True) == 4
    with pytest.raises(BadConfigError, match="whole"):
        check_number("--width", 2.5, low=1, integer=True)
    assert check_number("--clip", None, allow_none=True) is None
    with pytest.raises(BadConfigError, match="required"):
        check_number("--clip", None)


def test_check_array_names_shape_emptiness_and_nan():
    with pytest.raises(BadInputError, match="expected 2-D"):
        check_array(np.ones(3), name="FEATURES", ndim=2)
    with pytest.raises(BadInputError, match="expected \\(any, 3\\)"):
        check_array(np.ones((2, 4)), name="X", shape=(None, 3))
    with pytest.raises(BadInputError, match="empty"):
        check_array(np.ones((0, 3)), name="X", ndim=2)
    with pytest.raises(BadInputError, match="1 NaN"):
        check_array(np.array([1.0, np.nan]), name="X")
    with pytest.raises(BadInputError, match="dtype"):
        check_array(np.array(["a"]), name="X")
    assert check_array([[1, 2]], name="X", ndim=2).shape == (1, 2)


def test_psnr_single_convention():
    reference = np.zeros((4, 4))
    assert psnr(reference, reference) == math.inf
    assert psnr(reference, reference, max_db=100.0) == 100.0
    assert psnr(reference, np.full((4, 4), 0.1)) == pytest.approx(20.0)
    assert psnr(reference, np.full((4, 4), 25.5), data_range=255) == pytest.approx(20.0)
    with pytest.raises(BadInputError):
        psnr(reference, np.zeros(3))
