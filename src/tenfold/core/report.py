"""Writing results: atomic ``out/<name>/result.json``, figures, a terminal table and ``out/index.html``."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

from tenfold.core.experiment import Result
from tenfold.core.io import atomic_write_json, atomic_write_text


def save_figure(figure: Any, directory: Path, filename: str, *, dpi: int = 110) -> str:
    """Save a matplotlib figure as PNG in ``directory``, close it, and return the file name for ``Result.figures``."""
    import matplotlib.pyplot as plt

    if not filename.endswith(".png"):
        filename += ".png"
    target = Path(directory) / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return filename


def result_payload(result: Result, *, paper: str = "", duration_s: float | None = None) -> dict[str, Any]:
    payload = result.to_json()
    payload["paper"] = paper
    payload["duration_s"] = None if duration_s is None else round(duration_s, 2)
    payload["all_required_passed"] = result.all_required_passed
    payload["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    return payload


def write_result(directory: Path, result: Result, *, paper: str = "", duration_s: float | None = None) -> Path:
    """Atomically write ``directory/result.json``; the figures named in it must already be there."""
    missing = [f for f in result.figures if not (Path(directory) / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{result.name}: figures listed but not written: {', '.join(missing)}")
    path = Path(directory) / "result.json"
    atomic_write_json(path, result_payload(result, paper=paper, duration_s=duration_s))
    return path


def read_result(directory: Path) -> dict[str, Any] | None:
    """The stored result.json of one experiment, or None if there is none (or it is unreadable)."""
    path = Path(directory) / "result.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def verdict(claim: dict[str, Any]) -> str:
    """pass, FAIL, UNDECIDED, UNMEASURED or n/a, with "(soft)" for claims the spec calls soft."""
    passed = claim.get("passed")
    if passed is None:
        label = "n/a"
    elif passed:
        label = "pass"
    else:
        label = {"undecided": "UNDECIDED", "unmeasured": "UNMEASURED"}.get(claim.get("verdict", ""), "FAIL")
    return label if claim.get("required", True) else f"{label} (soft)"


def measured_text(claim: dict[str, Any]) -> str:
    """The point estimate, with its interval and replicate count when the claim was decided on one."""
    text = format_value(claim.get("measured"))
    bounds = claim.get("interval")
    if bounds:
        text += f" [{format_value(bounds[0])}, {format_value(bounds[1])}]"
    if claim.get("n"):
        text += f" n={claim['n']}"
    if claim.get("detail"):
        text += f" ({claim['detail']})"
    return text


def print_table(results: list[dict[str, Any]], failures: dict[str, str], console: Any = None) -> None:
    """One row per claim: method, claim, paper, measured, threshold, verdict; then failed experiments."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="tenfold reproduction", show_lines=False)
    for column in ("method", "claim", "paper", "measured", "threshold", "pass"):
        table.add_column(column, overflow="fold")
    for result in results:
        for claim in result.get("claims", []):
            mark = verdict(claim)
            style = "green" if claim.get("passed") else ("red" if claim.get("passed") is False else "yellow")
            table.add_row(
                result["name"],
                claim["id"],
                format_value(claim.get("paper_value")),
                measured_text(claim),
                claim.get("threshold", ""),
                f"[{style}]{mark}[/{style}]" + (f" {claim['reason']}" if claim.get("reason") and claim.get("passed") is not True else ""),
            )
    for name, error in failures.items():
        table.add_row(name, "(experiment failed)", "-", "-", "-", f"[red]ERROR: {error}[/red]")
    console.print(table)


def _embed_png(path: Path) -> str | None:
    try:
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return None


def write_index(out: Path, results: list[dict[str, Any]], failures: dict[str, str], *, scale: str) -> Path:
    """Write a self-contained ``out/index.html``: every method, each claim paper vs measured, every figure."""
    out = Path(out)
    environment = Environment(
        loader=PackageLoader("tenfold.core", "templates"), autoescape=True
    )
    environment.filters["value"] = format_value
    environment.filters["verdict"] = verdict
    environment.filters["measured"] = measured_text
    sections = []
    for result in results:
        figures = []
        for name in result.get("figures", []):
            data = _embed_png(out / result["name"] / name)
            figures.append({"name": name, "data": data})
        sections.append({**result, "embedded_figures": figures})
    claims = [c for r in results for c in r.get("claims", [])]
    summary = {
        "experiments": len(results),
        "failed_experiments": len(failures),
        "claims": len(claims),
        "passed": sum(1 for c in claims if c.get("passed") is True),
        "failed_required": sum(1 for c in claims if c.get("passed") is False and c.get("required", True)),
        "failed_soft": sum(1 for c in claims if c.get("passed") is False and not c.get("required", True)),
        "not_measured": sum(1 for c in claims if c.get("passed") is None),
    }
    html = environment.get_template("index.html.j2").render(
        sections=sections,
        failures=failures,
        summary=summary,
        scale=scale,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    path = out / "index.html"
    atomic_write_text(path, html)
    return path
