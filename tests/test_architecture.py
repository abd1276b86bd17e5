"""The shape every method keeps (ARCHITECTURE.md): checked on the code, so drift fails the suite."""

import ast
import importlib
import io
import math
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from tenfold.core.experiment import METHODS, ClaimSpec, Scale, Settings, get_experiment, load_experiments
from tenfold.core.intervals import Samples

SOURCE = Path(__file__).resolve().parents[1] / "src" / "tenfold"


def _python_files(method: str) -> list[Path]:
    return sorted((SOURCE / method).rglob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("tenfold."):
            names.add(node.value)  # lazy imports by name (importlib, PEP 562 tables)
    return names


@pytest.mark.parametrize("method", METHODS)
def test_no_method_imports_another(method):
    others = {m for m in METHODS if m != method}
    for path in _python_files(method):
        for name in _imported_modules(path):
            parts = name.split(".")
            assert not (len(parts) > 1 and parts[0] == "tenfold" and parts[1] in others), (
                f"{path.relative_to(SOURCE)} imports {name}: methods share code only through tenfold.core"
            )


@pytest.mark.parametrize("method", METHODS)
def test_every_method_has_experiment_and_cli_with_settings_and_claims(method):
    assert (SOURCE / method / "experiment.py").is_file() and (SOURCE / method / "cli.py").is_file()
    module = importlib.import_module(f"tenfold.{method}.experiment")
    settings, claims = module.SETTINGS, module.CLAIMS
    assert set(settings) == set(Scale) and all(isinstance(v, Settings) for v in settings.values())
    assert claims and all(isinstance(c, ClaimSpec) for c in claims)
    load_experiments()
    spec = get_experiment(method)
    assert spec.claims == tuple(claims) and dict(spec.settings) == dict(settings), (
        f"{method}: the registered declarations must be the module's SETTINGS and CLAIMS"
    )


def _field_comments(cls: type) -> dict[str, bool]:
    """For each annotated field of a dataclass body: is there a comment on its line or the line above?"""
    import inspect

    source = inspect.getsource(cls)
    comments = {token.start[0] for token in tokenize.generate_tokens(io.StringIO(source).readline)
                if token.type == tokenize.COMMENT}
    body = ast.parse(source).body[0]
    found = {}
    for node in body.body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node.lineno in comments or (node.lineno - 1) in comments
    return found


@pytest.mark.parametrize("method", METHODS)
def test_every_settings_field_is_commented(method):
    module = importlib.import_module(f"tenfold.{method}.experiment")
    for cls in {type(v) for v in module.SETTINGS.values()}:
        uncommented = [name for name, ok in _field_comments(cls).items() if not ok]
        assert not uncommented, f"{method}: {cls.__name__} fields without a comment: {', '.join(uncommented)}"


def _failing_measurement(claim: ClaimSpec):
    """A measurement on the wrong side of the claim's declared rule."""
    if claim.op == "holds":
        return False
    if claim.op == "between":
        low, high = claim.threshold
        point = high * 2 + 1 if not claim.log_ratio else high * 2
    else:
        bound = float(claim.threshold)
        if claim.log_ratio:
            point = bound / 2 if claim.op in (">=", ">") else bound * 2
        else:
            step = abs(bound) + 1.0
            point = bound - step if claim.op in (">=", ">") else bound + step
    if claim.over is None:
        return point
    value = math.log(point) if claim.log_ratio else point
    return Samples([value] * max(claim.min_samples, 3))


@pytest.mark.parametrize("method", METHODS)
def test_no_claim_can_pass_by_identity(method):
    module = importlib.import_module(f"tenfold.{method}.experiment")
    for claim in module.CLAIMS:
        verdict = claim.evaluate(_failing_measurement(claim), Scale.FULL)
        assert verdict.passed is False, f"{method}.{claim.id} passed a failing measurement"
        unmeasured = claim.evaluate(None, Scale.FULL)
        assert unmeasured.passed is False, f"{method}.{claim.id} passed without a measurement"


@pytest.mark.parametrize("method", METHODS)
def test_experiments_leave_torch_threads_to_the_runner(method):
    text = (SOURCE / method / "experiment.py").read_text(encoding="utf-8")
    assert "set_num_threads" not in text, f"{method}/experiment.py sets torch threads; declare Settings.threads instead"


# Saving through a temp file and a rename lives in tenfold.core.io; a method that writes files itself
# is the fifth copy the foundation review found.
HAND_ROLLED_WRITES = ("os.replace(", "mkstemp(", "np.savez(", "np.savez_compressed(", "np.save(", "save_file(")


@pytest.mark.parametrize("method", METHODS)
def test_methods_write_files_through_core_io(method):
    for path in _python_files(method):
        text = path.read_text(encoding="utf-8")
        for pattern in HAND_ROLLED_WRITES:
            assert pattern not in text, f"{path.relative_to(SOURCE)} calls {pattern[:-1]}; use tenfold.core.io"


def _modules_with_all() -> list[str]:
    """Every package and module under src/tenfold that declares ``__all__``."""
    names = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        declares = any(
            isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets)
            for node in tree.body
        )
        if declares:
            parts = path.relative_to(SOURCE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("module_name", _modules_with_all())
def test_every_public_name_resolves(module_name):
    module = importlib.import_module(module_name)
    for name in getattr(module, "__all__", []):
        assert getattr(module, name, None) is not None, f"{module_name}.__all__ names {name}, which does not resolve"


HEAVY = ("torch", "scipy", "sklearn", "pandas", "matplotlib", "numba", "transformers", "cv2", "h5py")


def test_the_command_line_loads_without_heavy_libraries():
    """Importing every method's cli.py and building the whole command tree imports none of the heavy
    libraries, so `tenfold --help` and `tenfold <method> --help` start at once."""
    code = (
        "import sys, typer\n"
        "import tenfold.cli as cli\n"
        "cli._mount_method_commands()\n"
        "typer.main.get_command(cli.app)\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not cli._MOUNT_ERRORS, cli._MOUNT_ERRORS\n"
        "print(','.join(heavy))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "", f"importing the CLI pulled in: {completed.stdout.strip()}"


def test_one_output_option_name_across_the_commands():
    import typer

    import tenfold.cli as cli

    cli._mount_method_commands()
    root = typer.main.get_command(cli.app)
    spelled = []

    def walk(command, path):
        for param in getattr(command, "params", []):
            for option in getattr(param, "opts", []):
                if option in ("--out", "--output-dir", "--out-dir", "--save", "--dest"):
                    spelled.append(f"{' '.join(path)} {option}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, ["tenfold"])
    assert not spelled, f"use -o/--output for outputs: {spelled}"
