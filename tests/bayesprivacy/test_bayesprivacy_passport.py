"""Passport layers and the keystore: the math, the secrecy rules and the bad inputs of spec B7."""

import stat
import warnings

import numpy as np
import pytest
import torch

from tenfold.bayesprivacy import (
    Defence,
    FedConfig,
    LeNet,
    MissingPassportError,
    PassportConv2d,
    PassportKeystore,
    PassportPrior,
    make_clients,
    passport_layers,
    shared_state,
)
from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError
from tenfold.core.randomness import InsecureSeedWarning, secret_generator


def _layer(norm="none"):
    torch.manual_seed(0)
    return PassportConv2d(2, 3, 3, input_shape=(2, 6, 6), padding=1, norm=norm)


def _quiet_sample(model, prior=PassportPrior(), seed=0):
    with pytest.warns(InsecureSeedWarning):
        return PassportKeystore.sample(model, prior, insecure_seed=seed)


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
    PassportKeystore.sample(model, PassportPrior(sigma=5.0)).install(model)
    state = shared_state(model)
    assert not any("passport" in key or "override" in key for key in state)
    fresh = LeNet(passports=(0, 1, 2))
    fresh.load_state_dict(state)  # strict: passports are not expected
    with pytest.raises(MissingPassportError, match="keystore"):
        fresh(torch.rand(1, 1, 28, 28))


def test_keystore_round_trip_reproduces_the_function_and_is_owner_only(tmp_path):
    model = LeNet(passports=(1, 2))
    keystore = PassportKeystore.sample(model, PassportPrior(sigma=2.0))
    keystore.install(model)
    x = torch.rand(3, 1, 28, 28)
    before = model(x)
    path = tmp_path / "keys.safetensors"
    keystore.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    clone = LeNet(passports=(1, 2))
    clone.load_state_dict(model.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an owner-only keystore loads without a warning
        loaded = PassportKeystore.load(path)
    loaded.install(clone)
    torch.testing.assert_close(clone(x), before)
    assert "os-csprng" in loaded.record["randomness"] and loaded.record["insecure_seed"] == ""
    other = LeNet(passports=(1, 2))
    other.load_state_dict(model.state_dict())
    PassportKeystore.sample(other, PassportPrior(sigma=2.0)).install(other)
    assert (other(x) - before).abs().max() > 1e-3  # other passports, other function


def test_default_passports_differ_every_time_and_follow_the_prior():
    model = LeNet(passports=(0,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the secure default warns about nothing
        a = PassportKeystore.sample(model, PassportPrior(sigma=5.0)).passports["body.0"][0]
        b = PassportKeystore.sample(model, PassportPrior(sigma=5.0)).passports["body.0"][0]
    assert not torch.allclose(a, b)
    assert a.shape == (1, 1, 28, 28) and a.dtype == torch.float32
    assert abs(float(a.mean()) - 1.0) < 0.6 and abs(float(a.std()) - 5.0) < 0.5
    uniform = PassportKeystore.sample(model, PassportPrior("uniform")).passports["body.0"][0]
    assert uniform.min() >= -1 and uniform.max() <= 1


def test_insecure_seed_is_explicit_replayable_warned_and_recorded(tmp_path):
    model = LeNet(passports=(0,))
    with pytest.warns(InsecureSeedWarning, match="replayable seed 11"):
        a = PassportKeystore.sample(model, insecure_seed=11)
    b = _quiet_sample(model, seed=11)
    torch.testing.assert_close(a.passports["body.0"][0], b.passports["body.0"][0])
    a.save(tmp_path / "seeded.safetensors")
    record = PassportKeystore.load(tmp_path / "seeded.safetensors").record
    assert record["insecure_seed"] == "11" and "INSECURE" in record["randomness"]


def test_passports_cannot_be_regenerated_from_any_config_seed():
    """The oracle attack of issue 16: an attacker with the code replays the seeding of every release up to
    this one (the old ``seed * 7919 + client + 17`` torch stream, and the opted-in numpy stream) for many
    config seeds; none reproduces a default keystore, and the federation's config seed does not fix it."""
    model = LeNet(passports=(0, 1, 2))
    prior = PassportPrior(sigma=5.0)
    x = torch.rand(64, 1, 28, 28)
    y = torch.arange(64) % 10
    config = FedConfig(rounds=1, local_steps=1, seed=0)
    first = make_clients(x, y, 2, lambda: LeNet(passports=(0, 1, 2)), Defence("passport", prior=prior), config)
    second = make_clients(x, y, 2, lambda: LeNet(passports=(0, 1, 2)), Defence("passport", prior=prior), config)
    secret = first[0].keystore.passports["body.0"][0]
    assert not torch.allclose(secret, second[0].keystore.passports["body.0"][0])  # same config seed, other secret
    shape = tuple(secret.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureSeedWarning)
        for config_seed in range(200):
            for client in (0, 1):
                legacy = torch.Generator().manual_seed(config_seed * 7919 + client + 17)
                replayed = prior.mu + prior.sigma * torch.randn(shape, generator=legacy)
                assert not torch.allclose(replayed, secret, atol=1e-3)
            for guess_seed in (config_seed, config_seed * 7919 + 17):
                replayed = PassportKeystore.sample(model, prior, insecure_seed=guess_seed).passports["body.0"][0]
                assert not torch.allclose(replayed, secret, atol=1e-3)
    # The same replay does hit an opted-in keystore: the test can tell a match from a miss.
    with pytest.warns(InsecureSeedWarning):
        opted = make_clients(x, y, 2, lambda: LeNet(passports=(0, 1, 2)), Defence("passport", prior=prior),
                             FedConfig(rounds=1, local_steps=1, insecure_seed=3))
    with pytest.warns(InsecureSeedWarning):
        replayed = prior.sample(shape, secret_generator(3))
    torch.testing.assert_close(replayed, opted[0].keystore.passports["body.0"][0])


def test_bad_passports_and_missing_or_damaged_keystores(tmp_path):
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
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(BadInputError, match="empty"):
        PassportKeystore.load(tmp_path / "empty.safetensors")
    good = PassportKeystore.sample(LeNet(passports=(0,)))
    good.save(tmp_path / "good.safetensors")
    data = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="not a passport keystore"):
        PassportKeystore.load(tmp_path / "cut.safetensors")
    from safetensors.torch import save

    (tmp_path / "half.safetensors").write_bytes(save({"body.0::gamma": torch.ones(1, 1, 28, 28)}))
    with pytest.raises(BadInputError, match="incomplete"):
        PassportKeystore.load(tmp_path / "half.safetensors")
    (tmp_path / "shape.safetensors").write_bytes(save({"body.0::gamma": torch.ones(1, 28, 28),
                                                       "body.0::beta": torch.ones(1, 28, 28)}))
    with pytest.raises(BadInputError, match="shapes"):
        PassportKeystore.load(tmp_path / "shape.safetensors")
    (tmp_path / "nan.safetensors").write_bytes(save({"body.0::gamma": torch.full((1, 1, 28, 28), float("nan")),
                                                     "body.0::beta": torch.ones(1, 1, 28, 28)}))
    with pytest.raises(BadInputError, match="NaN"):
        PassportKeystore.load(tmp_path / "nan.safetensors")
    with pytest.raises(MissingPassportError, match="body.4"):
        PassportKeystore({}).install(LeNet(passports=(2,)))
    layer.set_passports(torch.ones(1, 2, 6, 6), torch.ones(1, 2, 6, 6), warn_dead=False)
    with pytest.raises(BadInputError, match="made for"):
        layer(torch.randn(1, 2, 7, 7))


def test_a_keystore_others_can_read_loads_with_a_warning(tmp_path):
    path = tmp_path / "keys.safetensors"
    PassportKeystore.sample(LeNet(passports=(0,))).save(path)
    path.chmod(0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        PassportKeystore.load(path)


def test_dead_channels_warn():
    layer = PassportConv2d(1, 2, 3, input_shape=(1, 4, 4))
    with pytest.warns(UserWarning, match="resample"):
        layer.set_passports(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))


def test_lenet_shapes_and_layer_selection():
    model = LeNet(passports=(0, 2), norm="group")
    assert list(passport_layers(model)) == ["body.0", "body.4"]
    PassportKeystore.sample(model).install(model)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(BadConfigError):
        LeNet(passports=(3,))
    with pytest.raises(BadConfigError):
        PassportConv2d(1, 2, 3, input_shape=(1, 4, 4), norm="layer")
    with pytest.raises(BadConfigError, match="no passport layers"):
        PassportKeystore.sample(LeNet())
    assert np.isfinite(model(torch.rand(1, 1, 28, 28)).detach().numpy()).all()


def test_sampling_redraws_passports_that_leave_a_channel_dead():
    """A draw whose gamma is ~0 on some channel is replaced (spec B7), so fresh keystores install silently."""
    model = LeNet(passports=(0, 1, 2))
    prior = PassportPrior("normal", mu=0.0, sigma=1e-4)  # tiny passports: nearly every first draw is dead
    with pytest.warns(InsecureSeedWarning):
        keystore = PassportKeystore.sample(model, PassportPrior(sigma=5.0), insecure_seed=0)
    for name, layer in passport_layers(model).items():
        layer.set_passports(*keystore.passports[name], warn_dead=False)
        assert bool((layer.scale_and_bias()[0].abs() >= 1e-3).all())
    with pytest.warns(UserWarning, match="carry no signal"):  # when no draw helps, the install still says so
        PassportKeystore.sample(model, prior).install(model)
