"""The leaderboard page in a real browser (Debian chromium driven by playwright): ticking capabilities and
switching the aggregation re-rank the rows exactly as ``tenfold cuge score`` does (registry weights, a
partial row under ``--allow-partial``), the rule comparison follows the selection, and a hostile system
name renders as text without breaking the page's script."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tenfold.cuge.board import build_leaderboard, load_scores
from tenfold.cuge.registry import Registry
from tenfold.cuge.scoring import rank_rows, round_half_up

HOSTILE = "<!--<script>"
HOSTILE_ORG = '</script><img src=x onerror="document.body.dataset.pwned=1">'


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium executable on PATH (`apt-get install chromium`; .ci/run installs it on Debian)")


@pytest.fixture
def board_site(tiny, make_submission, cli, tmp_path):
    """Score five submissions with the CLI into a store and write the site with --allow-partial."""
    subs = tiny["root"] / "subs"
    systems = {
        "base": tiny["base"],
        "alpha": make_submission(subs / "alpha", cloze=4, polarity=4, ranking=1, headline=2),
        "beta": make_submission(subs / "beta", cloze=1, polarity=2, ranking=2, headline=0),
        HOSTILE: make_submission(subs / "hostile", cloze=3, polarity=3, ranking=2, headline=1,
                                 metadata={"system": HOSTILE, "organisation": HOSTILE_ORG}),
        "partial": make_submission(subs / "partial", cloze=4, polarity=4, ranking=2, headline=None),
    }
    store = tmp_path / "store"
    common = ["--data", tiny["data"], "--registry", tiny["registry"]]
    for number, (system, folder) in enumerate(systems.items()):
        outcome = cli(["cuge", "score", folder, *common, "--system", system, "-o", store / f"s{number}.json"])
        assert outcome.code == 0, outcome.err
    site = tmp_path / "site"
    outcome = cli(["cuge", "board", "-o", site, "--scores", store, "--registry", tiny["registry"], "--allow-partial"])
    assert outcome.code == 0, outcome.err
    return {"systems": systems, "store": store, "site": site, "common": common}


def _expected(cli, site_info, tmp_path, capabilities: list[str], mode: str) -> dict[str, tuple[str, str]]:
    """{system: (rank text, Index text)} from `tenfold cuge score --baseline --select --mode` per system;
    a partial row is scored over the selected datasets it has, as --allow-partial ranks it."""
    registry_datasets = {"U": ["MiniCloze", "MiniPolarity"], "R": ["MiniRetrieval"], "G": ["MiniHeadline"]}
    chosen = [d for c in capabilities for d in registry_datasets[c]]
    indices, texts = {}, {}
    for number, (system, folder) in enumerate(site_info["systems"].items()):
        have = [d for d in chosen if (folder / f"{d}.jsonl").exists()]
        out = tmp_path / "expected" / f"{mode}-{'-'.join(capabilities)}-{number}.json"
        outcome = cli(["cuge", "score", folder, *site_info["common"], "--system", system, "-o", out,
                       "--baseline", site_info["store"] / "s0.json", "--select", ",".join(f"ds:{d}" for d in have),
                       "--mode", mode])
        assert outcome.code == 0, outcome.err
        index = json.loads(out.read_text(encoding="utf-8"))["tree"]["index"]
        partial = len(have) < len(chosen)
        texts[system] = f"{round_half_up(index)} (partial)" if partial else str(round_half_up(index))
        if system != "base":
            indices[system] = index
    ranks = rank_rows(indices)
    return {s: ("baseline" if s == "base" else str(ranks[s]), texts[s]) for s in texts}


READ_ROWS = """() => [...document.querySelectorAll('#board tbody tr[data-system]')].map(tr => ({
    system: tr.dataset.system, name: tr.querySelector('td.name').textContent,
    org: tr.querySelectorAll('td.name')[1].textContent,
    rank: tr.querySelector('td.rank').textContent, index: tr.querySelector('td.index').textContent}))"""
READ_COMPARISON = """() => [...document.querySelectorAll('#comparison tbody tr')].map(tr =>
    [...tr.querySelectorAll('td')].map(td => td.textContent))"""


def test_board_page_in_chromium(board_site, cli, tiny, tmp_path):
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    registry = Registry.load(tiny["registry"])
    scores = load_scores(board_site["store"])
    errors: list[str] = []
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto((board_site["site"] / "index.html").as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=10_000)  # the script ran to the end

            def check(capabilities: list[str], mode: str) -> list[dict]:
                rows = page.evaluate(READ_ROWS)
                expected = _expected(cli, board_site, tmp_path, capabilities, mode)
                shown = {r["system"]: (r["rank"], r["index"]) for r in rows}
                assert shown == expected, f"{capabilities} {mode}"
                ranked = [r["system"] for r in rows if r["rank"] not in ("baseline", "-")]
                assert ranked == sorted(ranked, key=lambda s: int(expected[s][0]))  # rows are in rank order
                board = build_leaderboard(scores, registry, mode=mode, allow_partial=True,
                                          selection=[f"cap:{c}" for c in capabilities])
                table = page.evaluate(READ_COMPARISON)
                comparison = board.get("comparison")
                want = [] if comparison is None else [
                    [s, *(f"#{comparison['ranks'][rule][s]} ({round_half_up(comparison['aggregates'][rule][s], 2)})"
                          for rule in comparison["ranks"])] for s in comparison["systems"]]
                assert table == want, f"comparison table for {capabilities} {mode}"
                return rows

            rows = check(["U", "R", "G"], "mean")
            hostile = next(r for r in rows if r["system"] == HOSTILE)
            assert hostile["name"] == HOSTILE and hostile["org"] == HOSTILE_ORG  # shown as text

            page.click("input[name=mode][value=ratio_of_sums]")  # recomputed in the page from here on
            check(["U", "R", "G"], "ratio_of_sums")
            page.click("input.cap[value='G']")  # the partial row lacks only G: now it is complete
            rows = check(["U", "R"], "ratio_of_sums")
            assert next(r for r in rows if r["system"] == "partial")["index"].isdigit()
            page.click("input[name=mode][value=mean]")  # U weighs 2 and its datasets 1:3
            with_u = [r["system"] for r in check(["U", "R"], "mean")]
            page.click("input.cap[value='U']")
            without_u = [r["system"] for r in check(["R"], "mean")]
            assert with_u != without_u  # the selection re-ranked the rows
            assert page.evaluate("() => document.body.dataset.pwned") is None
            assert page.evaluate("() => document.querySelectorAll('img').length") == 0
        finally:
            browser.close()
    assert errors == []
