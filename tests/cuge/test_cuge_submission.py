"""The CUGE-style jsonl reader and the submission checker on small files the tests write."""

import json
import zipfile

import pytest

from tenfold.core.errors import MissingDataError
from tenfold.cuge.jsonl import SubmissionError, read_jsonl, write_jsonl
from tenfold.cuge.registry import mini_registry
from tenfold.cuge.submission import safe_extract_zip, score_submission

CLOZE = [
    {"id": "q0", "context": ["甲。____乙。"], "question": "?", "choice": ["一", "二", "三", "四"], "answer": "二"},
    {"id": "q1", "context": ["丙。____丁。"], "question": "?", "choice": ["五", "六", "七", "八"], "answer": "八"},
]
POLARITY = [{"id": "r0", "text": "很好", "label": 1}, {"id": "r1", "text": "太差", "label": 0}]
RANKING = [{"id": "s0", "query": "北京", "docs": [{"docid": "a", "text": "北京", "rel": 2}, {"docid": "b", "text": "上海", "rel": 0}]}]
HEADLINE = [{"id": "h0", "text": "北京今天下雪了", "summary": "北京下雪"}]


def make_data(root):
    for name, rows, hidden in (("MiniCloze", CLOZE, "answer"), ("MiniPolarity", POLARITY, "label"),
                               ("MiniRetrieval", RANKING, None), ("MiniHeadline", HEADLINE, "summary")):
        write_jsonl(root / name / "test_private.jsonl", rows)
        public = [{k: v for k, v in r.items() if k != hidden} for r in rows]
        write_jsonl(root / name / "test_public.jsonl", public)
    return root


@pytest.fixture
def data(tmp_path):
    return make_data(tmp_path / "data")


def submit(tmp_path, files):
    folder = tmp_path / "sub"
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            write_jsonl(path, content)
    return folder


def test_reader_names_bad_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"id": 1}\n\n')
    with pytest.raises(SubmissionError, match="line 2: blank"):
        read_jsonl(path)
    path.write_bytes(b'{"id": 1}\n{"id": 2,}\n')
    with pytest.raises(SubmissionError, match="line 2: not valid JSON"):
        read_jsonl(path)
    path.write_bytes('\ufeff{"id": 1}\n'.encode())
    with pytest.raises(SubmissionError, match="byte-order mark"):
        read_jsonl(path)
    path.write_bytes('{"id": 1}\n{"t": "中"}\n'.encode("gbk"))
    with pytest.raises(SubmissionError, match="line 2: not UTF-8"):
        read_jsonl(path)
    path.write_bytes(b"[1, 2]\n")
    with pytest.raises(SubmissionError, match="expected a JSON object"):
        read_jsonl(path)
    with pytest.raises(MissingDataError):
        read_jsonl(tmp_path / "missing.jsonl")


def test_valid_partial_submission_scores_and_lists_missing(tmp_path, data):
    folder = submit(tmp_path, {
        "MiniCloze.jsonl": [{"id": "q1", "answer": "八"}, {"id": "q0", "answer": "一"}],
        "MiniPolarity.jsonl": [{"id": "r0", "label": 1}, {"id": "r1", "label": 1}],
        "MiniRetrieval.jsonl": [{"id": "s0", "scores": {"a": 1.0, "b": 0.0}}],
        "MiniHeadline.jsonl": [{"id": "h0", "summary": ""}],
    })
    result = score_submission(folder, data, mini_registry())
    assert result.raw["MiniCloze"] == pytest.approx(50.0)
    assert result.raw["MiniPolarity"] == pytest.approx(200 / 3)
    assert result.raw["MiniRetrieval"] == pytest.approx(100.0)
    assert result.raw["MiniHeadline"] == 0.0
    assert any("empty predictions" in w for w in result.warnings)
    assert "MiniSeg" in result.missing
    record = result.to_json(mini_registry())
    assert record["registry_version"] == "cuge-mini-1" and "sacrebleu" in record["metric_versions"]


@pytest.mark.parametrize(
    "files, message",
    [
        ({"Miniclose.jsonl": []}, "did you mean MiniCloze.jsonl"),
        ({"MiniCloze.jsonl": [{"id": "q0", "answer": "二"}]}, "1 records for 2 test inputs; missing ids .*q1"),
        ({"MiniCloze.jsonl": [{"id": "q0", "answer": "二"}, {"id": "q0", "answer": "二"}]}, "duplicate ids"),
        ({"MiniCloze.jsonl": [{"id": "q0", "answer": "二"}, {"id": "q9", "answer": "二"}]}, "extra ids .*q9"),
        ({"MiniCloze.jsonl": [{"id": "q0", "answer": "九"}, {"id": "q1", "answer": "八"}]}, "line 1 .*one of the record's choices"),
        ({"MiniPolarity.jsonl": [{"id": "r0", "label": "1"}, {"id": "r1", "label": 0}]}, "integer 0 or 1"),
        ({"MiniPolarity.jsonl": [{"id": "r0"}, {"id": "r1", "label": 0}]}, "no 'label' field"),
        ({"MiniRetrieval.jsonl": '{"id": "s0", "scores": {"a": NaN, "b": 0}}\n'}, "NaN/inf"),
        ({"MiniRetrieval.jsonl": [{"id": "s0", "scores": {"a": 1.0}}]}, "missing \\['b'\\]"),
        ({"MiniCloze.jsonl": b'{"id": "q0", "answer": "\xb6\xfe"}\n'}, "not UTF-8"),
        ({"nested.zip": b"PK"}, "nested archives"),
    ],
)
def test_bad_submissions_are_named(tmp_path, data, files, message):
    folder = submit(tmp_path, files)
    with pytest.raises(SubmissionError, match=message):
        score_submission(folder, data, mini_registry())


def test_empty_submission_and_missing_benchmark(tmp_path, data):
    with pytest.raises(MissingDataError, match="no <Dataset>.jsonl"):
        score_submission(submit(tmp_path, {}), data, mini_registry())
    folder = submit(tmp_path, {"MiniSeg.jsonl": [{"id": "x", "words": "a"}]})
    with pytest.raises(MissingDataError, match="cuge mini build"):
        score_submission(folder, data, mini_registry())


def test_metadata_and_honour_code(tmp_path, data):
    folder = submit(tmp_path, {"MiniPolarity.jsonl": [{"id": "r0", "label": 1}, {"id": "r1", "label": 0}]})
    with pytest.raises(SubmissionError, match="metadata.json is missing"):
        score_submission(folder, data, mini_registry(), require_metadata=True)
    (folder / "metadata.json").write_text(json.dumps({"system": "s", "honour_code": False}), encoding="utf-8")
    with pytest.raises(SubmissionError, match="honour_code"):
        score_submission(folder, data, mini_registry(), require_metadata=True)
    (folder / "metadata.json").write_text(json.dumps({"system": "mine", "honour_code": True}), encoding="utf-8")
    assert score_submission(folder, data, mini_registry(), require_metadata=True).system == "mine"


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as bundle:
        for name, payload in members.items():
            bundle.writestr(name, payload)
    return path


def test_zip_safety(tmp_path):
    good = _zip(tmp_path / "good.zip", {"sub/MiniCloze.jsonl": "{}\n", "metadata.json": "{}"})
    out = safe_extract_zip(good, tmp_path / "ok")
    assert sorted(p.name for p in out.iterdir()) == ["MiniCloze.jsonl", "metadata.json"]
    cases = {
        "slip.zip": ({"../evil.jsonl": "x"}, "zip-slip"),
        "nested.zip": ({"inner.zip": "x"}, "nested archive"),
        "big.zip": ({"a.jsonl": "x" * 2000}, "limit"),
    }
    for name, (members, message) in cases.items():
        target = tmp_path / name.replace(".zip", "")
        with pytest.raises(SubmissionError, match=message):
            safe_extract_zip(_zip(tmp_path / name, members), target, max_bytes=1000)
        assert not target.exists()  # refused before anything is written
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(SubmissionError, match="not a readable zip"):
        safe_extract_zip(tmp_path / "junk.zip", tmp_path / "junk")


def test_full_cuge_lite_adapters_on_written_samples(tmp_path):
    from tenfold.cuge.registry import cuge_registry

    data = tmp_path / "cuge"
    ccpm = [{"id": 0, "translation": "春风吹来", "choices": ["春风拂面", "秋雨连绵", "夏日炎炎", "冬雪皑皑"], "answer": 0},
            {"id": 1, "translation": "秋天下雨", "choices": ["春风拂面", "秋雨连绵", "夏日炎炎", "冬雪皑皑"], "answer": 1}]
    math = [{"id": "m0", "text": "3个苹果又买了2个，一共几个？", "equation": "x=3+2"}]
    for name, rows, hidden in (("CCPM", ccpm, "answer"), ("Math23K", math, "equation")):
        write_jsonl(data / name / "test_private.jsonl", rows)
        write_jsonl(data / name / "test_public.jsonl", [{k: v for k, v in r.items() if k != hidden} for r in rows])
    folder = submit(tmp_path, {"CCPM.jsonl": [{"id": 0, "answer": 0}, {"id": 1, "answer": 2}],
                               "Math23K.jsonl": [{"id": "m0", "equation": "x=5"}]})
    result = score_submission(folder, data, cuge_registry())
    assert result.raw == {"CCPM": pytest.approx(50.0), "Math23K": pytest.approx(100.0)}
    bad = submit(tmp_path, {"CCPM.jsonl": [{"id": 0, "answer": 4}, {"id": 1, "answer": 0}]})
    with pytest.raises(SubmissionError, match="option index 0-3"):
        score_submission(bad, data, cuge_registry())
    (bad / "CCPM.jsonl").unlink()
    (bad / "Ereviews.jsonl").write_text("{}\n", encoding="utf-8")
    with pytest.raises(SubmissionError, match="did you mean EReviews.jsonl"):
        score_submission(bad, data, cuge_registry())
