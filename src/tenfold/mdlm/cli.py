"""`tenfold mdlm ...`: simulate, partition, train, generate and compare MD kinetics language models."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError, BadInputError

app = typer.Typer(help="Language models of MD kinetics (LSTM/Transformer) compared with Markov state models.",
                  no_args_is_help=True)


def _save_npy(path: Path, array) -> None:
    import numpy as np

    from tenfold.core.io import atomic_write_bytes

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def _save_npz(path: Path, **arrays) -> None:
    import numpy as np

    from tenfold.core.io import atomic_write_bytes

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _pad(sequences, fill=-1):
    import numpy as np

    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    out = np.full((len(sequences), lengths.max()), fill, dtype=np.int64)
    for row, s in enumerate(sequences):
        out[row, : len(s)] = s
    return out, lengths


def _read_states(path: Path, key: str) -> list:
    """State sequences from a `partition` .npz (ragged walkers kept by `lengths`) or a .npy array."""
    import numpy as np

    from tenfold.mdlm.trajectories import as_dtrajs, load_array

    if path.suffix == ".npz":
        array = load_array(path, key)
        lengths = load_array(path, "lengths") if key in ("micro", "crisp", "core", "min_dwell") else None
        rows = [array] if array.ndim == 1 else list(array)
        if lengths is not None and len(lengths) == len(rows):
            rows = [r[:n] for r, n in zip(rows, lengths, strict=True)]
        seqs = as_dtrajs(rows, allow_unassigned=True)
        return [s[s >= 0] if key in ("core", "crisp") else s for s in seqs]
    return as_dtrajs(np.asarray(load_array(path)))


def _check_out(out: Path, suffixes: tuple[str, ...]) -> None:
    if out.suffix not in suffixes:
        raise BadConfigError(f"--out {out} must end in {' or '.join(suffixes)}")
    if out.exists() and out.is_dir():
        raise BadConfigError(f"--out {out} is a folder; give a file name")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Output .npy of frames, shape (walkers, frames, 1 + fast_dims).")],
    walkers: Annotated[int, typer.Option(help="Independent walkers.")] = 64,
    frames: Annotated[int, typer.Option(help="Frames per walker.")] = 20_000,
    fast_dims: Annotated[int, typer.Option(help="Fast double-well coordinates beside the slow x.")] = 2,
    steps_per_frame: Annotated[int, typer.Option(help="Integrator steps (dt = 1e-3) between saved frames.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Simulate the slow 4-well + fast double-well overdamped Langevin model."""
    from rich.console import Console

    from tenfold.mdlm.simulation import simulate as run

    _check_out(out, (".npy",))
    console = Console(stderr=True)
    with console.status(f"simulating {walkers} walkers x {frames} frames"):
        data = run(walkers, frames, fast_dims, steps_per_frame=steps_per_frame, seed=seed)
    _save_npy(out, data)
    console.print(f"wrote {out} {tuple(data.shape)}")


@app.command()
def partition(
    trajectory: Annotated[Path, typer.Argument(help="Frames: .npy/.npz (walkers, frames, D), a whitespace table "
                                               "(PLUMED COLVAR) or an MD trajectory (.dcd/.xtc/..., needs mdtraj).")],
    out: Annotated[Path, typer.Option(help="Output .npz with micro, crisp, core (TBA) states and the maps.")],
    clusters: Annotated[int, typer.Option(help="k-means microstates.")] = 100,
    macrostates: Annotated[int, typer.Option(help="PCCA+ metastable sets.")] = 4,
    lag: Annotated[int, typer.Option(help="MSM lag for PCCA+, in frames after striding.")] = 10,
    stride: Annotated[int, typer.Option(help="Keep every s-th frame (the temporal resolution).")] = 1,
    theta_core: Annotated[float, typer.Option(help="Core set: microstates with PCCA+ membership >= theta.")] = 0.9,
    min_dwell: Annotated[int, typer.Option(help="Also store ps-LSTM min-dwell filtered crisp states (0: off).")] = 0,
    seed: Annotated[int, typer.Option(help="k-means seed.")] = 0,
    topology: Annotated[Path | None, typer.Option(help="Topology (.pdb/.prmtop) for an MD trajectory.")] = None,
) -> None:
    """Cluster frames into microstates, fit an MSM, lump with PCCA+ and remove recrossings (core sets)."""
    import warnings

    import numpy as np
    from rich.console import Console

    from tenfold.mdlm.partition import (
        cluster_microstates,
        fit_msm,
        implied_timescales,
        min_dwell_filter,
        pcca_lumping,
        transition_based_assignment,
    )
    from tenfold.mdlm.trajectories import read_trajectory

    _check_out(out, (".npz",))
    if stride < 1:
        raise BadConfigError(f"--stride must be >= 1, got {stride}")
    if macrostates < 2 or macrostates >= clusters:
        raise BadConfigError(f"--macrostates {macrostates} must be >= 2 and smaller than --clusters {clusters}")
    console = Console(stderr=True)
    walkers = [w[::stride] for w in read_trajectory(trajectory, topology)]
    shortest = min(len(w) for w in walkers)
    if lag >= shortest:
        raise BadConfigError(f"--lag {lag} is not shorter than the shortest trajectory ({shortest} frames after "
                             f"stride {stride}); use a smaller lag or stride")
    with console.status("k-means"):
        micro, centres = cluster_microstates(walkers, clusters, seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_msm(micro, lag, n_states=clusters)
    for warning in caught:
        console.print(f"warning: {warning.message}")
    lumped = pcca_lumping(fit, macrostates, theta_core=theta_core, order_by=centres[:, 0])
    crisp = [transition_based_assignment(lumped.crisp[d]) for d in micro]
    core = lumped.core_dtrajs(micro)
    lags = [lag_ for lag_ in (1, 2, 5, 10, 20, 50) if lag_ < shortest]
    its = implied_timescales(micro, lags, min(3, macrostates - 1))
    arrays = {"micro": _pad(micro)[0], "crisp": _pad(crisp)[0], "core": _pad(core)[0], "lengths": _pad(micro)[1],
              "crisp_map": lumped.crisp, "core_map": lumped.core, "memberships": lumped.memberships,
              "centres": centres, "active_set": fit.active_set, "dropped_states": fit.dropped_states,
              "stride": np.array(stride), "lag": np.array(lag), "n_macro": np.array(macrostates),
              "n_micro": np.array(clusters), "implied_timescales": its, "its_lags": np.array(lags)}
    if min_dwell:
        arrays["min_dwell"] = _pad([min_dwell_filter(c, min_dwell) for c in crisp])[0]
    _save_npz(out, **arrays)
    console.print(f"wrote {out}: {len(fit.active_set)}/{clusters} microstates active "
                  f"(dropped {fit.dropped_states.tolist()}), {int((lumped.core >= 0).sum())} core microstates, "
                  f"non-core frames {lumped.noncore_fraction(micro):.3f}")
    console.print(f"implied timescales (frames after stride) at lags {lags}: {np.round(its, 1).tolist()}")


@app.command()
def train(
    states: Annotated[Path, typer.Argument(help="State sequences: a `partition` .npz or a .npy (walkers, T) of ints.")],
    out: Annotated[Path, typer.Option(help="Output model file (.pt).")],
    model: Annotated[str, typer.Option(help="lstm or transformer.")] = "lstm",
    tokens: Annotated[str, typer.Option(help="Which states of a .npz: micro, crisp, core or min_dwell.")] = "core",
    holdout: Annotated[int, typer.Option(help="Last walkers kept out of training (for generation seeds).")] = 1,
    steps: Annotated[int, typer.Option(help="Adam steps (each on batch-size random windows).")] = 1000,
    window: Annotated[int, typer.Option(help="Training window (tokens); the Transformer's context.")] = 100,
    batch_size: Annotated[int, typer.Option(help="Windows per step.")] = 64,
    hidden: Annotated[int, typer.Option(help="LSTM hidden size / Transformer width.")] = 64,
    embedding: Annotated[int, typer.Option(help="LSTM token embedding size.")] = 16,
    layers: Annotated[int, typer.Option(help="LSTM layers / Transformer blocks (0: 1 for LSTM, 2 for Transformer).")] = 0,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train an LSTM or Transformer on next-state prediction."""
    import hashlib

    import torch
    from rich.progress import Progress

    from tenfold.mdlm.language_model import StateLanguageModel

    _check_out(out, (".pt",))
    torch.set_num_threads(1)
    sequences = _read_states(states, tokens)
    if holdout < 0 or holdout >= len(sequences):
        raise BadConfigError(f"--holdout must be in [0, {len(sequences) - 1}] for {len(sequences)} walkers; "
                             "a held-out walker seeds generation without overlapping training")
    train_set = sequences[: len(sequences) - holdout]
    n_states = None
    if states.suffix == ".npz" and tokens in ("crisp", "core", "min_dwell"):
        from tenfold.mdlm.trajectories import load_array

        n_states = int(load_array(states, "n_macro"))
    elif states.suffix == ".npz" and tokens == "micro":
        from tenfold.mdlm.trajectories import load_array

        n_states = int(load_array(states, "n_micro"))
    estimator = StateLanguageModel(model, embedding_dim=embedding, hidden_dim=hidden,
                                   n_layers=layers or (1 if model == "lstm" else 2), window=window,
                                   batch_size=batch_size, steps=steps, lr=lr, seed=seed, n_states=n_states)
    with Progress(transient=True) as progress:
        task = progress.add_task(f"training {model}", total=steps)
        fitted = estimator.fit(train_set, progress=lambda step: progress.update(task, completed=step))
    digest = hashlib.sha256(states.read_bytes()).hexdigest()[:16]
    fitted.metadata = {"states_file_sha256": digest, "tokens": tokens, "train_walkers": len(train_set),
                       "n_walkers": len(sequences)}
    fitted.save(out)
    typer.echo(f"wrote {out}: {fitted.n_parameters()} parameters, final loss {fitted.history.losses[-1]:.4f}")


@app.command()
def generate(
    model_file: Annotated[Path, typer.Argument(help="A model written by `tenfold mdlm train`.")],
    states: Annotated[Path, typer.Argument(help="The state file it was trained on (seeds come from held-out walkers).")],
    out: Annotated[Path, typer.Option(help="Output .npy (chains, length) of generated states.")],
    chains: Annotated[int, typer.Option(help="Chains to generate.")] = 16,
    length: Annotated[int, typer.Option(help="Tokens per chain.")] = 20_000,
    seed_length: Annotated[int, typer.Option(help="Held-out MD tokens that seed each chain.")] = 100,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (> 0).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Sample long synthetic state trajectories seeded with held-out MD."""
    import hashlib

    import torch
    from rich.progress import Progress

    from tenfold.mdlm.language_model import KineticLanguageModel
    from tenfold.mdlm.study import held_out_seeds

    _check_out(out, (".npy",))
    torch.set_num_threads(1)
    fitted = KineticLanguageModel.load(model_file)
    meta = fitted.metadata
    tokens = meta.get("tokens", "core")
    sequences = _read_states(states, tokens)
    digest = hashlib.sha256(states.read_bytes()).hexdigest()[:16]
    if meta.get("states_file_sha256") not in (None, digest):
        raise BadInputError(f"{states} is not the file the model was trained on; held-out seeds cannot be verified")
    first_held = int(meta.get("train_walkers", 0))
    held = list(range(first_held, len(sequences)))
    if not held:
        raise BadInputError("every walker was used in training; retrain with --holdout >= 1 so seeds are held out")
    seeds = held_out_seeds(sequences, held, chains, seed_length, seed=seed)
    with Progress(transient=True) as progress:
        task = progress.add_task("generating", total=length)
        generated = fitted.generate(seeds, length, temperature=temperature, seed=seed,
                                    progress=lambda t: progress.update(task, completed=t))
    _save_npy(out, generated)
    typer.echo(f"wrote {out} {tuple(generated.shape)}")


@app.command()
def compare(
    states: Annotated[Path, typer.Argument(help="The MD reference: a `partition` .npz.")],
    generated: Annotated[list[Path], typer.Argument(help="Generated .npy files (chains, length) to score.")],
    out: Annotated[Path, typer.Option(help="Output .json with MFPTs, E, TV and transition counts.")],
    tokens: Annotated[str, typer.Option(help="Token kind of the generated files: micro, crisp or core.")] = "core",
    msm_lag: Annotated[int, typer.Option(help="Add an MSM row at this lag on the reference tokens (0: off).")] = 1,
    seed: Annotated[int, typer.Option(help="Seed for the MSM simulation and bootstrap.")] = 0,
) -> None:
    """Score generated kinetics against the MD reference: MFPT error E, populations, transitions, MSM rows."""
    import warnings

    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from tenfold.core.experiment import _jsonable
    from tenfold.core.io import atomic_write_text
    from tenfold.mdlm.kinetics import check_chain_length, check_resolution
    from tenfold.mdlm.partition import transition_based_assignment
    from tenfold.mdlm.study import Reference, score, simulate_msm
    from tenfold.mdlm.trajectories import as_dtrajs, load_array

    _check_out(out, (".json",))
    if tokens not in ("micro", "crisp", "core"):
        raise BadConfigError(f"--tokens must be micro, crisp or core, got {tokens!r}")
    if states.suffix != ".npz":
        raise BadInputError(f"{states} must be the .npz written by `tenfold mdlm partition`")
    n_macro = int(load_array(states, "n_macro"))
    core_map = load_array(states, "core_map")
    reference_kind = "crisp" if tokens == "crisp" else "core"
    reference = Reference.from_macro(_read_states(states, reference_kind), n_macro)
    n_tokens = n_macro if tokens != "micro" else len(core_map)

    def to_macro(chains):
        if tokens == "micro":
            return [transition_based_assignment(core_map[c]) for c in chains]
        return chains

    rows = {}
    console = Console(stderr=True)
    for path in generated:
        chains = as_dtrajs(np.asarray(load_array(path)))
        if max(int(c.max()) for c in chains) >= n_tokens:
            raise BadInputError(f"{path} holds states >= {n_tokens}, which the {tokens} partition in {states} lacks")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_chain_length(min(len(c) for c in chains), reference.mfpt)
            check_resolution(to_macro(chains))
        for warning in caught:
            console.print(f"warning ({path.name}): {warning.message}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows[path.name] = score(to_macro(chains), reference, n_macro, bootstrap=200, seed=seed).summary()
    if msm_lag:
        reference_tokens = _read_states(states, tokens)
        if msm_lag >= min(len(s) for s in reference_tokens):
            raise BadConfigError(f"--msm-lag {msm_lag} exceeds the trajectory length")
        seeds = np.stack([s[:1] for s in reference_tokens])
        length = int(np.median([len(s) for s in reference_tokens]))
        msm_chains = simulate_msm(reference_tokens, n_tokens, seeds, length, lag=msm_lag, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows[f"MSM(lag {msm_lag})"] = score(to_macro(msm_chains), reference, n_macro).summary()
    payload = {"reference": {"mfpt": reference.mfpt, "populations": reference.populations,
                             "transitions_per_1e5": reference.transitions_per_1e5,
                             "censored_passages": reference.censored},
               "tokens": tokens, "rows": rows}
    atomic_write_text(out, json.dumps(_jsonable(payload), indent=2))
    table = Table(title=f"kinetics vs MD ({n_macro} macrostates)")
    for column in ("source", "E", "median ratio", "TV(pop)", "transitions/1e5"):
        table.add_column(column)
    table.add_row("MD reference", "-", "-", "-", f"{reference.transitions_per_1e5:.1f}")
    for name, row in rows.items():
        table.add_row(name, f"{row['E']:.3f}", f"{row['median_ratio']:.2f}", f"{row['TV']:.3f}",
                      f"{row['transitions_per_1e5']:.1f}")
    Console().print(table)
