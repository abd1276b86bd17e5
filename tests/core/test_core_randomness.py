import warnings

import numpy as np
import pytest

from tenfold.core.errors import BadConfigError
from tenfold.core.randomness import (
    InsecureSeedWarning,
    randomness_record,
    secret_generator,
    secret_normal,
    torch_generator,
)


def test_default_generators_differ_between_calls_and_cannot_be_replayed_from_small_seeds():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the secure path warns about nothing
        first = secret_generator().standard_normal(64)
        second = secret_generator().standard_normal(64)
    assert not np.allclose(first, second)
    for seed in range(50):
        with pytest.warns(InsecureSeedWarning):
            assert not np.allclose(secret_generator(seed).standard_normal(64), first)


def test_insecure_seed_is_explicit_replayable_warned_and_recorded():
    with pytest.warns(InsecureSeedWarning, match="replayable seed 7"):
        a = secret_generator(7).random(5)
    with pytest.warns(InsecureSeedWarning):
        b = secret_generator(7).random(5)
    assert np.array_equal(a, b)
    assert randomness_record(7)["insecure_seed"] == 7 and "INSECURE" in randomness_record(7)["randomness"]
    assert randomness_record(None) == {"randomness": randomness_record(None)["randomness"], "insecure_seed": None}
    assert "os" in randomness_record(None)["randomness"].lower()
    with pytest.raises(BadConfigError):
        secret_generator(-1)


def test_secret_normal_has_the_right_law_and_torch_generators_differ():
    import torch

    draws = secret_normal((20000,), secret_generator(), std=2.0)
    assert draws.dtype == torch.get_default_dtype()
    assert abs(float(draws.mean())) < 0.1 and abs(float(draws.std()) - 2.0) < 0.1
    assert torch_generator().initial_seed() != torch_generator().initial_seed()
    assert torch_generator(3).initial_seed() == 3


def test_secret_gaussian_sums_draws_with_the_right_scale():
    from tenfold.core.randomness import secret_gaussian

    draws = secret_gaussian(secret_generator(), 40000, std=3.0, summands=4)
    assert abs(draws.mean()) < 0.1 and abs(draws.std() - 3.0) < 0.08
    with pytest.raises(BadConfigError):
        secret_gaussian(secret_generator(), 3, summands=0)
