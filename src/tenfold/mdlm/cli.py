"""`tenfold mdlm ...`: simulate, partition, train, generate and compare MD kinetics language models.

Every command checks its output path and its numbers before any work, reads inputs through core.io,
and writes its output atomically, so a bad input ends in one named line and leaves no file behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenfold.core.errors import BadConfigError, BadInputError

app = typer.Typer(help="Language models of MD kinetics (LSTM/Transformer) compared with Markov state models.",
                  no_args_is_help=True)

# Arrays a command may allocate (frames or generated tokens); beyond this a typo, not a study.
MAX_VALUES = 500_000_000
MACRO_KINDS = ("crisp", "core", "min_dwell")
TOKEN_KINDS = ("micro", *MACRO_KINDS)


def _output(path: Path, suffix: str) -> Path:
    from tenfold.core.io import check_output_path

    return check_output_path(path, option="--output", kind="file", suffixes=(suffix,))


def _count(name: str, value: int, low: int, high: int | None = None) -> int:
    from tenfold.core.validation import check_number

    return check_number(name, value, low=low, high=high, integer=True)


def _positive(name: str, value: float, high: float | None = None) -> float:
    from tenfold.core.validation import check_number

    return check_number(name, value, low=0.0, low_open=True, high=high)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise BadConfigError(f"{name} {value!r} is not one of: {', '.join(allowed)}")
    return value


def _not_absurd(what: str, values: int) -> None:
    if values > MAX_VALUES:
        raise BadConfigError(f"{what} would hold {values:,} values (more than {MAX_VALUES:,}); ask for fewer")


def _prefixed(path: Path, option: str, error: Exception) -> BadInputError:
    """The error again, naming the file it is about (readers' checks know the array, not the file)."""
    text = str(error)
    label = f"{option} {path}" if option else str(path)
    return BadInputError(text if str(path) in text else f"{label}: {text}")


def _pad(sequences, fill: int = -1):
    import numpy as np

    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    out = np.full((len(sequences), lengths.max()), fill, dtype=np.int64)
    for row, s in enumerate(sequences):
        out[row, : len(s)] = s
    return out, lengths


def _read_states(path: Path, key: str, option: str = "STATES") -> list:
    """State sequences from a `partition` .npz (ragged walkers kept by `lengths`) or a .npy (walkers, T) of ints."""
    import numpy as np

    from tenfold.mdlm.trajectories import as_dtrajs, load_array

    try:
        if path.suffix.lower() == ".npz":
            array = load_array(path, key, option=option)
            lengths = load_array(path, "lengths", option=option)
            rows = [array] if array.ndim == 1 else list(array)
            if lengths.ndim != 1 or len(lengths) != len(rows) or np.any(lengths < 1):
                raise BadInputError("its `lengths` do not match its state rows; write it with `tenfold mdlm partition`")
            rows = [r[:n] for r, n in zip(rows, lengths, strict=True)]
            sequences = as_dtrajs(rows, allow_unassigned=True)
            return [s[s >= 0] for s in sequences] if key in MACRO_KINDS else sequences
        return as_dtrajs(np.asarray(load_array(path, option=option)))
    except BadInputError as error:
        raise _prefixed(path, option, error) from None


def _partition_value(path: Path, key: str, option: str = "STATES") -> int:
    from tenfold.mdlm.trajectories import load_array

    value = load_array(path, key, option=option)
    if value.ndim != 0 or not (value.dtype.kind in "iu" and value >= 1):
        raise BadInputError(f"{option} {path}: `{key}` must be one positive whole number; write it with "
                            "`tenfold mdlm partition`")
    return int(value)


@app.command()
def simulate(
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .npy of frames, shape (walkers, frames, "
                                         "1 + fast_dims).")],
    walkers: Annotated[int, typer.Option(help="Independent walkers.")] = 64,
    frames: Annotated[int, typer.Option(help="Frames per walker.")] = 20_000,
    fast_dims: Annotated[int, typer.Option(help="Fast double-well coordinates beside the slow x.")] = 2,
    steps_per_frame: Annotated[int, typer.Option(help="Integrator steps between saved frames.")] = 20,
    time_step: Annotated[float, typer.Option(help="Euler-Maruyama time step (model units, kT = 1).")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Random seed of the thermal noise and the starting wells.")] = 0,
) -> None:
    """Simulate the slow 4-well + fast double-well overdamped Langevin model."""
    output = _output(output, ".npy")
    _count("--walkers", walkers, 1)
    _count("--frames", frames, 2)
    _count("--fast-dims", fast_dims, 0, 64)
    _count("--steps-per-frame", steps_per_frame, 1, 100_000)
    _positive("--time-step", time_step, 0.05)  # larger steps make the Euler scheme blow up on these walls
    _count("--seed", seed, 0)
    _not_absurd("the trajectory", walkers * frames * (1 + fast_dims))

    from rich.console import Console

    from tenfold.core.io import atomic_save_npy
    from tenfold.mdlm.simulation import simulate as run

    console = Console(stderr=True)
    with console.status(f"simulating {walkers} walkers x {frames} frames"):
        data = run(walkers, frames, fast_dims, steps_per_frame=steps_per_frame, dt=time_step, seed=seed)
    atomic_save_npy(output, data)
    console.print(f"wrote {output} {tuple(data.shape)}")


@app.command()
def partition(
    trajectory: Annotated[Path, typer.Argument(help="Frames: .npy/.npz (walkers, frames, D), a whitespace table "
                                               "(PLUMED COLVAR) or an MD trajectory (.dcd/.xtc/..., needs mdtraj).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .npz with micro, crisp, core (TBA) states "
                                         "and the maps.")],
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
    output = _output(output, ".npz")
    _count("--clusters", clusters, 2, 100_000)
    _count("--macrostates", macrostates, 2)
    if macrostates >= clusters:
        raise BadConfigError(f"--macrostates {macrostates} must be smaller than --clusters {clusters}")
    _count("--lag", lag, 1)
    _count("--stride", stride, 1)
    from tenfold.core.validation import check_number

    check_number("--theta-core", theta_core, low=0.0, low_open=True, high=1.0)
    _count("--min-dwell", min_dwell, 0)
    _count("--seed", seed, 0)
    if topology is not None:
        from tenfold.core.io import check_input_file

        check_input_file(topology, option="--topology", what="topology file")

    import warnings

    import numpy as np
    from rich.console import Console

    from tenfold.core.io import atomic_save_npz
    from tenfold.mdlm.partition import (
        cluster_microstates,
        fit_msm,
        implied_timescales,
        min_dwell_filter,
        pcca_lumping,
        transition_based_assignment,
    )
    from tenfold.mdlm.trajectories import read_trajectory

    console = Console(stderr=True)
    walkers = [w[::stride] for w in read_trajectory(trajectory, topology, option="TRAJECTORY")]
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
    atomic_save_npz(output, arrays)
    console.print(f"wrote {output}: {len(fit.active_set)}/{clusters} microstates active "
                  f"(dropped {fit.dropped_states.tolist()}), {int((lumped.core >= 0).sum())} core microstates, "
                  f"non-core frames {lumped.noncore_fraction(micro):.3f}")
    console.print(f"implied timescales (frames after stride) at lags {lags}: {np.round(its, 1).tolist()}")


@app.command()
def train(
    states: Annotated[Path, typer.Argument(help="State sequences: a `partition` .npz or a .npy (walkers, T) of ints.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output model file (.pt).")],
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
    seed: Annotated[int, typer.Option(help="Random seed of the initialisation and the windows.")] = 0,
) -> None:
    """Train an LSTM or Transformer on next-state prediction."""
    output = _output(output, ".pt")
    _choice("--model", model, ("lstm", "transformer"))
    _choice("--tokens", tokens, TOKEN_KINDS)
    _count("--holdout", holdout, 0)
    _count("--steps", steps, 1, 10_000_000)
    _count("--window", window, 1, 100_000)
    _count("--batch-size", batch_size, 1, 100_000)
    _count("--hidden", hidden, 1, 65_536)
    _count("--embedding", embedding, 1, 65_536)
    _count("--layers", layers, 0, 64)
    _positive("--lr", lr, 1.0)
    _count("--seed", seed, 0)

    import hashlib

    import torch
    from rich.progress import Progress

    from tenfold.core.parallel import thread_count
    from tenfold.mdlm.language_model import StateLanguageModel

    estimator = StateLanguageModel(model, embedding_dim=embedding, hidden_dim=hidden,
                                   n_layers=layers or (1 if model == "lstm" else 2), window=window,
                                   batch_size=batch_size, steps=steps, lr=lr, seed=seed)
    sequences = _read_states(states, tokens)
    if holdout >= len(sequences):
        raise BadConfigError(f"--holdout {holdout} leaves no training walker of the {len(sequences)} in {states}; "
                             "a held-out walker seeds generation without overlapping training")
    train_set = sequences[: len(sequences) - holdout]
    if states.suffix.lower() == ".npz":
        estimator.n_states = _partition_value(states, "n_micro" if tokens == "micro" else "n_macro")
    torch.set_num_threads(thread_count())  # tiny models: one thread unless TENFOLD_THREADS says otherwise
    with Progress(transient=True) as progress:
        task = progress.add_task(f"training {model}", total=steps)
        fitted = estimator.fit(train_set, progress=lambda step: progress.update(task, completed=step))
    digest = hashlib.sha256(states.read_bytes()).hexdigest()[:16]
    fitted.metadata = {"states_file_sha256": digest, "tokens": tokens, "train_walkers": len(train_set),
                       "n_walkers": len(sequences)}
    fitted.save(output)
    typer.echo(f"wrote {output}: {fitted.n_parameters()} parameters, final loss {fitted.history.losses[-1]:.4f}")


@app.command()
def generate(
    model_file: Annotated[Path, typer.Argument(help="A model written by `tenfold mdlm train`.")],
    states: Annotated[Path, typer.Argument(help="The state file it was trained on (seeds come from held-out walkers).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .npy (chains, length) of generated states.")],
    chains: Annotated[int, typer.Option(help="Chains to generate.")] = 16,
    length: Annotated[int, typer.Option(help="Tokens per chain.")] = 20_000,
    seed_length: Annotated[int, typer.Option(help="Held-out MD tokens that seed each chain.")] = 100,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (> 0).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed of the sampling and the seed windows.")] = 0,
) -> None:
    """Sample long synthetic state trajectories seeded with held-out MD."""
    output = _output(output, ".npy")
    _count("--chains", chains, 1)
    _count("--length", length, 1)
    _count("--seed-length", seed_length, 1)
    _positive("--temperature", temperature, 1000.0)
    _count("--seed", seed, 0)
    _not_absurd("the generated chains", chains * length)

    import hashlib

    import torch
    from rich.progress import Progress

    from tenfold.core.io import atomic_save_npy
    from tenfold.core.parallel import thread_count
    from tenfold.mdlm.language_model import KineticLanguageModel
    from tenfold.mdlm.study import held_out_seeds

    fitted = KineticLanguageModel.load(model_file, option="MODEL_FILE")
    meta = fitted.metadata
    tokens = meta.get("tokens", "core")
    if tokens not in TOKEN_KINDS:
        raise BadInputError(f"MODEL_FILE {model_file} names tokens {tokens!r}; retrain it with `tenfold mdlm train`")
    sequences = _read_states(states, tokens)
    digest = hashlib.sha256(states.read_bytes()).hexdigest()[:16]
    if meta.get("states_file_sha256") not in (None, digest):
        raise BadInputError(f"STATES {states} is not the file the model was trained on; held-out seeds cannot be "
                            "verified")
    first_held = int(meta.get("train_walkers", 0))
    held = list(range(first_held, len(sequences)))
    if not held:
        raise BadInputError("every walker was used in training; retrain with --holdout >= 1 so seeds are held out")
    try:
        seeds = held_out_seeds(sequences, held, chains, seed_length, seed=seed)
    except BadInputError as error:
        raise BadInputError(f"--seed-length {seed_length}: {error}; use a shorter seed") from None
    torch.set_num_threads(thread_count())
    with Progress(transient=True) as progress:
        task = progress.add_task("generating", total=length)
        generated = fitted.generate(seeds, length, temperature=temperature, seed=seed,
                                    progress=lambda t: progress.update(task, completed=t))
    atomic_save_npy(output, generated)
    typer.echo(f"wrote {output} {tuple(generated.shape)}")


@app.command()
def compare(
    states: Annotated[Path, typer.Argument(help="The MD reference: a `partition` .npz.")],
    generated: Annotated[list[Path], typer.Argument(help="Generated .npy files (chains, length) to score.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output .json with MFPTs, E, TV, transition and "
                                         "censored-passage counts.")],
    tokens: Annotated[str, typer.Option(help="Token kind of the generated files: micro, crisp or core.")] = "core",
    msm_lag: Annotated[int, typer.Option(help="Add an MSM row at this lag on the reference tokens (0: off).")] = 1,
    frame_time: Annotated[float, typer.Option(help="Physical time between the saved frames the partition read "
                                              "(MFPTs are reported in tokens and in this unit).")] = 1.0,
    bootstrap: Annotated[int, typer.Option(help="Chain resamples for the interval of E (0: none).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the MSM simulation and the bootstrap.")] = 0,
) -> None:
    """Score generated kinetics against the MD reference: MFPT error E, populations, transitions, MSM rows."""
    output = _output(output, ".json")
    _choice("--tokens", tokens, ("micro", "crisp", "core"))
    _count("--msm-lag", msm_lag, 0)
    _positive("--frame-time", frame_time)
    _count("--bootstrap", bootstrap, 0, 100_000)
    _count("--seed", seed, 0)

    import warnings

    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from tenfold.core.io import atomic_write_json
    from tenfold.mdlm.kinetics import check_chain_length, check_resolution
    from tenfold.mdlm.partition import transition_based_assignment
    from tenfold.mdlm.study import Reference, score, simulate_msm
    from tenfold.mdlm.trajectories import as_dtrajs, load_array

    if states.suffix.lower() != ".npz":
        raise BadInputError(f"STATES {states} must be the .npz written by `tenfold mdlm partition`")
    n_macro = _partition_value(states, "n_macro")
    stride = _partition_value(states, "stride")
    core_map = load_array(states, "core_map", option="STATES")
    if core_map.ndim != 1 or core_map.dtype.kind not in "iu" or np.any(core_map >= n_macro):
        raise BadInputError(f"STATES {states}: `core_map` must list a macrostate (< {n_macro}) or -1 per microstate")
    reference_kind = "crisp" if tokens == "crisp" else "core"
    reference = Reference.from_macro(_read_states(states, reference_kind), n_macro)
    n_tokens = n_macro if tokens != "micro" else len(core_map)
    token_time = stride * frame_time

    def to_macro(chains):
        if tokens == "micro":
            return [transition_based_assignment(core_map[c]) for c in chains]
        return chains

    files = {}
    for path in generated:
        try:
            chains = as_dtrajs(np.asarray(load_array(path, option="GENERATED")))
        except BadInputError as error:
            raise _prefixed(path, "GENERATED", error) from None
        if any(c.size == 0 for c in chains):
            raise BadInputError(f"GENERATED {path} holds an empty chain; give (chains, length >= 1) states")
        if max(int(c.max()) for c in chains) >= n_tokens:
            raise BadInputError(f"GENERATED {path} holds states >= {n_tokens}, which the {tokens} partition in "
                                f"{states} lacks; check --tokens")
        files[path] = chains
    reference_tokens = _read_states(states, tokens)
    if msm_lag and msm_lag >= min(len(s) for s in reference_tokens):
        raise BadConfigError(f"--msm-lag {msm_lag} is not shorter than the shortest reference trajectory")
    rows = {}
    console = Console(stderr=True)
    for path, chains in files.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_chain_length(min(len(c) for c in chains), reference.mfpt)
            check_resolution(to_macro(chains))
        for warning in caught:
            console.print(f"warning ({path.name}): {warning.message}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = score(to_macro(chains), reference, n_macro, bootstrap=bootstrap, seed=seed).summary()
        rows[path.name] = row | {"mfpt_time": row["mfpt"] * token_time}
    if msm_lag:
        seeds = np.stack([s[:1] for s in reference_tokens])
        length = int(np.median([len(s) for s in reference_tokens]))
        msm_chains = simulate_msm(reference_tokens, n_tokens, seeds, length, lag=msm_lag, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = score(to_macro(msm_chains), reference, n_macro).summary()
        rows[f"MSM(lag {msm_lag})"] = row | {"mfpt_time": row["mfpt"] * token_time}
    payload = {"reference": {"mfpt": reference.mfpt, "mfpt_time": reference.mfpt * token_time,
                             "populations": reference.populations,
                             "transitions_per_1e5": reference.transitions_per_1e5,
                             "censored_passages": reference.censored},
               "tokens": tokens, "stride": stride, "frame_time": frame_time, "token_time": token_time,
               "rows": rows}
    atomic_write_json(output, payload)
    table = Table(title=f"kinetics vs MD ({n_macro} macrostates)")
    for column in ("source", "E", "median ratio", "TV(pop)", "transitions/1e5", "censored"):
        table.add_column(column)
    table.add_row("MD reference", "-", "-", "-", f"{reference.transitions_per_1e5:.1f}",
                  str(int(reference.censored.sum())))
    for name, row in rows.items():
        table.add_row(name, f"{row['E']:.3f}", f"{row['median_ratio']:.2f}", f"{row['TV']:.3f}",
                      f"{row['transitions_per_1e5']:.1f}", str(row["censored_total"]))
    Console().print(table)
