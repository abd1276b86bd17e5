"""FedAvg semantics (in process and through Flower), defences, attacks and the leakage estimate."""

import numpy as np
import pytest
import torch

from tenfold.bayesprivacy import (
    AttackConfig,
    Defence,
    FedConfig,
    LeNet,
    PassportKeystore,
    PassportPrior,
    average_states,
    epsilon_hat,
    exposed_gradient,
    infer_label,
    make_clients,
    psnr,
    restore,
    run_fedavg,
)
from tenfold.bayesprivacy.attacks import cosine_mismatch, total_variation
from tenfold.bayesprivacy.fedavg import FedClient
from tenfold.core.errors import BadConfigError, BadInputError


def _data(n=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = (torch.rand(n, 1, 28, 28, generator=generator) * 0.3 + (y[:, None, None, None] / 10.0) * 0.7).clamp(0, 1)
    return x, y


def test_average_states_is_sample_weighted():
    a = {"w": torch.tensor([0.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(7)}
    out = average_states([a, b], [1, 2])
    torch.testing.assert_close(out["w"], torch.tensor([2.0, 4.0]))
    assert int(out["n"]) == 3


def test_fedavg_runs_and_shared_passports_are_shared_but_never_sent():
    x, y = _data()
    config = FedConfig(rounds=2, local_steps=2, batch_size=8)
    factory = lambda: LeNet(passports=(0, 1, 2))  # noqa: E731
    clients = make_clients(x, y, 2, factory, Defence("passport", prior=PassportPrior(sigma=5.0)), config)
    key0 = clients[0].keystore.passports["body.0"][0]
    torch.testing.assert_close(key0, clients[1].keystore.passports["body.0"][0])
    state, history = run_fedavg(clients, factory().state_dict(), config, x_test=x, y_test=y, snapshot_rounds=(1,))
    assert len(history.accuracy) == 2 and 1 in history.snapshots
    assert not any("passport" in k for k in state)
    per_client = make_clients(x, y, 2, factory, Defence("passport", scope="per_client"), config)
    assert (per_client[0].keystore.passports["body.0"][0] - per_client[1].keystore.passports["body.0"][0]).abs().max() > 0


def test_flower_round_matches_the_in_process_round():
    from tenfold.bayesprivacy.flower import flower_round, make_numpy_client

    x, y = _data()
    config = FedConfig(rounds=1, local_steps=2, batch_size=8)
    factory = lambda: LeNet(passports=(1,))  # noqa: E731
    torch.manual_seed(0)
    initial = factory().state_dict()
    defence = Defence("passport", prior=PassportPrior(sigma=1.0))
    via_flower = flower_round(make_clients(x, y, 2, factory, defence, config), initial)
    in_process, _ = run_fedavg(make_clients(x, y, 2, factory, defence, config), initial, config)
    for key in in_process:
        torch.testing.assert_close(via_flower[key], in_process[key], atol=1e-6, rtol=1e-5)
    client = make_numpy_client(make_clients(x, y, 2, factory, defence, config)[0])
    assert len(client.get_parameters({})) == len(initial)


def test_noise_and_dp_defences_train():
    x, y = _data()
    config = FedConfig(rounds=1, local_steps=2, batch_size=8)
    for defence in (Defence("noise", noise_std=0.1), Defence("dp", dp_noise_multiplier=1.0)):
        clients = make_clients(x, y, 2, LeNet, defence, config)
        state, history = run_fedavg(clients, LeNet().state_dict(), config, x_test=x, y_test=y)
        assert np.isfinite(history.accuracy[-1]) and set(state) == set(LeNet().state_dict())


def test_bad_federation_inputs():
    x, y = _data(8)
    config = FedConfig(rounds=1, local_steps=1)
    with pytest.raises(BadConfigError, match="Opacus"):
        make_clients(x, y, 2, lambda: LeNet(passports=(0,)), Defence("dp"), config)
    with pytest.raises(BadInputError, match="empty data shard"):
        FedClient(0, x[:0], y[:0], LeNet, Defence(), config)
    with pytest.raises(BadInputError, match="cannot fill"):
        make_clients(x, y, 20, LeNet, Defence(), config)
    with pytest.raises(BadConfigError, match="noise_std"):
        Defence("noise")
    with pytest.raises(BadConfigError, match="unknown defence"):
        Defence("he")
    with pytest.raises(BadConfigError):
        FedConfig(rounds=0)


def test_idlg_label_inference_and_batchnorm_guard():
    torch.manual_seed(0)
    model = LeNet().eval()
    x, y = _data(3)
    for i in range(3):
        assert infer_label(exposed_gradient(model, x[i : i + 1], y[i : i + 1]), model) == int(y[i])
    bn = LeNet(passports=(0,), norm="batch")
    PassportKeystore.sample(bn, seed=0).install(bn)
    with pytest.raises(BadInputError, match="eval"):
        exposed_gradient(bn.train(), x[:1], y[:1])


def test_attack_helpers_by_hand():
    assert float(cosine_mismatch([torch.tensor([1.0, 0.0])], [torch.tensor([2.0, 0.0])])) == pytest.approx(0.0, abs=1e-6)
    assert float(cosine_mismatch([torch.tensor([1.0, 0.0])], [torch.tensor([0.0, 3.0])])) == pytest.approx(1.0)
    image = torch.zeros(1, 1, 2, 2)
    image[..., 0, 0] = 1.0
    assert float(total_variation(image)) == pytest.approx(0.5 + 0.5)
    assert psnr(np.zeros(4), np.full(4, 0.1)) == pytest.approx(20.0)


def test_inverting_gradients_restores_an_undefended_image_and_oracle_equals_true_model():
    torch.manual_seed(0)
    model = LeNet().eval()
    x, y = _data(1, seed=3)
    target = exposed_gradient(model, x, y)
    config = AttackConfig(iterations=60, restarts=1, lr=0.1)
    restoration, label = restore(model, target, (1, 28, 28), config, guess="none")
    assert label == int(y[0])
    start = torch.rand((1, 1, 28, 28), generator=torch.Generator().manual_seed(0))[0]
    assert psnr(x[0].numpy(), restoration.best.numpy()) > psnr(x[0].numpy(), start.numpy()) + 2.0
    passport_model = LeNet(passports=(0,)).eval()
    keystore = PassportKeystore.sample(passport_model, PassportPrior(sigma=1.0), seed=0)
    keystore.install(passport_model)
    target = exposed_gradient(passport_model, x, y)
    oracle, _ = restore(passport_model, target, (1, 28, 28), AttackConfig(iterations=3, restarts=1), guess="oracle",
                        true_keystore=keystore)
    prior, _ = restore(passport_model, target, (1, 28, 28), AttackConfig(iterations=3, restarts=1, prior_draws=2),
                       guess="prior", attacker_prior=PassportPrior(sigma=1.0))
    joint, _ = restore(passport_model, target, (1, 28, 28), AttackConfig(iterations=3, restarts=1), guess="joint",
                       attacker_prior=PassportPrior(sigma=1.0))
    assert len(prior.candidates) == 2 and len(oracle.candidates) == len(joint.candidates) == 1
    assert all(layer.scale_bias_override is None for layer in [passport_model.body[0]])
    with pytest.raises(BadConfigError, match="passport"):
        restore(passport_model, target, (1, 28, 28), config, guess="none")


def test_dlg_variant_runs():
    torch.manual_seed(0)
    model = LeNet(activation="sigmoid").eval()
    x, y = _data(1, seed=4)
    restoration, _ = restore(model, exposed_gradient(model, x, y), (1, 28, 28),
                             AttackConfig(method="dlg", iterations=5, restarts=1), guess="none")
    assert restoration.best.shape == (1, 28, 28)


def test_epsilon_hat_orders_informative_above_uninformative():
    rng = np.random.default_rng(0)
    private = [rng.random(16) for _ in range(3)]
    prior_mean, prior_var = np.full(16, 0.5), np.full(16, 1 / 12)
    close = [np.stack([p + 0.01 * rng.normal(size=16) for _ in range(3)]) for p in private]
    far = [np.stack([rng.random(16) for _ in range(3)]) for _ in private]
    assert epsilon_hat(close, private, prior_mean, prior_var) > 0 > epsilon_hat(far, private, prior_mean, prior_var)
    with pytest.raises(BadInputError):
        epsilon_hat(close[:2], private, prior_mean, prior_var)
