"""Choose the small-scale attack budget once, on a calibration seed the report never uses (issue 18).

Trains the plain and the sigma-5 passport federations of the small scale on the calibration seed, attacks
16 private images of client 0 at the attack round with a generous budget (8 restarts; 8 prior draws x 4
restarts), and prints, from subsets of those candidates, how the restoration PSNR and the paired
undefended-minus-oracle gap move with iterations, restarts and prior draws, plus how many images a 90% t
interval needs to decide the 3 dB bar. The budget in SETTINGS[small] is the cheapest one on the plateau.

Run: PYTHONPATH=src python benchmarks/bayesprivacy/calibrate_attack.py [--seed 100] [--out calibration.json]

Result on seed 100 (2 workers, committed with the settings it justified):
see the table printed at the end of the run, copied into the report of the change that fixed the budget.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tenfold.bayesprivacy import experiment as study
from tenfold.core.experiment import Scale
from tenfold.core.io import atomic_write_json
from tenfold.core.parallel import run_parallel


@dataclass(frozen=True)
class Probe:
    """One attack of the calibration grid on a group of images."""

    key: str
    kind: str
    guess: str
    iterations: int
    restarts: int
    draws: int
    images: tuple[int, ...]
    seed: int
    state: dict
    passports: dict
    sigma: float


def probe(job: Probe) -> dict:
    """All candidates' (mismatch, PSNR) per image, in (draw, restart) order."""
    from tenfold.bayesprivacy.attacks import AttackConfig, exposed_gradient, restore_many
    from tenfold.bayesprivacy.keystore import PassportKeystore, PassportPrior
    from tenfold.core.image_quality import psnr

    x_private, y_private = study._PAYLOAD["private"]
    factory = study._factory(job.kind)
    client = factory()
    client.load_state_dict(job.state)
    keystore = PassportKeystore(job.passports) if job.passports else None
    if keystore is not None:
        keystore.install(client)
    client.eval()
    targets = [exposed_gradient(client, x_private[i : i + 1], y_private[i : i + 1]) for i in job.images]
    attacker = factory()
    attacker.load_state_dict(job.state)
    config = AttackConfig(iterations=job.iterations, restarts=job.restarts, prior_draws=job.draws)
    started = time.process_time()
    results = restore_many(attacker, targets, study.IMAGE_SHAPE, config, guess=job.guess, true_keystore=keystore,
                           attacker_prior=PassportPrior("normal", 1.0, job.sigma or 1.0), seed=job.seed + job.images[0])
    rows = []
    for i, (restoration, _) in zip(job.images, results, strict=True):
        truth = x_private[i].numpy()
        rows.append({"image": i, "mismatch": restoration.mismatches, "failures": restoration.failures,
                     "psnr": [psnr(truth, c.numpy(), max_db=100.0) for c in restoration.candidates]})
    return {"key": job.key, "guess": job.guess, "iterations": job.iterations, "rows": rows,
            "cpu_seconds": time.process_time() - started}


def best_of(row: dict, draws: int, restarts: int, per_draw: int) -> float:
    """PSNR of the smallest-mismatch candidate among the first ``draws`` draws x first ``restarts`` restarts."""
    chosen = [k * per_draw + r for k in range(draws) for r in range(restarts)]
    index = min(chosen, key=lambda c: row["mismatch"][c])
    return row["psnr"][index]


def images_needed(gap_mean: float, gap_sd: float, bar: float = 3.0) -> int | None:
    """Smallest n whose 90% t interval of a gap with this mean and sd ends below ``bar``."""
    from scipy import stats

    if gap_mean >= bar:
        return None
    for n in range(3, 200):
        if gap_mean + stats.t.ppf(0.95, n - 1) * gap_sd / math.sqrt(n) <= bar:
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("calibration.json"))
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--iterations", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--restarts", type=int, default=8, help="restarts of the undefended and oracle attacks")
    parser.add_argument("--prior-iterations", type=int, default=500)
    parser.add_argument("--prior-draws", type=int, default=8)
    parser.add_argument("--prior-restarts", type=int, default=4)
    arguments = parser.parse_args()
    seed = arguments.seed
    IMAGES, RESTARTS, ITERATIONS = arguments.images, arguments.restarts, tuple(arguments.iterations)  # noqa: N806
    PRIOR_DRAWS, PRIOR_RESTARTS, PRIOR_ITERATIONS = (  # noqa: N806
        arguments.prior_draws, arguments.prior_restarts, arguments.prior_iterations)
    settings = replace(study.SETTINGS[Scale.SMALL], accuracy_seeds=1, attack_images=IMAGES)
    data = {seed: study.load_data(settings, seed)}
    payload = {"settings": settings, "data": data, "private": study.private_images(settings, seed, data[seed])}
    started = time.perf_counter()
    jobs = [study.TrainJob("none", "none", seed, snapshot=True),
            study.TrainJob("passport_sigma5", "passport", seed, sigma=5.0, snapshot=True)]
    trained = dict(zip([j.key for j in jobs], run_parallel(study.train_job, jobs, initializer=study._init_worker,
                                                            initargs=(payload,)), strict=True))
    print({k: round(v["accuracy"], 4) for k, v in trained.items()}, f"{time.perf_counter() - started:.0f} s")
    groups = [tuple(range(i, min(i + 4, IMAGES))) for i in range(0, IMAGES, 4)]
    probes = []
    for iterations in ITERATIONS:
        for images in groups:
            probes.append(Probe("none", "none", "none", iterations, RESTARTS, 1, images, seed,
                                trained["none"]["state"], {}, 0.0))
            probes.append(Probe("passport_sigma5", "passport", "oracle", iterations, RESTARTS, 1, images, seed,
                                trained["passport_sigma5"]["state"], trained["passport_sigma5"]["passports"], 5.0))
    for images in groups:
        probes.append(Probe("passport_sigma5", "passport", "prior", PRIOR_ITERATIONS, PRIOR_RESTARTS, PRIOR_DRAWS, images, seed,
                            trained["passport_sigma5"]["state"], trained["passport_sigma5"]["passports"], 5.0))
    cost = lambda p: p.iterations * len(p.images) * p.restarts * p.draws * (1.8 if p.kind == "passport" else 1.0)  # noqa: E731
    outputs = run_parallel(probe, probes, initializer=study._init_worker, initargs=(payload,), cost=cost)
    by = {}
    for output in outputs:
        by.setdefault((output["guess"], output["iterations"]), []).extend(output["rows"])
    for rows in by.values():
        rows.sort(key=lambda r: r["image"])
    from tenfold.bayesprivacy.leakage import diagonal_gaussian
    from tenfold.core.image_quality import psnr

    _, (x_test, _) = data[seed]
    prior_mean, _ = diagonal_gaussian(x_test.numpy().reshape(len(x_test), -1))
    x_private, _ = payload["private"]
    reference = np.array([psnr(x.numpy().reshape(-1), prior_mean, max_db=100.0) for x in x_private])
    report = {"seed": seed, "accuracy": {k: v["accuracy"] for k, v in trained.items()},
              "reference_psnr": float(reference.mean()), "grid": [], "prior": []}
    print(f"prior-mean reference {reference.mean():.2f} dB over {IMAGES} images")
    print("iterations restarts | undefended dB | oracle dB | gap mean sd | images for 3 dB bar")
    for iterations in ITERATIONS:
        for restarts in [r for r in (1, 2, 4, 8) if r <= RESTARTS]:
            plain = np.array([best_of(r, 1, restarts, RESTARTS) for r in by[("none", iterations)]])
            oracle = np.array([best_of(r, 1, restarts, RESTARTS) for r in by[("oracle", iterations)]])
            gap = plain - oracle
            needed = images_needed(float(gap.mean()), float(gap.std(ddof=1)))
            report["grid"].append({"iterations": iterations, "restarts": restarts, "undefended": plain.tolist(),
                                   "oracle": oracle.tolist(), "images_needed": needed})
            print(f"{iterations:10d} {restarts:8d} | {plain.mean():6.2f} +- {plain.std(ddof=1):4.2f} | "
                  f"{oracle.mean():6.2f} +- {oracle.std(ddof=1):4.2f} | {gap.mean():5.2f} {gap.std(ddof=1):4.2f} | {needed}")
    print("prior draws restarts | prior-attack dB | minus reference (mean, sd)")
    for draws in [d for d in (1, 2, 4, 8, 16) if d <= PRIOR_DRAWS]:
        for restarts in [r for r in (1, 2, 4) if r <= PRIOR_RESTARTS]:
            prior = np.array([best_of(r, draws, restarts, PRIOR_RESTARTS) for r in by[("prior", PRIOR_ITERATIONS)]])
            report["prior"].append({"draws": draws, "restarts": restarts, "psnr": prior.tolist()})
            print(f"{draws:11d} {restarts:8d} | {prior.mean():6.2f} | {(prior - reference).mean():5.2f} "
                  f"{(prior - reference).std(ddof=1):4.2f}")
    report["cpu_seconds"] = sum(o["cpu_seconds"] for o in outputs)
    report["wall_seconds"] = time.perf_counter() - started
    atomic_write_json(arguments.out, report)
    print(f"attack CPU {report['cpu_seconds']:.0f} s, wall {report['wall_seconds']:.0f} s -> {arguments.out}")


if __name__ == "__main__":
    main()
