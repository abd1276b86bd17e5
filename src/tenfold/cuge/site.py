"""The static leaderboard site: one self-contained HTML page (inline CSS, vanilla JS, inline SVG radar).

No CDN assets, so the page works offline and from a file:// URL; the embedded JSON carries the
raw per-dataset scores so ticking capabilities/datasets recomputes the Index in the browser.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from tenfold.core.io import atomic_write_text
from tenfold.cuge.board import board_json
from tenfold.cuge.comparison import RULES
from tenfold.cuge.registry import Registry
from tenfold.cuge.scoring import format_cell, round_half_up


def radar_svg(values: dict[str, float | None], *, size: int = 220, ceiling: float | None = None) -> str:
    """A polygon radar of normalised capability scores, with the baseline (=100) ring dashed."""
    labels = list(values)
    if len(labels) < 3:
        return ""
    finite = [v for v in values.values() if v is not None]
    top = ceiling or max([100.0, *finite]) * 1.1
    centre, radius = size / 2, size / 2 - 28

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / len(labels)
        r = radius * max(value, 0.0) / top
        return centre + r * math.cos(angle), centre + r * math.sin(angle)

    ring = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, 100.0) for i in range(len(labels))))
    shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, values[k] or 0.0) for i, k in enumerate(labels)))
    text = []
    for i, k in enumerate(labels):
        x, y = point(i, top * 1.12)
        text.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" text-anchor="middle">{escape(k)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" aria-label="radar">'
            f'<polygon points="{ring}" fill="none" stroke="#999" stroke-dasharray="3 3"/>'
            f'<polygon points="{shape}" fill="rgba(33,150,243,0.25)" stroke="#1976d2"/>{"".join(text)}</svg>')


def page_data(board: dict[str, Any], scores: list[dict[str, Any]], registry: Registry) -> dict[str, Any]:
    """What the page's script needs to recompute exactly what the Python scorer does: the hierarchy of
    the selected datasets, the sibling weights, chance levels, the partial-row rule and raw scores."""
    chosen = set(board["selection"])
    tasks = [{"code": t.code, "capability": t.capability, "datasets": [d for d in t.datasets if d in chosen]}
             for t in registry.tasks.values() if any(d in chosen for d in t.datasets)]
    systems = [{"system": s["system"], "raw": {d: s["raw"].get(d) for d in board["selection"]}} for s in scores]
    return {"capabilities": board["capabilities"], "tasks": tasks, "baseline": board["baseline"], "systems": systems,
            "weights": board["weights"], "allow_partial": board["allow_partial"], "selection": board["selection"],
            "chance": {d["name"]: d.get("chance") for d in board["datasets"]}}


# Inside <script>, the HTML parser ends the element at "</script", and "<!--" followed by "<script"
# switches it into a state where "</script>" no longer closes it; U+2028/9 end a line in older JS.
# Escaping these characters inside JSON strings keeps the same data and leaves the parser nothing to see.
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data: Any) -> str:
    """JSON text that is safe to embed in an HTML <script> element whatever strings it holds."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, allow_nan=False)
    return text.translate(str.maketrans(_SCRIPT_ESCAPES))


def render_page(board: dict[str, Any], scores: list[dict[str, Any]], registry: Registry) -> str:
    """The board as one HTML page."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("tenfold.cuge", "templates"), autoescape=select_autoescape(["html", "j2"]))
    radars = {row["system"]: radar_svg({c: v.get("norm") for c, v in row["tree"].items()}) for row in board["rows"]}
    return env.get_template("board.html.j2").render(
        board=board, radars=radars, data_json=script_json(page_data(board, scores, registry)),
        rules=RULES, rules_json=script_json(list(RULES)),
        cells=lambda node: format_cell(node.get("raw"), node.get("norm")),
        fmt2=lambda value: "-" if value is None else str(round_half_up(value, 2)),
    )


def write_site(out: str | Path, board: dict[str, Any], scores: list[dict[str, Any]], registry: Registry) -> Path:
    """Write ``index.html``, ``leaderboard.json`` and ``leaderboard.csv`` into ``out`` (each file atomically)."""
    from tenfold.cuge.board import board_csv

    out = Path(out)
    atomic_write_text(out / "leaderboard.json", board_json(board))
    atomic_write_text(out / "leaderboard.csv", board_csv(board))
    atomic_write_text(out / "index.html", render_page(board, scores, registry))
    return out / "index.html"
