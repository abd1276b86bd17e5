"""``tenfold bayesprivacy``: federated training with a defence, and a restoration attack on the result.

Every path and number is checked before any work starts; the secrets (passports, defence noise) come from
OS entropy unless ``--insecure-seed`` opts in to a replayable seed, which is warned about and recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError, TenfoldError

app = typer.Typer(
    help="Bayesian-privacy FL: passport layers, FedAvg with defences, restoration attacks, leakage.",
    no_args_is_help=True,
)

IMAGE_SIZE = 28
# The library's choices, repeated so a bad option fails before torch is imported (a test keeps them equal).
DEFENCES = ("none", "noise", "dp", "passport")
PASSPORT_GUESSES = ("prior", "oracle", "joint")
NUM_CLASSES = 10
CONFIG_KEYS = ("defence", "rounds", "clients", "local_steps", "sigma", "noise", "dp_noise_multiplier", "dp_clip",
               "scope", "seed", "data", "test_size")

INSECURE_SEED_HELP = ("Draw the secrets (passports, defence noise) from this replayable seed instead of OS entropy. "
                      "For experiments and tests only: anyone with the seed can regenerate the secrets.")


def _load_data(data: Path | None, option: str = "--data"):
    """MNIST-5k (default) or an .npz with x (N, 28, 28) or (N, 1, 28, 28) in [0, 1] or uint8, and labels y (N,)."""
    import numpy as np

    from tenfold.core import data as shipped
    from tenfold.core.io import read_npz
    from tenfold.core.validation import check_array

    if data is None:
        return shipped.mnist5k(IMAGE_SIZE)
    arrays = read_npz(data, option=option, required=("x", "y"))
    x = check_array(arrays["x"], name=f"{option} {data}: x", ndim=(3, 4))
    y = check_array(arrays["y"], name=f"{option} {data}: y", ndim=1)
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise BadInputError(f"{option} {data}: x has shape {x.shape}; give grey images (N, 28, 28) or (N, 1, 28, 28)")
        x = x[:, 0]
    if x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise BadInputError(f"{option} {data}: x has shape {x.shape}; the LeNet takes 28x28 grey images (N, 28, 28)")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.floating):
        raise BadInputError(f"{option} {data}: x has dtype {x.dtype}; give float pixels in [0, 1] or uint8")
    x = x.astype(np.float32)
    if x.min() < 0 or x.max() > 1:
        raise BadInputError(f"{option} {data}: pixels span [{x.min():g}, {x.max():g}]; scale them to [0, 1] (or give uint8)")
    if not np.issubdtype(y.dtype, np.integer) and not (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y))):
        raise BadInputError(f"{option} {data}: labels y have dtype {y.dtype}; give whole numbers 0..{NUM_CLASSES - 1}")
    if y.min() < 0 or y.max() >= NUM_CLASSES:
        raise BadInputError(f"{option} {data}: labels span {int(y.min())}..{int(y.max())}; the model has "
                            f"{NUM_CLASSES} classes 0..{NUM_CLASSES - 1}")
    if len(y) != len(x):
        raise BadInputError(f"{option} {data}: {len(x)} images but {len(y)} labels; give one label per image")
    return x, y.astype(np.int64)


def _split(x, y, seed: int, n_test: int):
    import numpy as np
    import torch

    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:n_test], order[n_test:]
    pick = lambda index: (torch.from_numpy(x[index][:, None].copy()), torch.from_numpy(y[index].copy()))  # noqa: E731
    return pick(train), pick(test)


def _check_sizes(n: int, test_size: int, clients: int, where: str) -> None:
    if test_size >= n or n - test_size < clients:
        raise BadInputError(f"{where}: {n} images cannot give {test_size} test images and at least one training "
                            f"image to each of {clients} clients; lower --test-size or --clients")


def _build(config: dict[str, Any]):
    from tenfold.bayesprivacy.fedavg import Defence, FedConfig
    from tenfold.bayesprivacy.keystore import PassportPrior
    from tenfold.bayesprivacy.model import LeNet

    defence = Defence(
        config["defence"], noise_std=config["noise"], prior=PassportPrior("normal", 1.0, config["sigma"]),
        scope=config["scope"], dp_noise_multiplier=config["dp_noise_multiplier"], dp_max_grad_norm=config["dp_clip"],
    )
    passports = (0, 1, 2) if config["defence"] == "passport" else ()
    factory = lambda: LeNet(passports=passports)  # noqa: E731
    fed = FedConfig(rounds=config["rounds"], local_steps=config["local_steps"], seed=config["seed"],
                    insecure_seed=config.get("insecure_seed"))
    return defence, factory, fed


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise BadConfigError(f"{option} {value!r} is not one of: {', '.join(choices)}")
    return value


@app.command("train")
def train_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="New folder for model, keystores and metrics.")],
    defence: Annotated[str, typer.Option(help="none, noise, dp or passport.")] = "passport",
    rounds: Annotated[int, typer.Option(help="FedAvg rounds.")] = 10,
    clients: Annotated[int, typer.Option(help="Number of IID clients.")] = 4,
    local_steps: Annotated[int, typer.Option(help="Local Adam steps per round.")] = 50,
    sigma: Annotated[float, typer.Option(help="Passport prior N(1, sigma^2).")] = 5.0,
    noise: Annotated[float, typer.Option(help="Gradient noise std (noise defence).")] = 1e-2,
    dp_noise_multiplier: Annotated[float, typer.Option(help="DP-SGD noise multiplier z (dp defence).")] = 1.0,
    dp_clip: Annotated[float, typer.Option(help="DP-SGD per-sample clipping norm C (dp defence).")] = 1.0,
    scope: Annotated[str, typer.Option(help="Passports 'shared' or 'per_client'.")] = "shared",
    data: Annotated[Path | None, typer.Option(help=".npz with x (N,28,28) and y; default MNIST-5k.")] = None,
    test_size: Annotated[int, typer.Option(help="Held-out images for client-side evaluation.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the data split and minibatch order (not of the secrets).")] = 0,
    insecure_seed: Annotated[int | None, typer.Option(help=INSECURE_SEED_HELP)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing non-empty output folder.")] = False,
) -> None:
    """Federated training with a defence; writes model.safetensors (shared state), one keystore per client
    (the secrets, owner-only files: keep them on the clients), config.json and metrics.json."""
    from tenfold.core.io import check_output_path
    from tenfold.core.validation import check_number

    # with --overwrite an earlier training folder (marked by tenfold) may be replaced, never a foreign one
    check_output_path(output, option="--output", kind="directory", replaced=overwrite)
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise BadInputError(f"--output {output} is a folder that is not empty (it may hold another training's keystores, "
                            "the only copy of those secrets); give a new folder, or pass --overwrite")
    _check_choice("--defence", defence, DEFENCES)
    _check_choice("--scope", scope, ("shared", "per_client"))
    for name, value in (("--rounds", rounds), ("--clients", clients), ("--local-steps", local_steps),
                        ("--test-size", test_size)):
        check_number(name, value, low=1, integer=True)
    check_number("--seed", seed, low=0, integer=True)
    for name, value in (("--sigma", sigma), ("--noise", noise), ("--dp-noise-multiplier", dp_noise_multiplier),
                        ("--dp-clip", dp_clip)):
        check_number(name, value, low=0, low_open=True)
    check_number("--insecure-seed", insecure_seed, low=0, integer=True, allow_none=True)
    config = {"defence": defence, "rounds": rounds, "clients": clients, "local_steps": local_steps, "sigma": sigma,
              "noise": noise if defence == "noise" else 0.0, "dp_noise_multiplier": dp_noise_multiplier,
              "dp_clip": dp_clip, "scope": scope, "seed": seed,
              "data": str(data.resolve()) if data else "mnist5k", "test_size": test_size, "insecure_seed": insecure_seed}
    _build(config)
    x, y = _load_data(data)
    _check_sizes(len(x), test_size, clients, f"--data {data}" if data else "MNIST-5k")
    _train(output, config, x, y)


def _train(output: Path, config: dict[str, Any], x, y) -> None:
    import torch
    from rich.progress import Progress

    from tenfold.bayesprivacy.fedavg import make_clients, run_fedavg
    from tenfold.core.io import atomic_directory, atomic_save_safetensors, atomic_write_json
    from tenfold.core.randomness import randomness_record

    defence, factory, fed = _build(config)
    (x_train, y_train), (x_test, y_test) = _split(x, y, config["seed"], config["test_size"])
    torch.manual_seed(config["seed"])
    initial = factory().state_dict()
    federation = make_clients(x_train, y_train, config["clients"], factory, defence, fed)
    with Progress(transient=True) as progress:
        task = progress.add_task(f"FedAvg ({defence.kind})", total=fed.rounds)
        state, history = run_fedavg(federation, initial, fed, x_test=x_test, y_test=y_test,
                                    progress=lambda _: progress.advance(task))
    metrics: dict[str, Any] = {"accuracy_by_round": history.accuracy}
    if defence.kind == "dp":
        metrics["dp_epsilon_per_client"] = federation[0].dp_epsilon(1e-5)
        metrics["dp_delta"] = 1e-5
    stored = dict(config, randomness=randomness_record(config["insecure_seed"]) if defence.needs_secrets else None)
    with atomic_directory(output) as staging:
        atomic_save_safetensors(staging / "model.safetensors", state)
        for client in federation:
            if client.keystore is not None:
                client.keystore.save(staging / f"keystore-client{client.client_id}.safetensors")
        atomic_write_json(staging / "config.json", stored)
        atomic_write_json(staging / "metrics.json", metrics)
    typer.echo(f"accuracy {100 * history.accuracy[-1]:.1f}% after {fed.rounds} rounds -> {output}")


def _read_config(model: Path) -> dict[str, Any]:
    from tenfold.core.io import read_json
    from tenfold.core.validation import check_number

    path = model / "config.json"
    if not path.exists():
        raise MissingDataError(f"{path} does not exist; give a folder written by `tenfold bayesprivacy train`")
    config = read_json(path, option="MODEL")
    if not isinstance(config, dict):
        raise BadInputError(f"{path} is not a training config (expected a JSON object)")
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing:
        raise BadInputError(f"{path} lacks {', '.join(missing)}; give a folder written by `tenfold bayesprivacy train`")
    try:
        if not isinstance(config["data"], str):
            raise BadInputError(f"data must be a path or 'mnist5k', got {config['data']!r}")
        check_number("test_size", config["test_size"], low=1, integer=True)
        check_number("clients", config["clients"], low=1, integer=True)
        _build(config)
    except (TenfoldError, TypeError, ValueError) as error:
        raise BadInputError(f"{path} holds an invalid training config ({error})") from None
    return config


def _read_state(model: Path, factory) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from tenfold.core.io import check_input_file

    path = model / "model.safetensors"
    if not path.exists():
        raise MissingDataError(f"{path} does not exist; give a folder written by `tenfold bayesprivacy train`")
    check_input_file(path, option="MODEL", what="model.safetensors")
    try:
        state = load_file(str(path))
        factory().load_state_dict(state)
    except (SafetensorError, OSError, RuntimeError, ValueError) as error:
        raise BadInputError(f"{path} is not the shared state of this model ({' '.join(str(error).split())[:120]})") from None
    return state


@app.command("attack")
def attack_command(
    model: Annotated[Path, typer.Argument(help="Folder written by `tenfold bayesprivacy train`.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="JSON report with PSNR, SSIM and eps_hat.")],
    guess: Annotated[str, typer.Option(help="Passport guess: prior, oracle (needs the keystore) or joint.")] = "prior",
    images: Annotated[int, typer.Option(help="Private images of client 0 to restore (batch 1 each).")] = 8,
    restarts: Annotated[int, typer.Option(help="Restarts per image (and per prior draw).")] = 1,
    prior_draws: Annotated[int, typer.Option(help="Passport draws from the attacker's prior per image.")] = 4,
    iterations: Annotated[int, typer.Option(help="Inverting-Gradients steps.")] = 2000,
    tv: Annotated[float, typer.Option(help="Weight of the total-variation prior (Inverting Gradients).")] = 1e-3,
    method: Annotated[str, typer.Option(help="'ig' (cosine + TV, Adam) or 'dlg' (L2, L-BFGS).")] = "ig",
    insecure_seed: Annotated[int | None, typer.Option(help="Replayable seed for the exposed gradient's defence "
                                                           "noise (tests only; default OS entropy).")] = None,
) -> None:
    """Restore client 0's images from their exposed gradients on the trained model; report leakage."""
    from tenfold.core.io import check_input_dir, check_output_path
    from tenfold.core.validation import check_number

    check_input_dir(model, option="MODEL", what="model folder")
    check_output_path(output, option="--output", kind="file", suffixes=(".json",))
    _check_choice("--guess", guess, PASSPORT_GUESSES)
    _check_choice("--method", method, ("ig", "dlg"))
    for name, value in (("--images", images), ("--restarts", restarts), ("--prior-draws", prior_draws),
                        ("--iterations", iterations)):
        check_number(name, value, low=1, integer=True)
    check_number("--tv", tv, low=0)
    check_number("--insecure-seed", insecure_seed, low=0, integer=True, allow_none=True)
    if method == "dlg" and guess in ("prior", "joint"):
        raise BadConfigError(f"--method dlg supports --guess oracle only on passport models; use --method ig for {guess}")
    config = _read_config(model)
    defence, factory, _ = _build(config)
    state = _read_state(model, factory)
    keystore = None
    if defence.kind == "passport":  # the client's own secrets, from its keystore file (never re-drawn)
        from tenfold.bayesprivacy.keystore import PassportKeystore

        path = model / "keystore-client0.safetensors"
        keystore = PassportKeystore.load(path, option="MODEL")
        try:
            keystore.install(factory())  # a keystore of another model fails here, before any work
        except BadInputError as error:
            raise BadInputError(f"MODEL {path} does not fit this model: {error}") from None
    data = None if config["data"] == "mnist5k" else Path(config["data"])
    x, y = _load_data(data, option=f"the training data named in {model / 'config.json'}")
    _check_sizes(len(x), config["test_size"], config["clients"], str(model / "config.json"))
    _attack(output, config, state, keystore, x, y, guess=guess, images=images, restarts=restarts,
            prior_draws=prior_draws, iterations=iterations, tv=tv, method=method, insecure_seed=insecure_seed)


def _attack(output: Path, config: dict[str, Any], state, keystore, x, y, *, guess: str, images: int, restarts: int,
            prior_draws: int, iterations: int, tv: float, method: str, insecure_seed: int | None) -> None:
    import numpy as np
    from rich.progress import track

    from tenfold.bayesprivacy.attacks import AttackConfig, exposed_gradient, restore
    from tenfold.bayesprivacy.fedavg import FedClient, client_shards
    from tenfold.bayesprivacy.leakage import diagonal_gaussian, epsilon_hat, ssim
    from tenfold.core.image_quality import psnr
    from tenfold.core.io import atomic_write_json
    from tenfold.core.randomness import randomness_record, secret_generator

    defence, factory, fed = _build(config)
    (x_train, y_train), (x_test, _) = _split(x, y, config["seed"], config["test_size"])
    shard = client_shards(len(x_train), config["clients"], config["seed"])[0]
    noise = secret_generator(insecure_seed, what="the exposed-gradient noise") if defence.kind in ("noise", "dp") else None
    client = FedClient(0, x_train[shard], y_train[shard], factory, defence, fed, keystore, secrets=noise)
    client.model.load_state_dict(state)
    client.model.eval()
    attacker = factory()
    attacker.load_state_dict(state)
    attack = AttackConfig(method=method, iterations=iterations, tv=tv, restarts=restarts, prior_draws=prior_draws)
    prior_mean, prior_variance = diagonal_gaussian(x_test.numpy().reshape(len(x_test), -1))
    used_guess = guess if keystore is not None else "none"
    rows, candidates, private = [], [], []
    for i in track(range(min(images, client.num_examples)), description="restoring", transient=True):
        sample, label_true = client.x[i : i + 1], client.y[i : i + 1]
        if defence.kind == "dp":
            g = exposed_gradient(client.model, sample, label_true, clip_norm=defence.dp_max_grad_norm,
                                 noise_std=defence.dp_noise_multiplier * defence.dp_max_grad_norm, generator=noise)
        else:
            g = exposed_gradient(client.model, sample, label_true, noise_std=defence.noise_std, generator=noise)
        restoration, label = restore(attacker, g, (1, 28, 28), attack, guess=used_guess, true_keystore=keystore,
                                     attacker_prior=defence.prior, seed=i)
        truth = client.x[i].numpy()
        best = restoration.best.numpy()
        rows.append({"psnr": psnr(truth, best, max_db=100.0), "ssim": ssim(truth, best),
                     "label_correct": label == int(label_true[0]), "nan_restarts": restoration.failures})
        candidates.append(np.stack([c.numpy().reshape(-1) for c in restoration.candidates]))
        private.append(truth.reshape(-1))
    report = {
        "defence": defence.kind, "guess": used_guess, "method": method, "images": rows,
        "psnr_mean": float(np.mean([r["psnr"] for r in rows])), "ssim_mean": float(np.mean([r["ssim"] for r in rows])),
        "psnr_prior_mean_reference": float(np.mean([psnr(p, prior_mean, max_db=100.0) for p in private])),
        "epsilon_hat": epsilon_hat(candidates, private, prior_mean, prior_variance),
        "noise_randomness": randomness_record(insecure_seed) if noise is not None else None,
    }
    atomic_write_json(output, report)
    typer.echo(f"PSNR {report['psnr_mean']:.2f} dB (prior-mean reference {report['psnr_prior_mean_reference']:.2f}), "
               f"SSIM {report['ssim_mean']:.3f}, eps_hat {report['epsilon_hat']:.3f} -> {output}")
