"""helpers.app.serve's options and helpers.app.loadtest's tables (the load test itself runs in `make bench`)."""
from __future__ import annotations

from helpers.app import loadtest, serve

FAKE = {"loadavg_at_start": [1.0, 1, 1], "loadavg_at_end": [2.0, 2, 2], "pool_size": 2, "cull_idle_s": 300,
        "mem_available_mb": 20480.0, "mem_total_mb": 24576.0,
        "first_page": {"dashboard": {"preheated_s": 0.02, "cold_s": 1.5},
                       "one_cell": {"preheated_s": 0.01, "cold_s": 0.6}},
        "first_page_ratio": {"preheated": 2.0, "cold": 2.5},
        "room": {"n": 6, "rendered": 6, "pages": [{"page_s": 3.0, "card_s": 0.5, "html_s": 1.0, "ok": True}] * 6,
                 "kernel_rss_mb": [220.0] * 8, "kernel_pss_mb": [150.0] * 8, "server_rss_mb": 100.0},
        "viewer_rss_mb": 220.0, "viewer_pss_mb": 150.0, "viewers_held": 90}


def test_voila_argv_preheats_and_culls(monkeypatch):
    monkeypatch.delenv(serve.POOL_ENV, raising=False)
    argv = serve.voila_argv(8866)
    assert "--preheat_kernel=True" in argv and f"--pool_size={serve.POOL_SIZE}" in argv
    assert f"--MappingKernelManager.cull_idle_timeout={serve.CULL_IDLE_S}" in argv
    assert "--MappingKernelManager.cull_connected=False" in argv
    monkeypatch.setenv(serve.POOL_ENV, "0")
    assert not any(a.startswith("--preheat_kernel") for a in serve.voila_argv(8866))


def test_tables_and_readme_block(tmp_path):
    rows = dict((label, val) for label, val, _ in loadtest.format_rows(FAKE))
    assert rows["6 pages at once, each uploads: cards"] == "6/6"
    md = loadtest.capacity_markdown(FAKE, "2026-12-04T20:00:00+00:00", "bench/results.json")
    assert "6 of 6 show their result card" in md and "220 MB resident" in md and "about 90" in md
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{loadtest.README_BEGIN}\nSTALE\n{loadtest.README_END}\nrest\n")
    assert loadtest.write_readme_block(FAKE, "2026-12-04", "bench/results.json", readme)
    text = readme.read_text()
    assert "STALE" not in text and text.startswith("intro\n") and text.endswith("rest\n") and "2.5×" in text
    readme.write_text("no markers\n")
    assert not loadtest.write_readme_block(FAKE, "2026-12-04", "x", readme)
