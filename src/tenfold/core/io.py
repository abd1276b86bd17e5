"""Files in and out, for every method: atomic writes, path checks before work, safe array/JSON readers.

Writes go to a temporary file beside the target and are renamed into place, so a reader (or an
interrupted command) never sees half a file. Paths a user names are checked before any work
starts, and every failure becomes a :class:`~tenfold.core.errors.TenfoldError` that names the
option, the path, what is wrong and the fix; an ``OSError`` never reaches the user as a traceback.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where arrays are read or written, so CLIs start fast
    import numpy as np

from tenfold.core.errors import BadConfigError, BadInputError, MissingDataError

# ---------------------------------------------------------------------------------------------
# Atomic writes


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def readable_mode(directory: bool = False) -> int:
    """The mode a normal ``open``/``mkdir`` would give; mkstemp/mkdtemp use 0600/0700 instead."""
    return (0o777 if directory else 0o666) & ~_umask()


@contextmanager
def atomic_file(path: Path, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block ends cleanly.

    ``mode`` sets the final permissions (default: what a plain ``open`` would give; 0o600 for
    secrets such as keystores). The temporary file is removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    try:
        yield Path(temporary)
        os.chmod(temporary, readable_mode() if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    with atomic_file(path, mode=mode) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` (UTF-8) so readers never see half a file."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def jsonable(value: Any) -> Any:
    """Plain JSON values from numpy/torch scalars and arrays, paths, enums; NaN and inf become None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def atomic_write_json(path: Path, data: Any, *, indent: int | None = 2) -> None:
    """JSON of :func:`jsonable` values (NaN and inf are written as null, never as invalid JSON)."""
    atomic_write_text(path, json.dumps(jsonable(data), indent=indent, ensure_ascii=False, allow_nan=False) + "\n")


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def atomic_save_npz(path: Path, arrays: Mapping[str, Any], *, compressed: bool = True) -> None:
    import numpy as np

    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(path, buffer.getvalue())


def atomic_save_safetensors(
    path: Path, tensors: Mapping[str, Any], *, metadata: Mapping[str, str] | None = None, mode: int | None = None
) -> None:
    """torch tensors to a .safetensors file (contiguous copies; metadata values must be strings)."""
    from safetensors.torch import save_file

    with atomic_file(path, mode=mode) as temporary:
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(temporary),
                  metadata=None if metadata is None else dict(metadata))


# Written into every folder atomic_directory publishes: a folder that holds anything else and lacks
# it was not made by tenfold, so replacing it could delete a user's files (``-o ~/Documents``).
OUTPUT_MARKER = ".tenfold-output"


def foreign_entries(path: Path, owned: Iterable[str] = ()) -> list[str]:
    """Names in an existing folder that a replacing command must not delete (none when tenfold made it)."""
    path = Path(path)
    if not path.is_dir():
        return []
    allowed = set(owned)
    marker = path / OUTPUT_MARKER
    if marker.is_file():  # the names tenfold wrote there; a file the user added since is still theirs
        allowed |= {OUTPUT_MARKER, *marker.read_text(encoding="utf-8", errors="replace").splitlines()[1:]}
    return sorted(child.name for child in path.iterdir() if child.name not in allowed)


def mark_output(folder: Path) -> None:
    """Record in ``folder`` that tenfold wrote it and which names are its own."""
    names = sorted(child.name for child in Path(folder).iterdir() if child.name != OUTPUT_MARKER)
    (Path(folder) / OUTPUT_MARKER).write_text(
        "written by tenfold; a later run may replace this folder if it holds only these names:\n"
        + "".join(f"{name}\n" for name in names), encoding="utf-8")


def _refuse_foreign(path: Path, option: str, foreign: list[str]) -> None:
    if foreign:
        raise BadInputError(
            f"{_label(option, path)} holds other files tenfold did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}) and the command replaces the whole folder; "
            "choose a new or empty folder"
        )


def publish_directory(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with renames only, so a reader sees the old or the new folder.

    A target that tenfold did not make (no marker) and that is not empty is refused, never deleted:
    the command-line checks this before any work, this is the last line of defence for library callers.
    """
    staging, target = Path(staging), Path(target)
    staging.chmod(readable_mode(directory=True))
    _refuse_foreign(target, "", foreign_entries(target))
    if target.exists():
        retired = target.with_name(f".{target.name}.old-{time.time_ns()}")
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(target)


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a staging folder beside ``target``; publish it as ``target`` when the block ends, or
    delete it if the block raises, so a failed command leaves no partial output folder."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        yield staging
        mark_output(staging)
        publish_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------------
# Paths named by the user, checked before any work starts


def _label(option: str, path: Path) -> str:
    return f"{option} {path}" if option else str(path)


def _check_name(path: Path, option: str) -> None:
    try:
        encoded = os.fsencode(str(path))
    except UnicodeEncodeError:
        raise BadInputError(f"{_label(option, path)!r}: the path is not valid text for this file system; rename it") from None
    if b"\x00" in encoded:
        raise BadInputError(f"{option}: the path contains a NUL byte; give a plain file name")
    limit = 255
    for part in Path(os.fsdecode(encoded)).parts:
        if len(os.fsencode(part)) > limit:
            raise BadInputError(f"{option}: the name {part[:40]!r}... is longer than {limit} bytes; use a shorter name")


def check_output_path(
    path: str | Path,
    *,
    option: str = "--output",
    kind: str = "file",
    suffixes: Iterable[str] = (),
    owned: Iterable[str] | None = None,
    replaced: bool = False,
) -> Path:
    """Check that ``path`` can be written as a ``kind`` ('file' or 'directory') before any work starts.

    Refused: a file path that is an existing folder, a folder path that is an existing file, a path
    below a file, a folder without write permission, a name the file system cannot hold, a wrong
    suffix. ``replaced`` is for commands that replace the whole folder (:func:`atomic_directory`): an
    existing folder must then be empty, made by tenfold (its marker file), or hold only the ``owned``
    names, so a user's other files are never deleted. Nothing is created here; the writers create missing parent folders at the end.
    """
    if kind not in ("file", "directory"):
        raise BadConfigError(f"check_output_path: kind must be 'file' or 'directory', got {kind!r}")
    path = Path(path)
    _check_name(path, option)
    if str(path) in ("", "."):
        raise BadInputError(f"{option}: give a {kind} path")
    wanted = tuple(s.lower() for s in suffixes)
    try:
        if kind == "file" and path.is_dir():
            raise BadInputError(f"{_label(option, path)} is a folder; give a file path such as {path / ('output' + (wanted[0] if wanted else ''))}")
        if wanted and path.suffix.lower() not in wanted:
            raise BadInputError(f"{_label(option, path)}: use a name ending in {' or '.join(wanted)}")
        if kind == "directory" and path.exists() and not path.is_dir():
            raise BadInputError(f"{_label(option, path)} is an existing file; give a folder path (a new or existing folder)")
        if kind == "directory" and (replaced or owned is not None):
            _refuse_foreign(path, option, foreign_entries(path, owned or ()))
        ancestor = path.parent if kind == "file" or not path.exists() else path
        while not ancestor.exists():
            if ancestor.is_symlink():
                raise BadInputError(f"{_label(option, path)}: {ancestor} is a broken link; fix or remove it")
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise BadInputError(f"{_label(option, path)}: {ancestor} is a file, not a folder; choose a path inside a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise BadInputError(f"{_label(option, path)}: no permission to write in {ancestor}; choose another folder")
    except OSError as error:
        raise BadInputError(f"{_label(option, path)}: {error.strerror or error}; choose another path") from None
    return path


def check_input_file(path: str | Path, *, option: str = "", suffixes: Iterable[str] = (), what: str = "file") -> Path:
    """An existing, readable, non-empty regular file (a folder, a missing path or an empty file is refused)."""
    path = Path(path)
    _check_name(path, option)
    label = _label(option, path)
    try:
        is_dir, exists, is_file = path.is_dir(), path.exists(), path.is_file()
        readable = os.access(path, os.R_OK)
        size = path.stat().st_size if is_file else None
    except OSError as error:
        raise BadInputError(f"{label}: {error.strerror or error}") from None
    if is_dir:
        raise BadInputError(f"{label} is a folder; give the {what} itself")
    if not exists:
        raise MissingDataError(f"{label} does not exist; check the path")
    if not is_file:
        raise BadInputError(f"{label} is not a regular file; give the {what} itself")
    if not readable:
        raise BadInputError(f"{label}: no permission to read it; fix its permissions")
    if size == 0:
        raise BadInputError(f"{label} is empty; give a {what} with content")
    wanted = tuple(s.lower() for s in suffixes)
    if wanted and path.suffix.lower() not in wanted:
        raise BadInputError(f"{label}: expected a {' or '.join(wanted)} file")
    return path


def check_input_dir(path: str | Path, *, option: str = "", what: str = "folder") -> Path:
    """An existing folder (a file, an archive or a missing path is refused with the right words)."""
    path = Path(path)
    _check_name(path, option)
    label = _label(option, path)
    if path.is_file():
        raise BadInputError(f"{label} is a file; give the {what} that holds the files (unpack archives first)")
    if not path.exists():
        raise MissingDataError(f"{label} does not exist; check the path")
    if not path.is_dir():
        raise BadInputError(f"{label} is not a folder; give the {what}")
    return path


# ---------------------------------------------------------------------------------------------
# Readers that turn every malformed file into one named error


def read_npy(path: str | Path, *, option: str = "") -> np.ndarray:
    """A numeric .npy array (no pickles): missing, empty, truncated or object arrays are refused."""
    import numpy as np

    path = check_input_file(path, option=option, what=".npy file")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise BadInputError(f"{_label(option, path)} is not a readable .npy array ({_short(error)}); save it with numpy.save") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise BadInputError(f"{_label(option, path)} is an .npz archive; give a single .npy array")
    return array


def read_npz(path: str | Path, *, option: str = "", required: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """All arrays of an .npz archive (no pickles), with ``required`` keys checked."""
    import numpy as np

    path = check_input_file(path, option=option, what=".npz file")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise BadInputError(f"{_label(option, path)} is a single .npy array; give an .npz archive (numpy.savez)")
        with archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, KeyError) as error:
        raise BadInputError(f"{_label(option, path)} is not a readable .npz archive ({_short(error)}); save it with numpy.savez") from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise BadInputError(
            f"{_label(option, path)} lacks the arrays {', '.join(missing)} (it has: {', '.join(arrays) or 'none'})"
        )
    return arrays


def read_json(path: str | Path, *, option: str = "", max_bytes: int = 64 * 2**20) -> Any:
    """A JSON document: invalid UTF-8, bad syntax, nesting too deep or huge numbers end in one named error."""
    path = check_input_file(path, option=option, what="JSON file")
    if path.stat().st_size > max_bytes:
        raise BadInputError(f"{_label(option, path)} is larger than {max_bytes // 2**20} MiB; give a smaller JSON file")
    try:
        return parse_json(path.read_bytes())
    except BadInputError as error:
        raise BadInputError(f"{_label(option, path)}: {error}") from None


def parse_json(data: bytes | str) -> Any:
    """``json.loads`` whose every failure is a BadInputError (syntax, encoding, depth, number size)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text)
    except UnicodeDecodeError:
        raise BadInputError("not UTF-8 text; save it as UTF-8 JSON") from None
    except json.JSONDecodeError as error:
        raise BadInputError(f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise BadInputError("JSON nested too deeply; flatten it") from None
    except ValueError as error:  # e.g. integers longer than Python's 4,300-digit limit
        raise BadInputError(f"JSON value out of range ({_short(error)})") from None


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:120] + "...") if len(text) > 120 else (text or type(error).__name__)
