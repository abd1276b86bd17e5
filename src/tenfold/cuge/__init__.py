"""CUGE: a hierarchical Chinese language understanding and generation benchmark as software.

Registry (capability -> task -> dataset), metrics with the usual library pitfalls handled,
baseline-normalised multi-level scoring (``mean`` and ``ratio_of_sums``), a submission checker,
CUGE-mini (built at run time from shipped text) with included systems, and a customisable board.
"""

from tenfold.cuge.board import (
    board_csv,
    board_json,
    build_leaderboard,
    lm_eval_json,
    load_scores,
    scores_from_lm_eval,
)
from tenfold.cuge.comparison import aggregate, kendall_report
from tenfold.cuge.jsonl import SubmissionError, read_jsonl, write_jsonl
from tenfold.cuge.metrics import (
    bleu4,
    distinct,
    entity_prf,
    math_accuracy,
    ndcg,
    rouge,
    safe_arithmetic,
    segmentation_prf,
    tagging_prf,
)
from tenfold.cuge.registry import Registry, RegistryError, cuge_registry, mini_registry
from tenfold.cuge.scoring import (
    MatrixScorer,
    NormalizationError,
    format_cell,
    rank_rows,
    round_half_up,
    score_tree,
)
from tenfold.cuge.submission import SubmissionScore, safe_extract_zip, score_submission

__all__ = [
    "MatrixScorer", "NormalizationError", "Registry", "RegistryError", "SubmissionError", "SubmissionScore",
    "aggregate", "bleu4", "board_csv", "board_json", "build_leaderboard", "cuge_registry", "distinct", "entity_prf",
    "format_cell", "kendall_report", "lm_eval_json", "load_scores", "math_accuracy", "mini_registry", "ndcg",
    "rank_rows", "read_jsonl", "rouge", "round_half_up", "safe_arithmetic", "safe_extract_zip", "score_submission",
    "score_tree", "scores_from_lm_eval", "segmentation_prf", "tagging_prf", "write_jsonl",
]
