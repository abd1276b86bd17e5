"""Validation and reading of trajectories (continuous frames) and discrete state sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tenfold.core.errors import BadInputError


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


def load_array(path: Path, key: str | None = None, *, option: str = "") -> np.ndarray:
    """A .npy array, or one array (``key``, else the first) of an .npz file; every malformed file is a
    BadInputError naming ``option`` and the path (core.io readers: no pickles, no tracebacks)."""
    from tenfold.core.io import read_npy, read_npz

    path = Path(path)
    if path.suffix.lower() == ".npz":
        arrays = read_npz(path, option=option)
        if not arrays:
            raise BadInputError(f"{_label(option, path)} holds no arrays")
        if key is None:
            key = next(iter(arrays))
        if key not in arrays:
            raise BadInputError(f"{_label(option, path)} has no array {key!r}; it holds {', '.join(arrays)}")
        return arrays[key]
    return read_npy(path, option=option)


def _label(option: str, path: Path) -> str:
    return f"{option} {path}" if option else str(path)


def read_trajectory(path: Path, topology: Path | None = None, *, option: str = "") -> list[np.ndarray]:
    """Read continuous frames from .npy/.npz (W,T,D | T,D | T), a whitespace table (.txt/.dat/PLUMED COLVAR),
    or an MD trajectory (.dcd/.xtc/... with ``topology``; backbone dihedral features via mdtraj).

    Every problem with the file (missing, empty, unreadable, wrong shape, NaN) names the path.
    """
    from tenfold.core.io import check_input_file

    path = Path(path)
    check_input_file(path, option=option, what="trajectory file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".npy", ".npz"):
            return as_walkers(load_array(path, option=option))
        if suffix in MD_SUFFIXES:
            return as_walkers(read_md_dihedrals(path, topology))
        try:
            table = np.loadtxt(path, comments=("#", "@"), ndmin=2)
        except ValueError as error:  # also UnicodeDecodeError: a binary file
            reason = " ".join(str(error).split())[:120]
            raise BadInputError(f"is not a numeric whitespace table ({reason}); give .npy frames or a table") from None
        return as_walkers(table)
    except BadInputError as error:
        text = str(error)
        if str(path) in text:
            raise
        raise BadInputError(f"{_label(option, path)}: {text}") from None

MD_SUFFIXES = (".dcd", ".xtc", ".trr", ".nc", ".h5", ".pdb", ".lh5", ".binpos")


def read_md_dihedrals(trajectory: Path, topology: Path | None = None) -> np.ndarray:
    """Backbone (sin, cos)(phi, psi) features of a real MD trajectory, read with mdtraj (optional extra).

    Returns (frames, 4 x residues-with-both-angles): the "high-dimensional" input of the paper.
    """
    from tenfold.core.io import check_input_file

    trajectory = check_input_file(trajectory, what="trajectory file")
    if topology is not None:
        check_input_file(topology, option="--topology", what="topology file")
    try:
        import mdtraj
    except ImportError:
        raise BadInputError(f"reading {trajectory.suffix} trajectories needs mdtraj (pip install mdtraj); "
                            "or save frames as a .npy (walkers, frames, features)") from None
    try:
        traj = mdtraj.load(str(trajectory), top=None if topology is None else str(topology))
    except Exception as error:  # mdtraj raises many kinds (OSError, ValueError, its own) on a bad file
        raise BadInputError(f"{trajectory} could not be read by mdtraj ({type(error).__name__}: {error}); "
                            "check the file and give --topology for formats without one") from None
    _, phi = mdtraj.compute_phi(traj)
    _, psi = mdtraj.compute_psi(traj)
    angles = np.concatenate([phi, psi], axis=1)
    if angles.shape[1] == 0:
        raise BadInputError(f"{trajectory} has no backbone phi/psi dihedrals")
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
