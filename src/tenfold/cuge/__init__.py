"""CUGE: a hierarchical Chinese language understanding and generation benchmark as software.

Registry (capability -> task -> dataset), metrics with the usual library pitfalls handled,
baseline-normalised multi-level scoring (``mean`` and ``ratio_of_sums``), a submission checker,
CUGE-mini (built at run time from shipped text) with included systems, and a customisable board.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module. Resolved lazily (PEP 562) so `tenfold --help` does not import torch.
_EXPORTS: dict[str, str] = {
    "MatrixScorer": "scoring",
    "NormalizationError": "scoring",
    "Registry": "registry",
    "RegistryError": "registry",
    "SubmissionError": "jsonl",
    "SubmissionScore": "submission",
    "aggregate": "comparison",
    "bleu4": "metrics",
    "check_system_name": "submission",
    "board_csv": "board",
    "board_json": "board",
    "build_leaderboard": "board",
    "cuge_registry": "registry",
    "distinct": "metrics",
    "entity_prf": "metrics",
    "format_cell": "scoring",
    "kendall_report": "comparison",
    "lm_eval_json": "board",
    "load_scores": "board",
    "math_accuracy": "metrics",
    "mini_registry": "registry",
    "ndcg": "metrics",
    "rank_rows": "scoring",
    "read_jsonl": "jsonl",
    "rouge": "metrics",
    "round_half_up": "scoring",
    "safe_arithmetic": "metrics",
    "safe_extract_zip": "submission",
    "score_submission": "submission",
    "score_tree": "scoring",
    "script_json": "site",
    "scores_from_lm_eval": "board",
    "segmentation_prf": "metrics",
    "spreadsheet_text": "board",
    "tagging_prf": "metrics",
    "write_jsonl": "jsonl",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tenfold.cuge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tenfold.cuge.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
