"""CUGE scoring performance: a complete 21-dataset submission at the real test-set sizes, and re-ranking
1,000 submissions on a selection change (vectorised MatrixScorer vs the per-row tree scorer).

Run: .venv/bin/python benchmarks/cuge/bench_cuge_scoring.py
Predictions are synthetic (seeded) but sized like CUGE's test sets (report Table 1).
"""

from __future__ import annotations

import random
import time

import numpy as np

from tenfold.cuge import metrics
from tenfold.cuge.registry import cuge_registry
from tenfold.cuge.scoring import MatrixScorer, score_tree

# Test-set sizes from the report's Table 1 (thousands -> records).
TEST_SIZES = {
    "PKU-SEG": 9900, "WordSeg-Weibo": 8600, "PKU-SEGPOS": 4800, "CCPM": 2700, "CMeEE": 3000, "FinRE": 3700,
    "YACLC": 1000, "SPR": 4800, "ClozeT": 300, "C3": 3800, "GCRC": 800, "WantWords": 19000, "KBQA": 600,
    "Sogou-Log": 1000, "LCSTS": 700, "CEPSUM": 5000, "EReviews": 3000, "KdConv": 9100, "WMT20-EnZh": 4000,
    "NCLS-EnZh": 3000, "Math23K": 1000,
}
CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"


def _sentences(rng: random.Random, n: int, length: int) -> list[str]:
    return ["".join(rng.choice(CHARS) for _ in range(length)) for _ in range(n)]


def score_full_submission(seed: int = 0) -> dict[str, float]:
    """Compute each CUGE dataset's primary metric on synthetic predictions of its real test size."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    out: dict[str, float] = {}
    registry = cuge_registry()
    for name, n in TEST_SIZES.items():
        metric = registry.datasets[name].metric
        if metric in ("seg_f1", "pos_f1"):
            gold = [[s[i:i + 2] for i in range(0, len(s), 2)] for s in _sentences(rng, n, 40)]
            pred = [[c for c in "".join(g)] if rng.random() < 0.3 else g for g in gold]
            out[name] = metrics.segmentation_prf(pred, gold)["f1"]
        elif metric == "ner_f1":
            gold = [[(i, i + 2, "PER") for i in range(0, 20, 5)] for _ in range(n)]
            out[name] = metrics.entity_prf([g[:3] for g in gold], gold)["f1"]
        elif metric in ("accuracy", "accuracy_at_1", "exact_match", "gcrc_avg"):
            gold = np_rng.integers(0, 4, n).tolist()
            out[name] = metrics.accuracy(np_rng.integers(0, 4, n).tolist(), gold)
        elif metric == "f1":
            out[name] = metrics.binary_f1(np_rng.integers(0, 2, n).tolist(), np_rng.integers(0, 2, n).tolist())
        elif metric.startswith("ndcg"):
            rels = np_rng.integers(0, 3, (n, 12)).tolist()
            out[name] = metrics.ndcg(rels, np_rng.random((n, 12)).tolist(), k=10)[0]
        elif metric == "rouge_l":
            refs = _sentences(rng, n, 20)
            out[name] = metrics.rouge([r[:12] for r in refs], refs)["rouge_l"]
        elif metric == "bleu4":
            refs = _sentences(rng, n, 25)
            out[name] = metrics.bleu4([r[:20] for r in refs], refs)
        elif metric == "math_accuracy":
            out[name] = metrics.math_accuracy([f"x={i}*2+1" for i in range(n)], [i * 2 + 1 for i in range(n)])
    return out


def main() -> None:
    registry = cuge_registry()
    start, cpu = time.perf_counter(), time.process_time()
    scores = score_full_submission()
    full_s, full_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"score a complete 21-dataset submission at real test sizes ({sum(TEST_SIZES.values())} records): "
          f"{full_s:.2f} s wall, {full_cpu:.2f} s CPU")

    rng = np.random.default_rng(0)
    names = list(registry.datasets)
    table = rng.uniform(5, 95, size=(1000, len(names)))
    baseline = dict(zip(names, table[0], strict=True))
    selection = ["cap:NLU-DL", "cap:NLG", "ds:Math23K"]

    start = time.perf_counter()
    fast = MatrixScorer(registry, baseline, selection=selection).index(table)
    order_fast = np.argsort(-fast, kind="stable")
    fast_s = time.perf_counter() - start

    start = time.perf_counter()
    slow = [score_tree(dict(zip(names, row, strict=True)), baseline, registry, selection=selection)["index"] for row in table]
    order_slow = np.argsort(-np.array(slow), kind="stable")
    slow_s = time.perf_counter() - start
    assert np.allclose(fast, slow) and (order_fast == order_slow).all()
    print(f"re-rank 1,000 submissions for a new selection: vectorised {1000 * fast_s:.1f} ms, "
          f"per-row tree {1000 * slow_s:.1f} ms, ratio {slow_s / fast_s:.1f}x; "
          f"under 100 ms: {'yes' if fast_s < 0.1 else 'NO'}")
    print("sample scores:", {k: round(v, 1) for k, v in list(scores.items())[:4]})


if __name__ == "__main__":
    main()
