"""``tenfold bayesprivacy``: federated training with a defence, and a restoration attack on the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError

app = typer.Typer(
    help="Bayesian-privacy FL: passport layers, FedAvg with defences, restoration attacks, leakage.",
    no_args_is_help=True,
)


def _load_data(data: Path | None, n_test: int = 1000):
    """MNIST-5k (default) or an .npz with x (N, 28, 28) in [0, 1] or uint8 and y (N,)."""
    import numpy as np

    from tenfold.core import data as shipped

    if data is None:
        x, y = shipped.mnist5k(28)
    else:
        if not data.exists():
            raise MissingDataError(f"{data} does not exist; give an .npz with arrays x and y")
        try:
            with np.load(data, allow_pickle=False) as archive:
                x, y = archive["x"], archive["y"]
        except (KeyError, ValueError, OSError) as error:
            raise BadInputError(f"{data} is not an .npz with arrays x and y ({error})") from None
        x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
        if x.ndim == 4 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise BadInputError(f"{data}: x must be (N, 28, 28) grey images, got {x.shape}")
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise BadInputError(f"{data}: pixels must be finite and in [0, 1] (or uint8)")
        if len(y) != len(x) or n_test >= len(x):
            raise BadInputError(f"{data}: {len(x)} images, {len(y)} labels; need matching lengths and more than {n_test}")
    return x, np.asarray(y, dtype=np.int64)


def _split(x, y, seed: int, n_test: int):
    import numpy as np
    import torch

    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:n_test], order[n_test:]
    pick = lambda index: (torch.from_numpy(x[index][:, None].copy()), torch.from_numpy(y[index].copy()))  # noqa: E731
    return pick(train), pick(test)


def _build(config: dict):
    from tenfold.bayesprivacy.fedavg import Defence, FedConfig
    from tenfold.bayesprivacy.keystore import PassportPrior
    from tenfold.bayesprivacy.model import LeNet

    defence = Defence(
        config["defence"], noise_std=config["noise"], prior=PassportPrior("normal", 1.0, config["sigma"]),
        scope=config["scope"],
    )
    passports = (0, 1, 2) if config["defence"] == "passport" else ()
    factory = lambda: LeNet(passports=passports)  # noqa: E731
    fed = FedConfig(rounds=config["rounds"], local_steps=config["local_steps"], seed=config["seed"])
    return defence, factory, fed


@app.command("train")
def train_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for model, keystores and metrics.")],
    defence: Annotated[str, typer.Option(help="none, noise, dp or passport.")] = "passport",
    rounds: Annotated[int, typer.Option(help="FedAvg rounds.")] = 10,
    clients: Annotated[int, typer.Option(help="Number of IID clients.")] = 4,
    local_steps: Annotated[int, typer.Option(help="Local Adam steps per round.")] = 50,
    sigma: Annotated[float, typer.Option(help="Passport prior N(1, sigma^2).")] = 5.0,
    noise: Annotated[float, typer.Option(help="Gradient noise std (noise defence).")] = 1e-2,
    scope: Annotated[str, typer.Option(help="Passports 'shared' or 'per_client'.")] = "shared",
    data: Annotated[Path | None, typer.Option(help=".npz with x (N,28,28) and y; default MNIST-5k.")] = None,
    test_size: Annotated[int, typer.Option(help="Held-out images for client-side evaluation.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of split, passports and training.")] = 0,
) -> None:
    """Federated training with a defence; writes model.safetensors (shared state), one keystore per client
    (the secrets: keep them on the clients) and metrics.json."""
    import json

    import torch
    from rich.progress import Progress
    from safetensors.torch import save_file

    from tenfold.bayesprivacy.fedavg import make_clients, run_fedavg
    from tenfold.core.io import atomic_directory

    if noise <= 0 and defence == "noise":
        raise BadConfigError("--noise must be positive for the noise defence")
    config = {"defence": defence, "rounds": rounds, "clients": clients, "local_steps": local_steps, "sigma": sigma,
              "noise": noise if defence == "noise" else 0.0, "scope": scope, "seed": seed,
              "data": str(data.resolve()) if data else "mnist5k", "test_size": test_size}
    chosen, factory, fed = _build(config)
    if test_size < 1:
        raise BadConfigError(f"--test-size must be positive, got {test_size}")
    x, y = _load_data(data, test_size)
    (x_train, y_train), (x_test, y_test) = _split(x, y, seed, test_size)
    torch.manual_seed(seed)
    initial = factory().state_dict()
    federation = make_clients(x_train, y_train, clients, factory, chosen, fed)
    with Progress(transient=True) as progress:
        task = progress.add_task(f"FedAvg ({defence})", total=rounds)
        state, history = run_fedavg(federation, initial, fed, x_test=x_test, y_test=y_test,
                                    progress=lambda _: progress.advance(task))
    with atomic_directory(output) as staging:
        save_file({k: v.contiguous() for k, v in state.items()}, str(staging / "model.safetensors"))
        for client in federation:
            if client.keystore is not None:
                client.keystore.save(staging / f"keystore-client{client.client_id}.safetensors")
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        (staging / "metrics.json").write_text(json.dumps({"accuracy_by_round": history.accuracy}, indent=2))
    typer.echo(f"accuracy {100 * history.accuracy[-1]:.1f}% after {rounds} rounds -> {output}")


@app.command("attack")
def attack_command(
    model: Annotated[Path, typer.Argument(help="Folder written by `tenfold bayesprivacy train`.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="JSON with PSNR, SSIM and eps_hat.")],
    guess: Annotated[str, typer.Option(help="Passport guess: prior, oracle (needs the keystore) or joint.")] = "prior",
    images: Annotated[int, typer.Option(help="Private images of client 0 to restore (batch 1 each).")] = 8,
    restarts: Annotated[int, typer.Option(help="Restarts per image (and per prior draw).")] = 4,
    iterations: Annotated[int, typer.Option(help="Inverting-Gradients steps.")] = 500,
    method: Annotated[str, typer.Option(help="'ig' (cosine + TV, Adam) or 'dlg' (L2, L-BFGS).")] = "ig",
) -> None:
    """Restore client 0's images from their exposed gradients on the trained model; report leakage."""
    import json

    import numpy as np
    import torch
    from rich.progress import track
    from safetensors.torch import load_file

    from tenfold.bayesprivacy.attacks import AttackConfig, exposed_gradient, restore
    from tenfold.bayesprivacy.fedavg import make_clients
    from tenfold.bayesprivacy.keystore import PassportKeystore
    from tenfold.bayesprivacy.leakage import diagonal_gaussian, epsilon_hat, psnr, ssim
    from tenfold.core.io import atomic_write_text

    if images < 1:
        raise BadConfigError(f"--images must be at least 1, got {images}")
    attack = AttackConfig(method=method, iterations=iterations, restarts=restarts)
    for name in ("config.json", "model.safetensors"):
        if not (model / name).exists():
            raise MissingDataError(f"{model / name} does not exist; give a folder written by `tenfold bayesprivacy train`")
    config = json.loads((model / "config.json").read_text())
    defence, factory, fed = _build(config)
    if defence.kind == "passport" and guess not in ("prior", "oracle", "joint"):
        raise BadConfigError(f"unknown --guess {guess!r}; use prior, oracle or joint")
    state = load_file(str(model / "model.safetensors"))
    x, y = _load_data(None if config["data"] == "mnist5k" else Path(config["data"]), config["test_size"])
    (x_train, y_train), (x_test, _) = _split(x, y, config["seed"], config["test_size"])
    federation = make_clients(x_train, y_train, config["clients"], factory, defence, fed)
    client = federation[0]
    if defence.kind == "passport":  # the client's own secrets, from its keystore file (never re-drawn)
        PassportKeystore.load(model / "keystore-client0.safetensors").install(client.model)
    client.model.load_state_dict(state)
    client.model.eval()
    attacker = factory()
    attacker.load_state_dict(state)
    keystore = PassportKeystore.load(model / "keystore-client0.safetensors") if defence.kind == "passport" else None
    prior_mean, prior_variance = diagonal_gaussian(x_test.numpy().reshape(len(x_test), -1))
    generator = torch.Generator().manual_seed(config["seed"] + 99)
    rows, candidates, private = [], [], []
    for i in track(range(min(images, client.num_examples)), description="restoring", transient=True):
        g = exposed_gradient(client.model, client.x[i : i + 1], client.y[i : i + 1], noise_std=defence.noise_std,
                             generator=generator)
        restoration, label = restore(attacker, g, (1, 28, 28), attack, guess=guess if keystore else "none",
                                     true_keystore=keystore, attacker_prior=defence.prior, seed=i)
        truth = client.x[i].numpy()
        best = restoration.best.numpy()
        rows.append({"psnr": psnr(truth, best), "ssim": ssim(truth, best), "label_correct": label == int(client.y[i]),
                     "nan_restarts": restoration.failures})
        candidates.append(np.stack([c.numpy().reshape(-1) for c in restoration.candidates]))
        private.append(truth.reshape(-1))
    report = {
        "defence": defence.kind, "guess": guess if keystore else "none", "images": rows,
        "psnr_mean": float(np.mean([r["psnr"] for r in rows])), "ssim_mean": float(np.mean([r["ssim"] for r in rows])),
        "psnr_prior_mean_reference": float(np.mean([psnr(p, prior_mean) for p in private])),
        "epsilon_hat": epsilon_hat(candidates, private, prior_mean, prior_variance),
    }
    atomic_write_text(output, json.dumps(report, indent=2))
    typer.echo(f"PSNR {report['psnr_mean']:.2f} dB (prior-mean reference {report['psnr_prior_mean_reference']:.2f}), "
               f"SSIM {report['ssim_mean']:.3f}, eps_hat {report['epsilon_hat']:.3f} -> {output}")
