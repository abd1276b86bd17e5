"""The submission checker and scorer for the one-file-per-dataset layout (``<Dataset>.jsonl``).

A benchmark data folder holds ``<Dataset>/{train,valid,test_public,test_private}.jsonl``; a
submission folder (or a zip of one) holds ``<Dataset>.jsonl`` predictions for some or all datasets
plus an optional ``metadata.json``. Every problem is a SubmissionError naming file, line and fix.
Names that end up in file names, pages and CSV cells (the system name, metadata fields) are checked
here once: bounded length, valid UTF-8 text, no control or invisible characters.
"""

from __future__ import annotations

import difflib
import math
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tenfold.core.errors import MissingDataError
from tenfold.core.io import check_input_dir, parse_json
from tenfold.cuge.adapters import ADAPTERS, Adapter
from tenfold.cuge.jsonl import SubmissionError, read_jsonl
from tenfold.cuge.metrics import metric_versions
from tenfold.cuge.registry import Registry
from tenfold.cuge.scoring import SCORING_VERSION

METADATA_FILE = "metadata.json"
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_FILES = 64
# metadata.json is a few named fields; a larger file is a mistake or an attempt to bloat the score store.
MAX_METADATA_BYTES = 64 * 1024
MAX_SYSTEM_CHARS = 100
# Text fields kept from metadata.json and their length limits (characters); anything else is dropped.
METADATA_TEXT_FIELDS: dict[str, int] = {
    "system": MAX_SYSTEM_CHARS, "organisation": 200, "description": 2000, "date": 40, "url": 500,
    "model": 200, "parameters": 100, "contact": 200,
}
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
# Unicode categories refused in names: controls, surrogates, private use, unassigned, and format
# characters (zero-width and bidi controls), which make two different names look identical.
_REFUSED_CATEGORIES = {"Cc", "Cs", "Co", "Cn", "Cf"}


def check_text(value: Any, what: str, *, limit: int, allow_newlines: bool = False) -> str:
    """A bounded, printable UTF-8 string (refuses lone surrogates, controls and invisible characters)."""
    if not isinstance(value, str):
        raise SubmissionError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise SubmissionError(f"{what} is {len(value)} characters long; the limit is {limit}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SubmissionError(f"{what} {value[:40]!r} is not valid UTF-8 text (a lone surrogate); fix the encoding") from None
    for char in value:
        if allow_newlines and char in "\n\t":
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise SubmissionError(f"{what} {value[:40]!r} holds the control or invisible character "
                                  f"U+{ord(char):04X}; use visible characters only")
    return value


def check_system_name(value: Any, what: str = "system name") -> str:
    """The name a row is shown and stored under: 1-100 visible characters, trimmed."""
    name = check_text(value, what, limit=MAX_SYSTEM_CHARS)
    if not name.strip():
        raise SubmissionError(f"{what} is empty; give the system a name")
    if name != name.strip():
        raise SubmissionError(f"{what} {name!r} starts or ends with spaces; trim it")
    return name


def system_key(name: str) -> str:
    """The identity two system names share when a reader could not tell them apart (case, width, spaces)."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass
class SubmissionScore:
    """Per-dataset metrics of one submission; ``raw`` holds each dataset's primary metric (0-100)."""

    system: str
    datasets: dict[str, dict[str, float]]
    raw: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self, registry: Registry) -> dict[str, Any]:
        """The stored score file: scores plus every version that produced them."""
        return {
            "system": self.system,
            "registry": registry.name,
            "registry_version": registry.version,
            "metric_versions": metric_versions(),
            "scoring_version": SCORING_VERSION,
            "metadata": self.metadata,
            "raw": self.raw,
            "datasets": self.datasets,
            "missing": self.missing,
            "warnings": self.warnings,
        }


def _adapter(registry: Registry, dataset: str) -> Adapter:
    name = registry.datasets[dataset].adapter
    if name is None or name not in ADAPTERS:
        raise SubmissionError(f"dataset {dataset!r} has no file adapter in registry {registry.name}; "
                              f"only datasets with an adapter can be checked offline")
    return ADAPTERS[name]


def prediction_files(submission: Path, registry: Registry) -> dict[str, Path]:
    """Map dataset -> prediction file; an unknown file name is refused with the closest known name."""
    check_input_dir(submission, what="submission folder (or a .zip of it)")
    known = {f"{d}.jsonl": d for d in registry.datasets}
    lowered = {k.lower(): k for k in known}
    found: dict[str, Path] = {}
    for path in sorted(submission.iterdir()):
        if path.name == METADATA_FILE or path.name.startswith("."):
            continue
        if path.is_dir():
            raise SubmissionError(f"{path.name}/ is a folder; a submission holds only <Dataset>.jsonl files")
        if path.name.lower().endswith(ARCHIVE_SUFFIXES):
            raise SubmissionError(f"{path.name}: nested archives are refused; unpack it into the submission")
        if path.name in known:
            found[known[path.name]] = path
            continue
        close = difflib.get_close_matches(path.name.lower(), list(lowered), n=1, cutoff=0.6)
        hint = f"; did you mean {lowered[close[0]]}?" if close else f"; expected names like {next(iter(known))}"
        raise SubmissionError(f"unknown prediction file {path.name[:80]!r}{hint}")
    if not found:
        raise MissingDataError(f"{submission} holds no <Dataset>.jsonl prediction files for {registry.name}")
    return found


def read_metadata(submission: Path, *, required: bool) -> tuple[dict[str, Any], list[str]]:
    """``metadata.json`` ({system, organisation, honour_code: true, ...}) checked field by field.

    Returns the kept fields and warnings (unknown keys are dropped, never stored).
    """
    path = submission / METADATA_FILE
    if not path.exists():
        if required:
            raise SubmissionError(f"{METADATA_FILE} is missing; it must name the system and set honour_code: true")
        return {}, []
    if not path.is_file():
        raise SubmissionError(f"{METADATA_FILE} is not a file")
    size = path.stat().st_size
    if size > MAX_METADATA_BYTES:
        raise SubmissionError(f"{METADATA_FILE} is {size} bytes; the limit is {MAX_METADATA_BYTES} (a few named fields)")
    try:
        meta = parse_json(path.read_bytes())
    except SubmissionError:
        raise
    except Exception as error:  # BadInputError from parse_json: encoding, syntax, depth, number size
        raise SubmissionError(f"{METADATA_FILE}: {error}") from None
    if not isinstance(meta, dict):
        raise SubmissionError(f"{METADATA_FILE} must be a JSON object with a non-empty 'system'")
    kept: dict[str, Any] = {}
    dropped = []
    for key, value in meta.items():
        if key in METADATA_TEXT_FIELDS:
            if key == "system":
                kept[key] = check_system_name(value, f"{METADATA_FILE} 'system'")
            else:
                kept[key] = check_text(value, f"{METADATA_FILE} {key!r}", limit=METADATA_TEXT_FIELDS[key],
                                       allow_newlines=key == "description")
        elif key == "honour_code":
            if not isinstance(value, bool):
                raise SubmissionError(f"{METADATA_FILE}: honour_code must be true or false")
            kept[key] = value
        elif key == "seed":
            if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= 2**63:
                raise SubmissionError(f"{METADATA_FILE}: seed must be an integer")
            kept[key] = value
        else:
            dropped.append(key)
    if "system" not in kept:
        raise SubmissionError(f"{METADATA_FILE} must be an object with a non-empty 'system'")
    if required and kept.get("honour_code") is not True:
        raise SubmissionError(f"{METADATA_FILE}: honour_code must be true (no human labels of the test set were used)")
    warnings = []
    if dropped:
        names = ", ".join(repr(k[:30]) for k in dropped[:5]) + (" ..." if len(dropped) > 5 else "")
        warnings.append(f"{METADATA_FILE}: ignored unknown field(s) {names}")
    return kept, warnings


def _gold(data_dir: Path, dataset: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    folder = data_dir / dataset
    public, private = folder / "test_public.jsonl", folder / "test_private.jsonl"
    if not public.is_file() or not private.is_file():
        raise MissingDataError(f"benchmark data for {dataset} not found: expected {public} and {private} "
                               f"(build CUGE-mini with `tenfold cuge mini build`)")
    return read_jsonl(public), read_jsonl(private)


def _check_id(value: Any, where: str) -> Any:
    # ids index dictionaries and are echoed in messages: only strings and integers are meaningful
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SubmissionError(f"{where}: 'id' must be a string or an integer, got {type(value).__name__}")
    if isinstance(value, int) and abs(value) >= 2**63:
        raise SubmissionError(f"{where}: 'id' {str(value)[:20]}... is out of range; ids are short strings or integers")
    return value


def check_predictions(path: Path, dataset: str, adapter: Adapter, public: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate one prediction file against the public inputs; returns predictions in input order."""
    records = read_jsonl(path)
    by_id: dict[Any, dict[str, Any]] = {}
    duplicates = []
    for number, record in enumerate(records, start=1):
        if "id" not in record:
            raise SubmissionError(f"{path.name} line {number}: no 'id' field")
        key = _check_id(record["id"], f"{path.name} line {number}")
        if key in by_id:
            duplicates.append(key)
        by_id[key] = record
    for number, source in enumerate(public, start=1):
        _check_id(source.get("id"), f"{dataset}/test_public.jsonl line {number}")
    expected = [r["id"] for r in public]
    if duplicates:
        raise SubmissionError(f"{path.name}: duplicate ids (first 10): {duplicates[:10]}")
    expected_set = set(expected)
    missing = [i for i in expected if i not in by_id]
    extra = [i for i in by_id if i not in expected_set]
    if missing or extra or len(records) != len(expected):
        raise SubmissionError(
            f"{path.name}: {len(records)} records for {len(expected)} test inputs; "
            f"missing ids (first 10): {missing[:10]}; extra ids (first 10): {extra[:10]}"
        )
    warnings = []
    ordered = []
    line_of = {r["id"]: n for n, r in enumerate(records, start=1)}
    empty = 0
    for source in public:
        record = by_id[source["id"]]
        if adapter.field not in record:
            raise SubmissionError(f"{path.name} line {line_of[source['id']]}: no {adapter.field!r} field")
        problem = adapter.check(record[adapter.field], source)
        if problem:
            raise SubmissionError(f"{path.name} line {line_of[source['id']]} (id {source['id']!r}): {problem}")
        if adapter.empty_is_warning and not str(record[adapter.field]).strip():
            empty += 1
        ordered.append(record)
    if empty:
        warnings.append(f"{dataset}: {empty} empty predictions scored as 0")
    return ordered, warnings


@contextmanager
def submission_folder(submission: str | Path) -> Iterator[Path]:
    """The submission as a folder: a folder as is, a zip unpacked (safely) into a temporary folder."""
    submission = Path(submission)
    if submission.is_file():
        if not zipfile.is_zipfile(submission):
            raise SubmissionError(f"{submission} is a file but not a zip archive; give the submission folder "
                                  f"or a .zip of its <Dataset>.jsonl files")
        with tempfile.TemporaryDirectory(prefix="cuge-submission-") as temporary:
            yield safe_extract_zip(submission, Path(temporary) / "submission")
        return
    check_input_dir(submission, what="submission folder (or a .zip of it)")
    yield submission


def score_submission(submission: str | Path, data_dir: str | Path, registry: Registry, *,
                     system: str | None = None, require_metadata: bool = False) -> SubmissionScore:
    """Validate every prediction file and compute each dataset's metrics (partial submissions allowed).

    ``submission`` is a folder or a zip of one; the system name comes from ``system``, else
    metadata.json, else the folder's name.
    """
    submission, data_dir = Path(submission), Path(data_dir)
    check_input_dir(data_dir, what="benchmark data folder")
    if system is not None:
        system = check_system_name(system, "--system")
    with submission_folder(submission) as folder:
        files = prediction_files(folder, registry)
        meta, warnings = read_metadata(folder, required=require_metadata)
        name = system or meta.get("system") or check_system_name(submission.stem if submission.is_file() else submission.name,
                                                                 f"system name (from {submission.name!r}; pass --system)")
        datasets: dict[str, dict[str, float]] = {}
        raw: dict[str, float] = {}
        for dataset, path in files.items():
            adapter = _adapter(registry, dataset)
            public, private = _gold(data_dir, dataset)
            predictions, notes = check_predictions(path, dataset, adapter, public)
            gold_by_id = {g.get("id"): g for g in private}
            absent = [p["id"] for p in public if p["id"] not in gold_by_id]
            if absent:
                raise SubmissionError(f"{dataset}: test_private.jsonl lacks ids {absent[:10]} of test_public.jsonl; "
                                      f"the benchmark build is broken")
            gold = [gold_by_id[p["id"]] for p in public]
            values = adapter.score(predictions, gold)
            metric = registry.datasets[dataset].metric
            if not math.isfinite(values[metric]):
                raise SubmissionError(f"{dataset}: metric {metric} is not finite")
            datasets[dataset] = values
            raw[dataset] = values[metric]
            warnings.extend(notes)
            if adapter.name == "translation" and values.get("prediction_cjk_ratio", 100) < 30:
                warnings.append(f"{dataset}: predictions are mostly non-Chinese; are source and target reversed?")
    missing = [d for d in registry.datasets if d not in files]
    return SubmissionScore(name, datasets, raw, warnings, missing, meta)


# Everything zipfile and zlib raise on a damaged or hostile member (a header that lies about sizes
# or CRCs, an unsupported compression method, encryption, a truncated stream).
_ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError)


def _member_name(member: zipfile.ZipInfo) -> str:
    path = PurePosixPath(member.filename.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or member.filename.startswith(("/", "\\")):
        raise SubmissionError(f"zip member {member.filename[:80]!r} escapes the archive (zip-slip); refused")
    if (member.external_attr >> 16) & 0o170000 == 0o120000:
        raise SubmissionError(f"zip member {member.filename[:80]!r} is a symbolic link; refused")
    name = path.name
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        raise SubmissionError(f"zip member {member.filename[:80]!r} is a nested archive; refused")
    if len(name.encode("utf-8", "replace")) > 128 or any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in name):
        raise SubmissionError(f"zip member {member.filename[:80]!r} has a name no submission file has "
                              f"(over 128 bytes or with control characters); refused")
    return name


def safe_extract_zip(archive: str | Path, destination: str | Path, *, max_bytes: int = MAX_UNPACKED_BYTES,
                     max_files: int = MAX_FILES) -> Path:
    """Unpack a submission zip, refusing zip-slip paths, links, nested archives, two members with the
    same file name, damaged members and oversized content. Files are flattened to their base names."""
    destination = Path(destination)
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise SubmissionError(f"the upload is not a readable zip archive: {error}") from None
    with bundle:
        members = [m for m in bundle.infolist() if not m.is_dir()]
        if len(members) > max_files:
            raise SubmissionError(f"the zip holds {len(members)} files; at most {max_files} are accepted")
        total = sum(m.file_size for m in members)
        if total > max_bytes:
            raise SubmissionError(f"the zip unpacks to {total} bytes; the limit is {max_bytes}")
        names: dict[str, str] = {}
        for member in members:
            name = _member_name(member)
            other = names.get(name.casefold())
            if other is not None:
                raise SubmissionError(f"zip members {other[:80]!r} and {member.filename[:80]!r} both unpack to "
                                      f"{name!r}; a submission holds one file per dataset")
            names[name.casefold()] = member.filename
        contents: list[tuple[str, bytes]] = []
        for member in members:
            try:
                with bundle.open(member) as source:
                    data = source.read(max_bytes + 1)
            except _ZIP_READ_ERRORS as error:
                raise SubmissionError(f"zip member {member.filename[:80]!r} cannot be read ({error}); "
                                      f"re-create the zip") from None
            if len(data) > member.file_size or len(data) > max_bytes:
                raise SubmissionError(f"zip member {member.filename[:80]!r} is larger than its header says; refused")
            contents.append((_member_name(member), data))
        destination.mkdir(parents=True, exist_ok=True)
        for name, data in contents:
            (destination / name).write_bytes(data)
    return destination
