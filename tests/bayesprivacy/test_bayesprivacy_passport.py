"""Passport layers and the keystore: the math, the secrecy rules and the bad inputs of spec B7."""

import pytest
import torch

from tenfold.bayesprivacy import (
    LeNet,
    MissingPassportError,
    PassportConv2d,
    PassportKeystore,
    PassportPrior,
    passport_layers,
    shared_state,
)
from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError


def _layer(norm="none"):
    torch.manual_seed(0)
    return PassportConv2d(2, 3, 3, input_shape=(2, 6, 6), padding=1, norm=norm)


def test_scale_and_bias_are_spatial_means_of_convolved_passports():
    layer = _layer()
    gamma_passport = torch.randn(1, 2, 6, 6)
    beta_passport = torch.randn(1, 2, 6, 6)
    layer.set_passports(gamma_passport, beta_passport, warn_dead=False)
    gamma, beta = layer.scale_and_bias()
    conv = torch.nn.functional.conv2d
    torch.testing.assert_close(gamma, conv(gamma_passport, layer.conv.weight, padding=1).mean(dim=(0, 2, 3)))
    torch.testing.assert_close(beta, conv(beta_passport, layer.conv.weight, padding=1).mean(dim=(0, 2, 3)))
    x = torch.randn(4, 2, 6, 6)
    expected = gamma[None, :, None, None] * conv(x, layer.conv.weight, padding=1) + beta[None, :, None, None]
    torch.testing.assert_close(layer(x), expected)


def test_constant_passport_gives_gamma_equal_to_weight_sum_without_padding():
    layer = PassportConv2d(1, 2, 3, input_shape=(1, 5, 5), padding=0)
    layer.set_passports(torch.ones(1, 1, 5, 5), torch.zeros(1, 1, 5, 5), warn_dead=False)
    gamma, beta = layer.scale_and_bias()
    torch.testing.assert_close(gamma, layer.conv.weight.sum(dim=(1, 2, 3)))
    torch.testing.assert_close(beta, torch.zeros(2))


def test_gradient_reaches_weights_through_both_paths():
    layer = _layer()
    layer.set_passports(torch.randn(1, 2, 6, 6), torch.randn(1, 2, 6, 6), warn_dead=False)
    layer(torch.randn(2, 2, 6, 6)).sum().backward()
    assert layer.conv.weight.grad is not None and layer.conv.weight.grad.abs().sum() > 0


def test_passports_are_never_in_the_state_dict():
    model = LeNet(passports=(0, 1, 2))
    PassportKeystore.sample(model, PassportPrior(sigma=5.0), seed=0).install(model)
    state = shared_state(model)
    assert not any("passport" in key for key in state)
    fresh = LeNet(passports=(0, 1, 2))
    fresh.load_state_dict(state)  # strict: passports are not expected
    with pytest.raises(MissingPassportError, match="keystore"):
        fresh(torch.rand(1, 1, 28, 28))


def test_keystore_round_trip_reproduces_the_function(tmp_path):
    model = LeNet(passports=(1, 2))
    keystore = PassportKeystore.sample(model, PassportPrior(sigma=2.0), seed=3)
    keystore.install(model)
    x = torch.rand(3, 1, 28, 28)
    before = model(x)
    keystore.save(tmp_path / "keys.safetensors")
    clone = LeNet(passports=(1, 2))
    clone.load_state_dict(model.state_dict())
    PassportKeystore.load(tmp_path / "keys.safetensors").install(clone)
    torch.testing.assert_close(clone(x), before)
    other = LeNet(passports=(1, 2))
    other.load_state_dict(model.state_dict())
    PassportKeystore.sample(other, PassportPrior(sigma=2.0), seed=4).install(other)
    assert (other(x) - before).abs().max() > 1e-3  # other passports, other function


def test_keystore_sampling_is_seeded_and_follows_the_prior():
    model = LeNet(passports=(0,))
    a = PassportKeystore.sample(model, PassportPrior(sigma=5.0), seed=1).passports["body.0"][0]
    b = PassportKeystore.sample(model, PassportPrior(sigma=5.0), seed=1).passports["body.0"][0]
    torch.testing.assert_close(a, b)
    assert a.shape == (1, 1, 28, 28)
    assert abs(float(a.mean()) - 1.0) < 0.6 and abs(float(a.std()) - 5.0) < 0.5
    uniform = PassportKeystore.sample(model, PassportPrior("uniform"), seed=1).passports["body.0"][0]
    assert uniform.min() >= -1 and uniform.max() <= 1


def test_bad_passports_and_missing_keystores(tmp_path):
    layer = _layer()
    with pytest.raises(BadInputError, match="must match"):
        layer.set_passports(torch.ones(1, 2, 5, 5), torch.ones(1, 2, 5, 5))
    with pytest.raises(BadInputError, match="NaN"):
        layer.set_passports(torch.full((1, 2, 6, 6), float("nan")), torch.ones(1, 2, 6, 6))
    with pytest.raises(BadConfigError, match="sigma"):
        PassportPrior(sigma=0.0)
    with pytest.raises(BadConfigError, match="sigma"):
        PassportPrior(sigma=float("inf"))
    with pytest.raises(MissingDataError, match="never re-drawn"):
        PassportKeystore.load(tmp_path / "absent.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a keystore")
    with pytest.raises(BadInputError, match="not a passport keystore"):
        PassportKeystore.load(tmp_path / "junk.safetensors")
    with pytest.raises(MissingPassportError, match="body.4"):
        PassportKeystore({}).install(LeNet(passports=(2,)))
    layer.set_passports(torch.ones(1, 2, 6, 6), torch.ones(1, 2, 6, 6), warn_dead=False)
    with pytest.raises(BadInputError, match="made for"):
        layer(torch.randn(1, 2, 7, 7))


def test_dead_channels_warn():
    layer = PassportConv2d(1, 2, 3, input_shape=(1, 4, 4))
    with pytest.warns(UserWarning, match="resample"):
        layer.set_passports(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))


def test_lenet_shapes_and_layer_selection():
    model = LeNet(passports=(0, 2), norm="group")
    assert list(passport_layers(model)) == ["body.0", "body.4"]
    PassportKeystore.sample(model, seed=0).install(model)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(BadConfigError):
        LeNet(passports=(3,))
    with pytest.raises(BadConfigError):
        PassportConv2d(1, 2, 3, input_shape=(1, 4, 4), norm="layer")
