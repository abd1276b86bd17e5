from pathlib import Path

from tenfold.core.cache import cache_dir


def test_cache_dir_honours_tenfold_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TENFOLD_CACHE", str(tmp_path))
    assert cache_dir("cpt") == tmp_path / "cpt"
    monkeypatch.delenv("TENFOLD_CACHE")
    assert cache_dir("cpt") == Path.home() / ".cache" / "tenfold" / "cpt"
