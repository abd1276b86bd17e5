"""Choose the small-scale attack budget once, on a calibration seed the report never uses (issue 18).

Trains the plain and the sigma-5 passport federations of the small scale on the calibration seed and attacks
private images of client 0 at the attack round: the undefended and oracle attacks on a grid of iterations x
TV weights (all restarts kept, so best-of-R for every R <= --restarts is read off the same run), and the
prior attack with --prior-draws draws. It prints mean PSNRs, the paired undefended-minus-oracle gap and the
number of images a 90% t interval needs to decide the 3 dB bar at that gap. SETTINGS[small] takes the
cheapest budget on the plateau.

Run: PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bayesprivacy/calibrate_attack.py --seed 100 \\
         --iterations 250 500 1000 --restarts 8 --prior-draws 8 --prior-restarts 4

Calibration on seed 100 (16 images, prior-mean reference 11.82 dB; FedAvg accuracy plain 94.2%, passport 94.7%;
one row per run, starting images differ between runs):

    iterations restarts TV   | undefended dB (sd) | oracle dB (sd) | gap (sd)     | images for: 3 dB bar, 25 dB bar
    250        1        1e-2 | 19.84 (2.05)       | 17.43 (3.03)   |  2.41 (1.96) | 32, -
    250        8        1e-2 | 20.41 (2.14)       | 18.76 (2.65)   |  1.65 (1.65) |  7, -
    500        1        1e-2 | 22.78 (2.69)       | 21.74 (4.04)   |  1.04 (2.32) |  6, -
    500        8        1e-2 | 23.19 (2.62)       | 22.97 (4.18)   |  0.22 (2.46) |  5, -
    1000       1        1e-2 | 24.72 (2.96)       | 25.40 (4.71)   | -0.68 (2.73) |  4, -
    1000       8        1e-2 | 24.93 (2.95)       | 26.23 (4.46)   | -1.30 (2.80) |  4, -
    2000       1        1e-2 | 25.36 (2.85)       | 27.23 (4.09)   | -1.87 (2.00) |  3, -
    3000       1        1e-2 | 25.26 (2.54)       | 27.84 (4.02)   | -2.58 (1.91) |  3, -
    1000       1        1e-3 | 27.17 (4.23)       | 25.28 (6.12)   |  1.89 (4.04) | 38, 13
    2000       1        1e-3 | 31.22 (5.97)       | 32.73 (8.86)   | -1.51 (6.82) |  9, 5     <- chosen
    2000       1        1e-4 | 32.60 (9.65)       | 29.57 (7.30)   |  3.03 (6.97) |  -, 7

    prior attack (sigma 5), draws x restarts: at 500 steps, TV 1e-2: 1x1 9.85, 4x1 10.78, 8x1 11.04, 8x4 11.02 dB;
    at 2000 steps, TV 1e-2: 1x1 9.58, 2x1 10.33, 4x1 10.70; at 1000 and 2000 steps, TV 1e-3: 1x1 9.0, 4x1 9.7 dB
    (2.1 dB under the reference, sd 1.2).

Reading: steps and the TV weight make the attacker strong (+5.5 dB from 250 to 2000 steps at TV 1e-2, flat
after; TV 1e-3 adds ~6 dB more, 1e-4 no more on average and with a wider spread); restarts add 0.2-0.6 dB for
their full cost; more prior draws raise the prior attack by about 1 dB from 1 to 8 and keep it under the
reference. Chosen for SETTINGS[small]: 2000 steps, TV 1e-3, 1 restart, 4 prior draws, 16 images.
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
    tv: float
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
    config = AttackConfig(iterations=job.iterations, tv=job.tv, restarts=job.restarts, prior_draws=job.draws)
    started = time.process_time()
    results = restore_many(attacker, targets, study.IMAGE_SHAPE, config, guess=job.guess, true_keystore=keystore,
                           attacker_prior=PassportPrior("normal", 1.0, job.sigma or 1.0), seed=job.seed + job.images[0])
    rows = []
    for i, (restoration, _) in zip(job.images, results, strict=True):
        truth = x_private[i].numpy()
        rows.append({"image": i, "mismatch": restoration.mismatches, "failures": restoration.failures,
                     "psnr": [psnr(truth, c.numpy(), max_db=100.0) for c in restoration.candidates]})
    return {"guess": job.guess, "iterations": job.iterations, "tv": job.tv, "rows": rows,
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
    for n in range(3, 400):
        if gap_mean + stats.t.ppf(0.95, n - 1) * gap_sd / math.sqrt(n) <= bar:
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("calibration.json"))
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--iterations", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--tv", type=float, nargs="+", default=[1e-2])
    parser.add_argument("--restarts", type=int, default=8, help="restarts of the undefended and oracle attacks")
    parser.add_argument("--prior-iterations", type=int, nargs="+", default=[500])
    parser.add_argument("--prior-draws", type=int, default=8, help="0: no prior attack")
    parser.add_argument("--prior-restarts", type=int, default=4)
    parser.add_argument("--candidates-per-probe", type=int, default=32)
    arguments = parser.parse_args()
    seed, images, restarts = arguments.seed, arguments.images, arguments.restarts
    settings = replace(study.SETTINGS[Scale.SMALL], accuracy_seeds=1, attack_images=images)
    data = {seed: study.load_data(settings, seed)}
    payload = {"settings": settings, "data": data, "private": study.private_images(settings, seed, data[seed])}
    started = time.perf_counter()
    jobs = [study.TrainJob("none", "none", seed, snapshot=True),
            study.TrainJob("passport_sigma5", "passport", seed, sigma=5.0, snapshot=True)]
    trained = dict(zip([j.key for j in jobs], run_parallel(study.train_job, jobs, initializer=study._init_worker,
                                                            initargs=(payload,)), strict=True))
    print({k: round(v["accuracy"], 4) for k, v in trained.items()}, f"{time.perf_counter() - started:.0f} s", flush=True)

    def groups(per_image: int) -> list[tuple[int, ...]]:
        size = max(1, arguments.candidates_per_probe // per_image)
        return [tuple(range(i, min(i + size, images))) for i in range(0, images, size)]

    plain, passport = trained["none"], trained["passport_sigma5"]
    probes = []
    for iterations in arguments.iterations:
        for tv in arguments.tv:
            for group in groups(restarts):
                probes.append(Probe("none", "none", "none", iterations, tv, restarts, 1, group, seed, plain["state"], {}, 0.0))
                probes.append(Probe("passport_sigma5", "passport", "oracle", iterations, tv, restarts, 1, group, seed,
                                    passport["state"], passport["passports"], 5.0))
    for prior_iterations in arguments.prior_iterations if arguments.prior_draws else []:
        for group in groups(arguments.prior_draws * arguments.prior_restarts):
            probes.append(Probe("passport_sigma5", "passport", "prior", prior_iterations, arguments.tv[0],
                                arguments.prior_restarts, arguments.prior_draws, group, seed, passport["state"],
                                passport["passports"], 5.0))
    cost = lambda p: p.iterations * len(p.images) * p.restarts * p.draws * (1.8 if p.kind == "passport" else 1.0)  # noqa: E731
    outputs = run_parallel(probe, probes, initializer=study._init_worker, initargs=(payload,), cost=cost)
    by: dict[tuple, list] = {}
    for output in outputs:
        by.setdefault((output["guess"], output["iterations"], output["tv"]), []).extend(output["rows"])
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
    print(f"prior-mean reference {reference.mean():.2f} dB over {images} images")
    print("iterations restarts TV | undefended dB | oracle dB | gap mean sd | images for 3 dB bar | undefended >= 25 dB")
    for iterations in arguments.iterations:
        for tv in arguments.tv:
            for r in [r for r in (1, 2, 4, 8) if r <= restarts]:
                undefended = np.array([best_of(row, 1, r, restarts) for row in by[("none", iterations, tv)]])
                oracle = np.array([best_of(row, 1, r, restarts) for row in by[("oracle", iterations, tv)]])
                gap = undefended - oracle
                needed = images_needed(float(gap.mean()), float(gap.std(ddof=1)))
                above = images_needed(-float(undefended.mean()), float(undefended.std(ddof=1)), bar=-25.0)
                report["grid"].append({"iterations": iterations, "tv": tv, "restarts": r, "undefended": undefended.tolist(),
                                       "oracle": oracle.tolist(), "images_needed": needed, "images_needed_25db": above})
                print(f"{iterations:10d} {r:8d} {tv:5.0e} | {undefended.mean():6.2f} +- {undefended.std(ddof=1):4.2f} | "
                      f"{oracle.mean():6.2f} +- {oracle.std(ddof=1):4.2f} | {gap.mean():5.2f} {gap.std(ddof=1):4.2f} | "
                      f"{needed} | {above}")
    for prior_iterations in arguments.prior_iterations if arguments.prior_draws else []:
        print(f"prior attack, {prior_iterations} iterations, TV {arguments.tv[0]:g}")
        print("prior draws restarts | prior-attack dB | minus reference (mean, sd)")
        key = ("prior", prior_iterations, arguments.tv[0])
        for draws in [d for d in (1, 2, 4, 8, 16) if d <= arguments.prior_draws]:
            for r in [r for r in (1, 2, 4) if r <= arguments.prior_restarts]:
                prior = np.array([best_of(row, draws, r, arguments.prior_restarts) for row in by[key]])
                report["prior"].append({"iterations": prior_iterations, "draws": draws, "restarts": r,
                                        "psnr": prior.tolist()})
                print(f"{draws:11d} {r:8d} | {prior.mean():6.2f} | {(prior - reference).mean():5.2f} "
                      f"{(prior - reference).std(ddof=1):4.2f}")
    report["cpu_seconds"] = sum(o["cpu_seconds"] for o in outputs)
    report["wall_seconds"] = time.perf_counter() - started
    atomic_write_json(arguments.out, report)
    print(f"attack CPU {report['cpu_seconds']:.0f} s, wall {report['wall_seconds']:.0f} s -> {arguments.out}")


if __name__ == "__main__":
    main()
