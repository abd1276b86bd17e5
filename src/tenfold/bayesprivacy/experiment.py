"""Bayesian-privacy FL in miniature on MNIST-5k: FedAvg over 4 IID clients with no defence, Gaussian gradient
noise, DP-SGD (Opacus, secret noise) and private passports N(1, sigma^2); a restoration attack (Inverting
Gradients, batch 1) on a briefly trained global model; accuracy, PSNR of restorations and eps_hat.

Two phases, each spread over worker processes (core.run_parallel): every federated training (accuracy
claims on ``accuracy_seeds`` seeds), then the attacks on the first seed's snapshots, split into jobs of a few
images. Accuracy claims are decided on the interval over seeds, restoration claims on the interval over
the attacked images (paired per image where two attacks are compared). The experiment opts in to
replayable secrets (``insecure_seed``) so that it is reproducible; a real deployment draws them from OS
entropy (see :mod:`tenfold.bayesprivacy.keystore`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tenfold.core.experiment import ClaimSpec, Measurements, Scale, Settings, Unmeasured, experiment
from tenfold.core.intervals import Samples
from tenfold.core.parallel import run_parallel, worker_count
from tenfold.core.report import save_figure

PAPER = "Federated Deep Learning with Bayesian Privacy (arXiv 2109.13012, 2021)"
IMAGE_SHAPE = (1, 28, 28)


@dataclass(frozen=True, kw_only=True)
class BayesPrivacySettings(Settings):
    # IID clients of the federation (spec B5: 4)
    clients: int = 4
    # MNIST-5k images split among the clients
    train_images: int = 4000
    # held-out MNIST-5k images: client-side test accuracy, and the "public" images the attacker's prior is fitted on
    test_images: int = 1000
    # FedAvg rounds (spec B5: 10-20)
    rounds: int = 10
    # local Adam steps per client and round, batch size and learning rate (spec B5)
    local_steps: int = 50
    # local minibatch size (DP-SGD: expected size of its Poisson batches)
    batch_size: int = 32
    # local Adam learning rate
    lr: float = 1e-3
    # independent federations (seed, seed+1, ...) for the accuracy claims; attacks use the first one only
    accuracy_seeds: int = 3
    # the global model attacked is the snapshot after this round (a briefly trained model: spec B5 shows the
    # oracle check only works once the model has trained a little)
    attack_round: int = 3
    # private images of client 0 restored, one batch-1 gradient each, by the attacks the required claims rest
    # on (undefended; main-sigma passport model with prior and oracle guesses): their replicates
    attack_images: int = 16
    # the first of those images restored by the other attacks (sigma sweep, noise levels, DP-SGD, joint attack),
    # which decide soft claims or, by their mean, which noise level stops the attack
    side_images: int = 8
    # Inverting-Gradients Adam steps per restart
    attack_iterations: int = 2000
    # weight of the total-variation prior in the attack's objective
    attack_tv: float = 1e-3
    # random starts per image (and per passport draw); the attacker keeps the smallest gradient mismatch
    attack_restarts: int = 1
    # passport guesses drawn from the attacker's prior per image (the posterior-mode proxy of spec B1)
    prior_draws: int = 4
    # candidates (image x draw x restart) restored together in one worker job: the batched attack costs ~4x less
    # per candidate at 48 than at 4 on one core; a whole image's candidates stay in one job
    candidates_per_job: int = 48
    # the passport variance the main claims are about, and the sweep around it (spec B5: {1, 5, 20})
    main_sigma: float = 5.0
    # passport standard deviations of the sweep (soft claim)
    sigmas: tuple[float, ...] = (1.0, 5.0, 20.0)
    # Gaussian gradient-noise standard deviations (spec B4 sweep)
    noise_levels: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    # run the DP-SGD row (Opacus per-sample clipping, secret four-Gaussian noise, RDP accounting)
    dp: bool = True
    # DP-SGD noise multiplier z (noise std z * C)
    dp_noise_multiplier: float = 1.0
    # DP-SGD per-sample clipping norm C
    dp_max_grad_norm: float = 1.0
    # delta of the reported (epsilon, delta) guarantee
    dp_delta: float = 1e-5
    # run per-client passports (each client its own secret) for accuracy
    per_client: bool = True
    # run the adaptive joint attack (image + every layer's scale/bias) on the main passport model
    joint: bool = True


SETTINGS = {
    Scale.SMOKE: BayesPrivacySettings(
        clients=2, train_images=200, test_images=100, rounds=1, local_steps=2, accuracy_seeds=1, attack_round=1,
        attack_images=3, side_images=2, attack_iterations=4, attack_restarts=1, prior_draws=1, candidates_per_job=2,
        sigmas=(5.0,),
        noise_levels=(1e-2,), dp=True, per_client=False, joint=True,
    ),
    # The attack budget was fixed once on calibration seed 100, which the report never uses
    # (benchmarks/bayesprivacy/calibrate_attack.py; its docstring has the tables): TV 1e-3 restores ~6 dB better
    # than the spec's 1e-2 (31.2 vs 25.4 dB undefended at 2000 steps); 2000 steps gain 4 dB over 1000 and
    # close the oracle gap (-1.5 dB, sd 6.8); restarts add 0.2-0.6 dB for their full cost, so the budget goes to
    # steps; 4 prior draws lift the prior attack 0.7 dB over one (8 add 0.3 more) and it stays 2 dB under the
    # reference; at the calibration's spread 9 images decide the oracle bar and 5 the 25 dB bar: 16 leave margin.
    Scale.SMALL: BayesPrivacySettings(),
    Scale.FULL: BayesPrivacySettings(
        rounds=20, accuracy_seeds=5, attack_images=48, side_images=16, attack_iterations=4000, attack_restarts=2,
        prior_draws=16, candidates_per_job=128, noise_levels=(1e-4, 1e-3, 1e-2, 1e-1), threads=None,
    ),
}

REFERENCE_MARGIN_DB = 3.0  # "within 3 dB of the prior-mean reference" (spec B5), shared by two claims

CLAIMS = [
    ClaimSpec("passport_accuracy", "private passports (sigma 5) keep accuracy: passport - plain FedAvg accuracy (points)",
              ">=", -2.0, paper_value="high accuracy (abstract)", over="seeds"),
    ClaimSpec("ig_undefended_psnr", "the undefended model leaks: Inverting-Gradients restoration PSNR (dB)",
              ">=", 25.0, paper_value="pixel-accurate (DLG, NeurIPS'19)", over="images"),
    ClaimSpec("passport_prior_psnr", "passports stop the restoration: attacker-prior PSNR minus the prior-mean "
              "reference PSNR (dB)", "<=", REFERENCE_MARGIN_DB, paper_value="no restoration (abstract)", over="images"),
    ClaimSpec("oracle_passport_psnr", "the protection is the secret: undefended PSNR minus oracle-passport PSNR (dB)",
              "<=", 3.0, paper_value="n/a (sanity bound)", over="images"),
    ClaimSpec("noise_costs_accuracy", "Gaussian gradient noise strong enough to stop the attack costs accuracy: "
              "plain - noisy FedAvg accuracy (points) at the weakest level that stops it",
              ">=", 5.0, paper_value="DP with small noise is broken (abstract)", over="seeds"),
    ClaimSpec("dp_costs_accuracy", "soft: DP-SGD (z=1, C=1) misses the 2-point accuracy bar: plain - DP accuracy (points)",
              ">=", 2.0, paper_value="DP costs accuracy (abstract)", over="seeds", required=False),
    ClaimSpec("epsilon_ratio", "soft: eps_hat(passport, prior attack) / eps_hat(none)", "<", 0.25,
              paper_value="leakage bounded (abstract)", required=False),
    ClaimSpec("sigma_sweep", "soft: leakage falls as passport variance grows (prior-attack PSNR non-increasing in "
              "sigma, 0.5 dB slack)", "holds", paper_value="variance controls leakage", required=False),
    ClaimSpec("adaptive_joint_attack", "soft (a limitation if it fails): joint image + scale/bias attack PSNR minus "
              "the prior-mean reference (dB)", "<=", REFERENCE_MARGIN_DB, over="images", required=False),
]


# ---------------------------------------------------------------------------------------------
# Jobs (module level: spawned workers import them)


@dataclass(frozen=True)
class TrainJob:
    """One federated training; ``snapshot`` keeps the global state at the attack round for phase two."""

    key: str
    kind: str
    seed: int
    sigma: float = 0.0
    noise: float = 0.0
    scope: str = "shared"
    snapshot: bool = False


@dataclass(frozen=True)
class AttackJob:
    """Restore some of client 0's images on one snapshot with one passport guess."""

    key: str
    kind: str
    guess: str
    images: tuple[int, ...]
    seed: int
    state: dict = field(repr=False, default_factory=dict)
    passports: dict = field(repr=False, default_factory=dict)
    sigma: float = 0.0
    noise: float = 0.0


_PAYLOAD: dict[str, Any] = {}


def _init_worker(payload: dict[str, Any]) -> None:
    _PAYLOAD.clear()
    _PAYLOAD.update(payload)


def _quietly(function: Any, job: Any) -> dict[str, Any]:
    """The experiment opts in to replayable secrets on purpose (recorded in its metrics): no warning per job."""
    from tenfold.core.randomness import InsecureSeedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureSeedWarning)
        # Checked at install time against the untrained weights, the dead-channel hint says nothing here.
        warnings.filterwarnings("ignore", message=".*carry no signal", category=UserWarning)
        return function(job)


def _factory(kind: str):
    from tenfold.bayesprivacy.model import LeNet

    passports = (0, 1, 2) if kind == "passport" else ()
    return lambda: LeNet(passports=passports)


def _defence(kind: str, sigma: float, noise: float, scope: str, settings: BayesPrivacySettings):
    from tenfold.bayesprivacy.fedavg import Defence
    from tenfold.bayesprivacy.keystore import PassportPrior

    return Defence(
        kind, noise_std=noise, prior=PassportPrior("normal", 1.0, sigma if kind == "passport" else 1.0), scope=scope,
        dp_noise_multiplier=settings.dp_noise_multiplier, dp_max_grad_norm=settings.dp_max_grad_norm,
    )


def train_job(job: TrainJob) -> dict[str, Any]:
    """Federate one setting on its seed's split; returns accuracy per round and (if asked) the snapshot."""
    return _quietly(_train, job)


def _train(job: TrainJob) -> dict[str, Any]:
    import torch

    from tenfold.bayesprivacy.fedavg import FedConfig, make_clients, run_fedavg

    settings: BayesPrivacySettings = _PAYLOAD["settings"]
    (x_train, y_train), (x_test, y_test) = _PAYLOAD["data"][job.seed]
    factory = _factory(job.kind)
    config = FedConfig(rounds=settings.rounds, local_steps=settings.local_steps, batch_size=settings.batch_size,
                       lr=settings.lr, seed=job.seed, insecure_seed=_secret_seed(job.seed, job.key))
    torch.manual_seed(job.seed)
    initial = factory().state_dict()
    started = time.process_time()
    clients = make_clients(x_train, y_train, settings.clients, factory,
                           _defence(job.kind, job.sigma, job.noise, job.scope, settings), config)
    snapshots = (settings.attack_round,) if job.snapshot else ()
    _, history = run_fedavg(clients, initial, config, x_test=x_test, y_test=y_test, snapshot_rounds=snapshots)
    result: dict[str, Any] = {"accuracy": history.accuracy[-1], "accuracy_by_round": history.accuracy,
                              "cpu_seconds": time.process_time() - started}
    if job.kind == "dp":
        result["dp_epsilon"] = clients[0].dp_epsilon(settings.dp_delta)
    if job.snapshot:
        result["state"] = history.snapshots[settings.attack_round]
        keystore = clients[0].keystore
        result["passports"] = dict(keystore.passports) if keystore is not None else {}
    return result


def attack_job(job: AttackJob) -> dict[str, Any]:
    """Exposed gradients of the job's images (with the setting's noise), then the restoration attack."""
    return _quietly(_attack, job)


def _attack(job: AttackJob) -> dict[str, Any]:
    from tenfold.bayesprivacy.attacks import AttackConfig, exposed_gradient, restore_many
    from tenfold.bayesprivacy.keystore import PassportKeystore, PassportPrior
    from tenfold.core.image_quality import psnr
    from tenfold.core.randomness import secret_generator

    settings: BayesPrivacySettings = _PAYLOAD["settings"]
    private_x, private_y = _PAYLOAD["private"]
    factory = _factory(job.kind)
    client_model = factory()
    client_model.load_state_dict(job.state)
    keystore = PassportKeystore(job.passports) if job.passports else None
    if keystore is not None:
        keystore.install(client_model)
    client_model.eval()
    noise = secret_generator(_secret_seed(job.seed, f"{job.key}/{job.guess}/{job.images}"), what="the exposed-gradient noise")
    targets = []
    for i in job.images:
        x, y = private_x[i : i + 1], private_y[i : i + 1]
        if job.kind == "dp":  # one DP-SGD step's view of this sample: clipped to C, noise std z * C
            targets.append(exposed_gradient(client_model, x, y, clip_norm=settings.dp_max_grad_norm,
                                            noise_std=settings.dp_noise_multiplier * settings.dp_max_grad_norm,
                                            generator=noise))
        else:
            targets.append(exposed_gradient(client_model, x, y, noise_std=job.noise, generator=noise))
    attacker = factory()
    attacker.load_state_dict(job.state)
    config = AttackConfig(iterations=settings.attack_iterations, tv=settings.attack_tv,
                          restarts=settings.attack_restarts, prior_draws=settings.prior_draws)
    started = time.process_time()
    restorations = restore_many(attacker, targets, IMAGE_SHAPE, config, guess=job.guess, true_keystore=keystore,
                                attacker_prior=PassportPrior("normal", 1.0, job.sigma or 1.0),
                                seed=job.seed * 7 + job.images[0])
    per_image = []
    for i, (restoration, label) in zip(job.images, restorations, strict=True):
        truth = private_x[i].numpy()
        best = restoration.best.numpy()
        per_image.append({
            "image": i, "psnr": psnr(truth, best, max_db=100.0), "label_ok": label == int(private_y[i]),
            "best": best[0], "candidates": np.stack([c.numpy().reshape(-1) for c in restoration.candidates]),
            "failures": restoration.failures,
        })
    return {"key": job.key, "guess": job.guess, "images": per_image, "cpu_seconds": time.process_time() - started}


def _secret_seed(seed: int, key: str) -> int:
    """A replayable seed per (run seed, job) for the experiment's opted-in secrets (stable across processes)."""
    import zlib

    return seed * 1_000_003 + zlib.crc32(key.encode())


def load_data(settings: BayesPrivacySettings, seed: int):
    """((x_train, y_train), (x_test, y_test)) as torch tensors (N, 1, 28, 28): a seeded MNIST-5k split."""
    import torch

    from tenfold.core import data

    x, y = data.mnist5k(28)
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = order[: settings.train_images], order[settings.train_images : settings.train_images + settings.test_images]
    as_tensor = lambda index: (torch.from_numpy(x[index][:, None].copy()), torch.from_numpy(y[index].copy()))  # noqa: E731
    return as_tensor(train), as_tensor(test)


def private_images(settings: BayesPrivacySettings, seed: int, data) -> tuple[Any, Any]:
    """Client 0's first ``attack_images`` images (its shard order is fixed by the seed)."""
    from tenfold.bayesprivacy.fedavg import client_shards

    (x_train, y_train), _ = data
    shard = client_shards(len(x_train), settings.clients, seed)[0][: settings.attack_images]
    index = np.asarray(shard)
    return x_train[index], y_train[index]


# ---------------------------------------------------------------------------------------------
# The experiment


def training_jobs(settings: BayesPrivacySettings, seed: int) -> list[TrainJob]:
    seeds = [seed + i for i in range(settings.accuracy_seeds)]
    jobs = []
    for s in seeds:
        first = s == seed
        jobs.append(TrainJob("none", "none", s, snapshot=first))
        jobs.append(TrainJob(_passport_key(settings.main_sigma), "passport", s, sigma=settings.main_sigma, snapshot=first))
        jobs += [TrainJob(_noise_key(n), "noise", s, noise=n, snapshot=first) for n in settings.noise_levels]
        if settings.dp:
            jobs.append(TrainJob("dp", "dp", s, snapshot=first))
    jobs += [TrainJob(_passport_key(sigma), "passport", seed, sigma=sigma, snapshot=True)
             for sigma in settings.sigmas if sigma != settings.main_sigma]
    if settings.per_client:
        jobs.append(TrainJob(_passport_key(settings.main_sigma) + "_per_client", "passport", seed,
                             sigma=settings.main_sigma, scope="per_client"))
    return jobs


def _passport_key(sigma: float) -> str:
    return f"passport_sigma{sigma:g}"


def _noise_key(noise: float) -> str:
    return f"noise_{noise:g}"


def attack_jobs(settings: BayesPrivacySettings, seed: int, trained: dict[tuple[str, int], dict]) -> list[AttackJob]:
    jobs = []

    def chunks(count: int, guess: str) -> list[tuple[int, ...]]:
        per_image = settings.attack_restarts * (settings.prior_draws if guess == "prior" else 1)
        size = max(1, settings.candidates_per_job // per_image)
        return [tuple(range(i, min(i + size, count))) for i in range(0, count, size)]

    main = _passport_key(settings.main_sigma)
    for (key, run_seed), result in trained.items():
        if run_seed != seed or "state" not in result:
            continue
        kind = result["job"].kind
        guesses = ["prior"] if kind == "passport" else ["none"]
        if key == main:
            guesses = ["prior", "oracle"] + (["joint"] if settings.joint else [])
        for guess in guesses:
            decisive = key == "none" or (key == main and guess in ("prior", "oracle"))
            count = settings.attack_images if decisive else min(settings.side_images, settings.attack_images)
            for images in chunks(count, guess):
                jobs.append(AttackJob(key, kind, guess, images, seed, state=result["state"],
                                      passports=result["passports"], sigma=result["job"].sigma,
                                      noise=result["job"].noise))
    return jobs


def _attack_cost(job: AttackJob, settings: BayesPrivacySettings) -> float:
    """Relative CPU cost: candidates x (passport layers cost about 1.8x a plain model per step)."""
    per_image = settings.attack_restarts * (settings.prior_draws if job.guess == "prior" else 1)
    return len(job.images) * per_image * (1.8 if job.kind == "passport" else 1.0)


def run_study(settings: BayesPrivacySettings, seed: int, *, workers: int | None = None) -> dict[str, Any]:
    """Both phases; returns the trainings by (key, seed), the attacks by (key, guess) and the private images."""
    seeds = [seed + i for i in range(settings.accuracy_seeds)]
    data = {s: load_data(settings, s) for s in seeds}
    private = private_images(settings, seed, data[seed])
    payload = {"settings": settings, "data": data, "private": private}
    workers = worker_count() if workers is None else workers
    jobs = training_jobs(settings, seed)
    outputs = run_parallel(train_job, jobs, workers=workers, initializer=_init_worker, initargs=(payload,),
                           cost=lambda job: (3.0 if job.kind == "dp" else 1.4 if job.kind == "passport" else 1.0))
    trained = {}
    for job, output in zip(jobs, outputs, strict=True):
        output["job"] = job
        trained[(job.key, job.seed)] = output
    attacks = attack_jobs(settings, seed, trained)
    attack_outputs = run_parallel(attack_job, attacks, workers=workers, initializer=_init_worker, initargs=(payload,),
                                  cost=lambda job: _attack_cost(job, settings))
    restored: dict[tuple[str, str], list[dict]] = {}
    for output in attack_outputs:
        restored.setdefault((output["key"], output["guess"]), []).extend(output["images"])
    for rows in restored.values():
        rows.sort(key=lambda row: row["image"])
    return {"trained": trained, "restored": restored, "private": private, "data": data, "seeds": seeds,
            "attack_cpu_seconds": sum(o["cpu_seconds"] for o in attack_outputs),
            "train_cpu_seconds": sum(o["cpu_seconds"] for o in outputs)}


@experiment("bayesprivacy", paper=PAPER, settings=SETTINGS, claims=CLAIMS)
def reproduce(scale: Scale, settings: BayesPrivacySettings, out: Path, seed: int) -> Measurements:
    """Run the study at one scale and measure every declared claim."""
    from tenfold.bayesprivacy.leakage import diagonal_gaussian, epsilon_hat
    from tenfold.core.image_quality import psnr

    started = time.perf_counter()
    workers = 1 if scale is Scale.SMOKE else None
    study = run_study(settings, seed, workers=workers)
    trained, restored, seeds = study["trained"], study["restored"], study["seeds"]
    private_x, _ = study["private"]
    _, (x_test, _) = study["data"][seed]

    # The attacker's prior over images, fitted on public same-domain images (the test split), and the
    # no-information reference: the prior mean as a "restoration".
    prior_mean, prior_variance = diagonal_gaussian(x_test.numpy().reshape(len(x_test), -1))
    private = [p.numpy().reshape(-1) for p in private_x]
    reference = [psnr(p, prior_mean, max_db=100.0) for p in private]
    image_labels = [f"image {i}" for i in range(len(private))]
    seed_labels = [f"seed {s}" for s in seeds]

    def accuracy(key: str) -> list[float]:
        return [100.0 * trained[(key, s)]["accuracy"] for s in seeds]

    def psnrs(key: str, guess: str, images: int | None = None) -> list[float]:
        """Restoration PSNR per attacked image (the first ``images`` only, for comparisons on common images)."""
        return [row["psnr"] for row in restored.get((key, guess), []) if images is None or row["image"] < images]

    def references(key: str, guess: str) -> list[float]:
        return [reference[row["image"]] for row in restored.get((key, guess), [])]

    main = _passport_key(settings.main_sigma)
    claims: dict[str, Any] = {}
    details: dict[str, str] = {}
    plain_accuracy, passport_accuracy = accuracy("none"), accuracy(main)
    claims["passport_accuracy"] = Samples.differences(passport_accuracy, plain_accuracy, seed_labels)
    details["passport_accuracy"] = f"passport {_mean(passport_accuracy):.1f}% vs plain {_mean(plain_accuracy):.1f}%"

    undefended = psnrs("none", "none")
    claims["ig_undefended_psnr"] = Samples(undefended, image_labels)
    prior_attack = psnrs(main, "prior")
    claims["passport_prior_psnr"] = Samples.differences(prior_attack, reference, image_labels)
    details["passport_prior_psnr"] = f"prior attack {_mean(prior_attack):.1f} dB vs reference {_mean(reference):.1f} dB"
    oracle = psnrs(main, "oracle")
    claims["oracle_passport_psnr"] = Samples.differences(undefended, oracle, image_labels)
    details["oracle_passport_psnr"] = f"undefended {_mean(undefended):.1f} dB vs oracle {_mean(oracle):.1f} dB"

    # Noise that stops the attack: the weakest level whose mean restoration is within the margin of the
    # reference (the point mean, so the chosen level is the weakest plausible one and its cost the smallest).
    noise_rows = {n: psnrs(_noise_key(n), "none") for n in sorted(settings.noise_levels)}
    noise_reference = _mean(references(_noise_key(settings.noise_levels[0]), "none"))
    stopping = [n for n, values in noise_rows.items() if _mean(values) - noise_reference <= REFERENCE_MARGIN_DB]
    if stopping:
        level = stopping[0]
        noisy_accuracy = accuracy(_noise_key(level))
        claims["noise_costs_accuracy"] = Samples.differences(plain_accuracy, noisy_accuracy, seed_labels)
        details["noise_costs_accuracy"] = (f"noise std {level:g} stops it ({_mean(noise_rows[level]):.1f} dB); "
                                           f"accuracy {_mean(noisy_accuracy):.1f}% vs plain {_mean(plain_accuracy):.1f}%")
    else:
        strongest = max(noise_rows)
        claims["noise_costs_accuracy"] = Unmeasured(
            f"no noise level up to {strongest:g} stopped the attack ({_mean(noise_rows[strongest]):.1f} dB vs "
            f"reference {noise_reference:.1f} dB); extend the noise sweep")
    if settings.dp:
        dp_accuracy = accuracy("dp")
        claims["dp_costs_accuracy"] = Samples.differences(plain_accuracy, dp_accuracy, seed_labels)
        epsilon = trained[("dp", seed)]["dp_epsilon"]
        details["dp_costs_accuracy"] = (f"DP-SGD {_mean(dp_accuracy):.1f}% (eps {epsilon:.2g} at delta "
                                        f"{settings.dp_delta:g} per client) vs plain {_mean(plain_accuracy):.1f}%; "
                                        f"attack {_mean(psnrs('dp', 'none')):.1f} dB")

    eps = {}
    for (key, guess), rows in restored.items():
        eps[f"{key}/{guess}"] = epsilon_hat([r["candidates"] for r in rows], [private[r["image"]] for r in rows],
                                            prior_mean, prior_variance)
    eps_none, eps_passport = eps.get("none/none"), eps.get(f"{main}/prior")
    if eps_none is not None and eps_passport is not None and eps_none > 0:
        claims["epsilon_ratio"] = eps_passport / eps_none
        details["epsilon_ratio"] = f"passport {eps_passport:.3f} vs none {eps_none:.3f} nats/pixel"
    else:
        claims["epsilon_ratio"] = Unmeasured(f"eps_hat(none) = {eps_none} is not positive")
    common = min(settings.side_images, settings.attack_images)
    sweep = [(s, _mean(psnrs(_passport_key(s), "prior", common))) for s in settings.sigmas]
    if len(sweep) > 1:
        claims["sigma_sweep"] = all(b <= a + 0.5 for (_, a), (_, b) in zip(sweep, sweep[1:], strict=False))
        details["sigma_sweep"] = ", ".join(
            f"sigma {s:g}: {p:.1f} dB / {100 * trained[(_passport_key(s), seed)]['accuracy']:.1f}%" for s, p in sweep)
    if settings.joint:
        joint, joint_reference = psnrs(main, "joint"), references(main, "joint")
        claims["adaptive_joint_attack"] = Samples.differences(joint, joint_reference, image_labels[: len(joint)])
        details["adaptive_joint_attack"] = (f"joint attack {_mean(joint):.1f} dB vs reference "
                                            f"{_mean(joint_reference):.1f} dB (first {len(joint)} images)")

    metrics = _metrics(settings, study, reference, eps)
    metrics["randomness"] = ("INSECURE, opted in for reproducibility: passports and defence noise come from numpy "
                             "PCG64 streams seeded per job from the run seed; the library and the CLI default to "
                             "ChaCha20 keyed from OS entropy")
    metrics["wall_time_s"] = round(time.perf_counter() - started, 1)
    figures = [_figure_grid(out, restored, private, main), _figure_tradeoff(out, metrics["table"], _mean(reference))]
    notes = (
        f"MNIST-5k, {settings.clients} IID clients x {settings.train_images // settings.clients} images, FedAvg "
        f"{settings.rounds} rounds x {settings.local_steps} Adam steps (batch {settings.batch_size}, lr {settings.lr:g}), "
        f"ELU LeNet of DLG with passports on all three convs (norm none, passports N(1, sigma^2)); accuracy on "
        f"{len(seeds)} seeds. Attacks: Inverting Gradients (cosine + {settings.attack_tv:g} TV, Adam 0.1, {settings.attack_iterations} "
        f"steps, best of {settings.attack_restarts} restarts x {settings.prior_draws} prior draws by gradient "
        f"mismatch) on batch-1 gradients of client 0's images at round {settings.attack_round} of the first seed: "
        f"{settings.attack_images} images for the undefended, prior and oracle attacks, the first "
        f"{min(settings.side_images, settings.attack_images)} for the sigma sweep, noise, DP and joint attacks; label "
        "inferred iDLG-style. DP-SGD: Opacus per-sample clipping "
        f"C={settings.dp_max_grad_norm:g}, noise z={settings.dp_noise_multiplier:g} (secret four-Gaussian sum), "
        "Poisson batches, RDP accounting. eps_hat: the spec's diagonal-Gaussian estimate (prior fitted on the public "
        "test split). Secrets use replayable per-job seeds (opted in for reproducibility). HE (TenSEAL) is not "
        "installed here and is not measured."
    )
    return Measurements(claims=claims, metrics=metrics, figures=figures, notes=notes, details=details)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _metrics(settings: BayesPrivacySettings, study: dict, reference: list[float], eps: dict) -> dict[str, Any]:
    trained, restored, seeds = study["trained"], study["restored"], study["seeds"]
    table: dict[str, dict[str, Any]] = {}
    for (key, run_seed), result in trained.items():
        row = table.setdefault(key, {"accuracy_by_seed": {}})
        row["accuracy_by_seed"][run_seed] = result["accuracy"]
        if run_seed == study["seeds"][0]:
            row["accuracy"] = result["accuracy"]
            row["accuracy_by_round"] = result["accuracy_by_round"]
        if "dp_epsilon" in result and run_seed == seeds[0]:
            row["dp_epsilon"] = result["dp_epsilon"]
    for (key, guess), rows in restored.items():
        values = [r["psnr"] for r in rows]
        table[key][f"psnr_{guess}"] = _mean(values)
        table[key][f"psnr_{guess}_by_image"] = [round(v, 2) for v in values]
        table[key][f"label_accuracy_{guess}"] = _mean([float(r["label_ok"]) for r in rows])
        table[key][f"failures_{guess}"] = int(sum(r["failures"] for r in rows))
    return {
        "settings": asdict(settings), "table": table, "epsilon_hat": eps,
        "psnr_prior_mean_reference": _mean(reference), "psnr_prior_mean_reference_by_image": [round(v, 2) for v in reference],
        "train_cpu_seconds": round(study["train_cpu_seconds"], 1), "attack_cpu_seconds": round(study["attack_cpu_seconds"], 1),
    }


def _figure_grid(out: Path, restored: dict, private: list[np.ndarray], main: str) -> str:
    import matplotlib.pyplot as plt

    rows: list[tuple[str, tuple[str, str] | None]] = [("original", None), ("no defence", ("none", "none"))]
    rows += [(f"passport s{main[15:]} {guess}", (main, guess)) for guess in ("prior", "oracle", "joint")]
    rows += [(key.replace("_", " "), (key, "none")) for key, guess in restored if guess == "none" and key != "none"]
    rows = [r for r in rows if r[1] is None or r[1] in restored]
    columns = min([8, len(private)] + [len(restored[which]) for _, which in rows if which is not None])
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.3 * columns + 1.6, 1.3 * len(rows)), squeeze=False)
    for r, (title, which) in enumerate(rows):
        for c in range(columns):
            image = private[c].reshape(28, 28) if which is None else restored[which][c]["best"]
            axes[r, c].imshow(image, cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if which is not None:
                axes[r, c].set_xlabel(f"{restored[which][c]['psnr']:.1f} dB", fontsize=7)
        axes[r, 0].set_ylabel(title, fontsize=7, rotation=0, ha="right", va="center")
    figure.suptitle("original vs restored (Inverting Gradients, batch 1)", fontsize=9)
    return save_figure(figure, out, "bayesprivacy_restorations.png")


def _figure_tradeoff(out: Path, table: dict, reference: float) -> str:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.6, 3.2))
    for key, row in table.items():
        attack_psnr = row.get("psnr_none", row.get("psnr_prior"))
        if attack_psnr is None or "accuracy" not in row:
            continue
        axis.scatter(100 * row["accuracy"], attack_psnr, marker="o" if key.startswith("passport") else "s")
        axis.annotate(key.replace("passport_", "pp ").replace("_", " "), (100 * row["accuracy"], attack_psnr), fontsize=7)
    axis.axhline(reference, color="grey", linestyle="--", linewidth=1)
    axis.text(axis.get_xlim()[0], reference + 0.3, "prior-mean reference", fontsize=7, color="grey")
    axis.set_xlabel("FedAvg test accuracy (%), first seed")
    axis.set_ylabel("restoration PSNR (dB)")
    axis.set_title("utility vs leakage per defence", fontsize=9)
    return save_figure(figure, out, "bayesprivacy_tradeoff.png")

