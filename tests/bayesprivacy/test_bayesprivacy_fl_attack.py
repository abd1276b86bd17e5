"""FedAvg semantics (in process and through Flower), defences and their secret noise, attacks and eps_hat."""

import warnings

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
    invert,
    make_clients,
    restore,
    restore_many,
    run_fedavg,
    secure_gaussian,
)
from tenfold.bayesprivacy.attacks import cosine_mismatch, total_variation
from tenfold.bayesprivacy.fedavg import FedClient
from tenfold.core.errors import BadConfigError, BadInputError
from tenfold.core.image_quality import psnr
from tenfold.core.randomness import InsecureSeedWarning, secret_generator


def _data(n=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = (torch.rand(n, 1, 28, 28, generator=generator) * 0.3 + (y[:, None, None, None] / 10.0) * 0.7).clamp(0, 1)
    return x, y


def _seeded(seed):
    with pytest.warns(InsecureSeedWarning):
        return secret_generator(seed)


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
    clients = make_clients(x, y, 2, factory, defence, config)
    via_flower = flower_round(clients, initial)
    # The same clients (same secret passports) through the in-process loop, batch order replayed.
    for client in clients:
        client.generator.manual_seed(config.seed * 1000 + client.client_id)
    in_process, _ = run_fedavg(clients, initial, config)
    for key in in_process:
        torch.testing.assert_close(via_flower[key], in_process[key], atol=1e-6, rtol=1e-5)
    client = make_numpy_client(clients[0])
    assert len(client.get_parameters({})) == len(initial)


def test_secure_gaussian_is_half_a_sum_of_four_draws_with_the_right_law():
    draws = secure_gaussian((3, 5), _seeded(4), std=2.0, dtype=torch.float64)
    replay = _seeded(4)
    by_hand = sum(replay.standard_normal(size=(3, 5)) * 2.0 for _ in range(4)) / 2
    np.testing.assert_allclose(draws.numpy(), by_hand)
    many = secure_gaussian((40000,), secret_generator(), std=0.5)
    assert many.dtype == torch.float32
    assert abs(float(many.mean())) < 0.01 and abs(float(many.std()) - 0.5) < 0.01
    assert float(secure_gaussian((3,), secret_generator(), std=0.0).abs().sum()) == 0.0
    with pytest.raises(BadConfigError):
        secure_gaussian((3,), secret_generator(), std=float("nan"))


@pytest.mark.parametrize("defence", [Defence("noise", noise_std=0.1), Defence("dp", dp_noise_multiplier=1.0)])
def test_defence_noise_is_secret_by_default_and_replayable_only_when_opted_in(defence):
    x, y = _data()
    config = FedConfig(rounds=1, local_steps=2, batch_size=8)

    def train(config):
        torch.manual_seed(0)
        clients = make_clients(x, y, 2, LeNet, defence, config)
        state, history = run_fedavg(clients, LeNet().state_dict(), config, x_test=x, y_test=y)
        assert np.isfinite(history.accuracy[-1]) and set(state) == set(LeNet().state_dict())
        return state, clients

    with warnings.catch_warnings():
        warnings.simplefilter("error", InsecureSeedWarning)
        first, clients = train(config)
        second, _ = train(config)
    assert any(not torch.equal(first[k], second[k]) for k in first)  # same config seed, other noise
    opted = FedConfig(rounds=1, local_steps=2, batch_size=8, insecure_seed=9)
    with pytest.warns(InsecureSeedWarning):
        a, _ = train(opted)
    with pytest.warns(InsecureSeedWarning):
        b, _ = train(opted)
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    if defence.kind == "dp":
        epsilon = clients[0].dp_epsilon(1e-5)
        assert epsilon is not None and 0 < epsilon < float("inf")


def test_exposed_gradient_noise_and_clipping():
    torch.manual_seed(0)
    model = LeNet().eval()
    x, y = _data(1)
    clean = exposed_gradient(model, x, y)
    clipped = exposed_gradient(model, x, y, clip_norm=1e-3)
    assert float(torch.sqrt(sum((g**2).sum() for g in clipped))) == pytest.approx(1e-3, rel=1e-3)
    a = exposed_gradient(model, x, y, noise_std=0.1)
    b = exposed_gradient(model, x, y, noise_std=0.1)
    assert not torch.allclose(a[0], b[0])  # fresh secret noise each time
    c = exposed_gradient(model, x, y, noise_std=0.1, generator=_seeded(2))
    d = exposed_gradient(model, x, y, noise_std=0.1, generator=_seeded(2))
    torch.testing.assert_close(c[0], d[0])
    assert not torch.allclose(c[0], clean[0])


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
    with pytest.raises(BadConfigError, match="noise_std"):
        Defence("noise", noise_std=float("nan"))
    with pytest.raises(BadConfigError, match="unknown defence"):
        Defence("he")
    with pytest.raises(BadConfigError):
        FedConfig(rounds=0)
    with pytest.raises(BadConfigError):
        FedConfig(lr=float("inf"))
    with pytest.raises(BadConfigError):
        FedConfig(insecure_seed=-1)


def test_idlg_label_inference_and_batchnorm_guard():
    torch.manual_seed(0)
    model = LeNet().eval()
    x, y = _data(3)
    for i in range(3):
        assert infer_label(exposed_gradient(model, x[i : i + 1], y[i : i + 1]), model) == int(y[i])
    bn = LeNet(passports=(0,), norm="batch")
    PassportKeystore.sample(bn).install(bn)
    with pytest.raises(BadInputError, match="eval"):
        exposed_gradient(bn.train(), x[:1], y[:1])


def test_attack_helpers_by_hand():
    assert float(cosine_mismatch([torch.tensor([1.0, 0.0])], [torch.tensor([2.0, 0.0])])) == pytest.approx(0.0, abs=1e-6)
    assert float(cosine_mismatch([torch.tensor([1.0, 0.0])], [torch.tensor([0.0, 3.0])])) == pytest.approx(1.0)
    image = torch.zeros(1, 1, 2, 2)
    image[..., 0, 0] = 1.0
    assert float(total_variation(image)) == pytest.approx(0.5 + 0.5)


def test_batched_inverting_gradients_equals_one_optimiser_per_image():
    """The vmapped attack is the plain per-image Inverting Gradients: same start, same Adam steps, same result."""
    torch.manual_seed(0)
    model = LeNet().eval()
    x, y = _data(1, seed=3)
    target = exposed_gradient(model, x, y)
    config = AttackConfig(iterations=6, restarts=1, lr=0.1)
    batched, _ = invert(model, target, int(y[0]), (1, 28, 28), config, seed=5)
    image = torch.from_numpy(np.random.default_rng(5).random((1, 1, 28, 28))).to(torch.float32).requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=config.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [int(6 * f) for f in (3 / 8, 5 / 8, 7 / 8)], gamma=0.1)
    parameters = list(model.parameters())
    for _ in range(config.iterations):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(image), y[:1])
        gradients = torch.autograd.grad(loss, parameters, create_graph=True)
        (cosine_mismatch(gradients, target) + config.tv * total_variation(image)).backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            image.clamp_(0, 1)
    torch.testing.assert_close(batched, image.detach()[0], atol=1e-5, rtol=1e-4)


def test_inverting_gradients_restores_an_undefended_image_and_every_guess_runs():
    torch.manual_seed(0)
    model = LeNet().eval()
    x, y = _data(2, seed=3)
    target = exposed_gradient(model, x[:1], y[:1])
    config = AttackConfig(iterations=60, restarts=1, lr=0.1)
    restoration, label = restore(model, target, (1, 28, 28), config, guess="none")
    assert label == int(y[0])
    start = torch.from_numpy(np.random.default_rng(0).random((1, 28, 28))).to(torch.float32)
    assert psnr(x[0].numpy(), restoration.best.numpy()) > psnr(x[0].numpy(), start.numpy()) + 2.0
    passport_model = LeNet(passports=(0,)).eval()
    keystore = PassportKeystore.sample(passport_model, PassportPrior(sigma=1.0))
    keystore.install(passport_model)
    targets = [exposed_gradient(passport_model, x[i : i + 1], y[i : i + 1]) for i in range(2)]
    small = AttackConfig(iterations=3, restarts=1, prior_draws=2)
    oracle = restore_many(passport_model, targets, (1, 28, 28), small, guess="oracle", true_keystore=keystore)
    prior = restore_many(passport_model, targets, (1, 28, 28), small, guess="prior", attacker_prior=PassportPrior(sigma=1.0))
    joint = restore_many(passport_model, targets, (1, 28, 28), small, guess="joint", attacker_prior=PassportPrior(sigma=1.0))
    assert [len(r.candidates) for r, _ in prior] == [2, 2]
    assert all(len(r.candidates) == 1 for r, _ in oracle + joint)
    assert passport_model.body[0].override_gamma is None  # the joint attack's free scale/bias never stick
    with pytest.raises(BadConfigError, match="passport"):
        restore(passport_model, targets[0], (1, 28, 28), config, guess="none")
    with pytest.raises(BadConfigError, match="passport layers"):
        restore(model, target, (1, 28, 28), config, guess="prior", attacker_prior=PassportPrior())


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
