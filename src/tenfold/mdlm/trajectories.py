"""Validation and reading of trajectories (continuous frames) and discrete state sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tenfold.core.errors import BadInputError, MissingDataError


def as_walkers(frames: np.ndarray | list[np.ndarray]) -> list[np.ndarray]:
    """Validate continuous trajectories; returns a list of float arrays (T_w, D) with one D for all.

    Accepts (T,), (T, D), (W, T, D) arrays or a list of per-walker arrays.
    """
    if isinstance(frames, np.ndarray):
        if frames.ndim == 1:
            walkers = [frames[:, None]]
        elif frames.ndim == 2:
            walkers = [frames]
        elif frames.ndim == 3:
            walkers = list(frames)
        else:
            raise BadInputError(f"trajectory array must have 1, 2 or 3 dimensions (T | T,D | W,T,D), got shape {frames.shape}")
    else:
        walkers = [np.asarray(w) for w in frames]
        walkers = [w[:, None] if w.ndim == 1 else w for w in walkers]
    if not walkers:
        raise BadInputError("no trajectories given")
    out = []
    dims = {w.shape[-1] if w.ndim == 2 else None for w in walkers}
    if None in dims:
        raise BadInputError("each walker must be a (frames, features) array")
    if len(dims) > 1:
        raise BadInputError(f"walkers have different numbers of features {sorted(dims)}; all must share one D")
    for index, w in enumerate(walkers):
        if not np.issubdtype(w.dtype, np.number):
            raise BadInputError(f"walker {index} is not numeric (dtype {w.dtype})")
        if w.shape[0] < 2:
            raise BadInputError(f"walker {index} has {w.shape[0]} frames; need at least 2")
        if not np.all(np.isfinite(w)):
            bad = int(np.count_nonzero(~np.isfinite(w)))
            raise BadInputError(f"walker {index} holds {bad} NaN/inf values; clean or drop those frames first")
        out.append(np.asarray(w, dtype=np.float64))
    return out


def as_dtrajs(states: np.ndarray | list[np.ndarray], *, allow_unassigned: bool = False) -> list[np.ndarray]:
    """Validate discrete state sequences; returns a list of int64 arrays (one per walker).

    ``allow_unassigned`` lets -1 mark frames with no state (before a first core hit).
    """
    if isinstance(states, np.ndarray):
        if states.ndim == 1:
            seqs = [states]
        elif states.ndim == 2:
            seqs = list(states)
        else:
            raise BadInputError(f"state sequences must be (T,) or (walkers, T), got shape {states.shape}")
    else:
        seqs = [np.asarray(s) for s in states]
    if not seqs:
        raise BadInputError("no state sequences given")
    out = []
    for index, s in enumerate(seqs):
        if s.ndim != 1:
            raise BadInputError(f"state sequence {index} must be one-dimensional, got shape {s.shape}")
        if np.issubdtype(s.dtype, np.floating):
            if not np.all(np.isfinite(s)) or np.any(s != np.round(s)):
                raise BadInputError(f"state sequence {index} holds non-integer values; states must be integers")
        elif not np.issubdtype(s.dtype, np.integer):
            raise BadInputError(f"state sequence {index} has dtype {s.dtype}; states must be integers")
        s = s.astype(np.int64)
        low = -1 if allow_unassigned else 0
        if s.size and s.min() < low:
            raise BadInputError(f"state sequence {index} holds negative states (min {s.min()}); states must be >= 0")
        out.append(s)
    return out


def load_array(path: Path, key: str | None = None) -> np.ndarray:
    """Read a .npy array, or one array (``key``, else the only/first one) from an .npz file."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{path} does not exist")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                if key is None:
                    if not names:
                        raise BadInputError(f"{path} holds no arrays")
                    key = names[0]
                if key not in names:
                    raise BadInputError(f"{path} has no array {key!r}; it holds {', '.join(names)}")
                return archive[key]
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise BadInputError(f"{path} is not a readable numpy .npy/.npz file ({error})") from None


def read_trajectory(path: Path, topology: Path | None = None) -> list[np.ndarray]:
    """Read continuous frames from .npy/.npz (W,T,D | T,D | T), a whitespace table (.txt/.dat/PLUMED COLVAR),
    or an MD trajectory (.dcd/.xtc/... with ``topology``; backbone dihedral features via mdtraj)."""
    path = Path(path)
    if path.suffix in (".npy", ".npz"):
        return as_walkers(load_array(path))
    if path.suffix in MD_SUFFIXES:
        return as_walkers(read_md_dihedrals(path, topology))
    if not path.is_file():
        raise MissingDataError(f"{path} does not exist")
    try:
        table = np.loadtxt(path, comments=("#", "@"), ndmin=2)
    except ValueError as error:
        raise BadInputError(f"{path} is not a numeric whitespace table ({error})") from None
    return as_walkers(table)


MD_SUFFIXES = (".dcd", ".xtc", ".trr", ".nc", ".h5", ".pdb", ".lh5", ".binpos")


def read_md_dihedrals(trajectory: Path, topology: Path | None = None) -> np.ndarray:
    """Backbone (sin, cos)(phi, psi) features of a real MD trajectory, read with mdtraj (optional extra).

    Returns (frames, 4 x residues-with-both-angles): the "high-dimensional" input of the paper.
    """
    trajectory = Path(trajectory)
    if not trajectory.is_file():
        raise MissingDataError(f"{trajectory} does not exist")
    if topology is not None and not Path(topology).is_file():
        raise MissingDataError(f"topology {topology} does not exist")
    try:
        import mdtraj
    except ImportError:
        raise BadInputError(f"reading {trajectory.suffix} trajectories needs mdtraj (pip install mdtraj); "
                            "or save frames as a .npy (walkers, frames, features)") from None
    traj = mdtraj.load(str(trajectory), top=None if topology is None else str(topology))
    _, phi = mdtraj.compute_phi(traj)
    _, psi = mdtraj.compute_psi(traj)
    angles = np.concatenate([phi, psi], axis=1)
    if angles.shape[1] == 0:
        raise BadInputError(f"{trajectory} has no backbone phi/psi dihedrals")
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
