"""Smoke test of the benchmark harness on a tiny input: every configuration runs (or is
skipped with a reason) and reports a positive throughput. It asserts no speed."""
import json

from benchmarks import run


def test_benchmark_harness_reports_every_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("PW_DUCKDB_BENCH_DATA", str(tmp_path / "data"))
    doc = run.run_suite("tiny", tmp_path / "out", timeout=120, echo=lambda *_: None)

    written = json.loads((tmp_path / "out" / "latest.json").read_text())
    expected = {s["name"] for s in run.plan(run.SCALES["tiny"], tmp_path / "data")}
    results = {r["name"]: r for r in written["results"]}
    assert set(results) == expected
    for name, r in results.items():
        if r["status"] == "skipped":
            assert r["note"], name  # a skipped configuration says why
            continue
        assert r["status"] == "ok", (name, r.get("note"))
        assert r["rows_per_s"] > 0, name
        assert r["peak_rss_mb"] > 0, name
    assert (tmp_path / "out" / "latest.png").stat().st_size > 0
    assert len(doc["targets"]) == 6
