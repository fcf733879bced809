"""Run the benchmark suite: ``python -m benchmarks.run [--quick] [--update-readme]``.

Every configuration runs in its own subprocess, one after another (the machine is small and
noisy: ratios are taken within one run). Writes results/latest.json, results/latest.png and
results/latest.md, and prints a table with each target marked met / missed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import data, report

HERE = Path(__file__).resolve().parent

# Sizes per scale. "tiny" is for the smoke test: it checks the harness, not speed.
SCALES = {
    "full": dict(rows=1_000_000, per_file=10_000, per_row_rows=20_000,
                 minibatch={1: 2_000, 10: 10_000, 100: 50_000, 1_000: 200_000,
                            10_000: 300_000, 100_000: 500_000},
                 table_keys=[0, 1_000_000, 10_000_000], table_batches=100, table_batch_rows=1_000,
                 memory_rows=1_000_000, max_batch_size=50_000, repeats=5, upsert_repeats=3),
    "quick": dict(rows=300_000, per_file=10_000, per_row_rows=3_000,
                  minibatch={1: 500, 100: 10_000, 10_000: 100_000},
                  table_keys=[0, 1_000_000], table_batches=50, table_batch_rows=1_000,
                  memory_rows=300_000, max_batch_size=50_000, repeats=1, upsert_repeats=1),
    "tiny": dict(rows=4_000, per_file=1_000, per_row_rows=500,
                 minibatch={100: 1_000},
                 table_keys=[0, 1_000], table_batches=4, table_batch_rows=100,
                 memory_rows=4_000, max_batch_size=1_000, repeats=1, upsert_repeats=1),
}


def plan(scale: dict, root: Path) -> list[dict]:
    """The list of child specs, in run order."""
    main_in = str(data.input_dir(root, scale["rows"], scale["per_file"]))
    per_row_in = str(data.input_dir(root, scale["per_row_rows"], min(scale["per_file"], scale["per_row_rows"])))
    one_batch = str(data.input_dir(root, scale["memory_rows"], scale["memory_rows"]))
    n_batches = -(-scale["rows"] // scale["per_file"])
    main = dict(group="main", input=main_in, rows=scale["rows"], batches=n_batches)
    specs = [
        dict(main, name="floor", label="floor: pw.io.subscribe no-op", kind="floor", pipeline="append"),
        dict(main, name="floor_upsert", label="floor (groupby pipeline)", kind="floor", pipeline="upsert"),
        dict(main, name="null_upsert", label="no output: pw.io.null.write (groupby)", kind="null", pipeline="upsert"),
        dict(main, name="csv", label="pw.io.csv.write", kind="csv", pipeline="append"),
        dict(main, name="sqlite_stream", label="pw.io.sqlite.write stream", kind="sqlite", mode="stream_of_changes", pipeline="append"),
        dict(main, name="sqlite_snapshot", label="pw.io.sqlite.write snapshot", kind="sqlite", mode="snapshot", pipeline="upsert"),
        dict(main, name="per_row", label="per-row INSERT in subscribe", kind="per_row", pipeline="append",
             input=per_row_in, rows=scale["per_row_rows"],
             batches=-(-scale["per_row_rows"] // min(scale["per_file"], scale["per_row_rows"]))),
        dict(main, name="sink_stream", label="pw_duckdb_sink stream", kind="sink", mode="stream_of_changes", pipeline="append"),
        dict(main, name="sink_snapshot", label="pw_duckdb_sink snapshot", kind="sink", mode="snapshot", pipeline="upsert"),
        dict(main, name="ceiling", label="ceiling: Arrow INSERT, no Pathway", kind="ceiling", pipeline="append"),
        dict(main, name="native_duckdb", label="pw.io.duckdb.write (licensed)", kind="native_duckdb",
             mode="stream_of_changes", pipeline="append",
             skip=None if os.environ.get("PATHWAY_LICENSE_KEY") else "skipped: PATHWAY_LICENSE_KEY not set (the native writer refuses to run without it)"),
    ]
    for batch, rows in scale["minibatch"].items():
        for target in ("floor", "sink"):
            specs.append(dict(group="minibatch", name=f"mb_{target}_{batch}", kind="sweep_minibatch",
                              target=target, batch=batch, rows=rows, batches=-(-rows // batch)))
    for keys in scale["table_keys"]:
        specs.append(dict(group="table", name=f"table_{keys}", kind="sweep_table", keys=keys,
                          batches=scale["table_batches"], batch_rows=scale["table_batch_rows"],
                          rows=scale["table_batches"] * scale["table_batch_rows"], drop_first_commit=True))
    mem = dict(group="memory", input=one_batch, rows=scale["memory_rows"], batches=1, pipeline="append")
    specs += [
        dict(mem, name="mem_floor", label="floor", kind="floor"),
        dict(mem, name="mem_sink", label="sink, no max_batch_size", kind="sink", mode="stream_of_changes"),
        dict(mem, name="mem_sink_mbs", label=f"sink, max_batch_size={scale['max_batch_size']}", kind="sink",
             mode="stream_of_changes", max_batch_size=scale["max_batch_size"]),
    ]
    return specs


def run_child(spec: dict, work: Path, timeout: float) -> dict:
    """One configuration in its own process; a failure is recorded, not raised."""
    if spec.get("skip"):
        return dict(spec, status="skipped", note=spec["skip"])
    spec = dict(spec, work=str(work / spec["name"]))
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.child", json.dumps(spec)],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return dict(spec, status="error", note=f"timed out after {timeout:.0f}s")
    finally:
        shutil.rmtree(spec["work"], ignore_errors=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return dict(spec, status="error", note=f"exit {proc.returncode}: {tail[:200]}")
    out = json.loads(lines[-1][len("RESULT "):])
    return dict(spec, status="ok", **out)


def _median_run(runs: list[dict]) -> dict:
    ok = sorted((r for r in runs if r["status"] == "ok"), key=lambda r: r["seconds"])
    if not ok:
        return runs[-1]
    # None for a failed run keeps the lists aligned with the other configurations' rounds.
    return dict(ok[(len(ok) - 1) // 2],
                runs_s=[r["seconds"] if r["status"] == "ok" else None for r in runs],
                runs_commit_p99_ms=[report.p99_ms(r.get("commit_s")) if r["status"] == "ok" else None
                                    for r in runs])


def machine() -> dict:
    import duckdb
    import pathway
    import psutil

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "pathway": pathway.__version__, "duckdb": duckdb.__version__,
            "platform": platform.platform()}


def run_suite(scale_name: str, out_dir: Path, *, timeout: float = 900, echo=print) -> dict:
    scale = SCALES[scale_name]
    root = data.data_root()
    started = time.time()
    results = []
    specs = plan(scale, root)
    # The main configurations without the groupby take seconds each, and this machine's noise is
    # a tenth of that: they run `repeats` times, interleaved in rounds, and keep their median run
    # and every run's time (report: ratios are taken within a round, then their median). The
    # groupby ones take ~25 s each and differ by a few percent: `upsert_repeats` rounds of them.
    fast = [s for s in specs if (s.get("group") == "main" and s.get("pipeline") == "append"
                                 and s["kind"] != "per_row" and not s.get("skip"))
            or s.get("group") == "table"]
    upsert = [s for s in specs if s.get("group") == "main" and s.get("pipeline") == "upsert"]
    rounds = [fast] * scale["repeats"] + [upsert] * scale["upsert_repeats"]
    runs: dict[str, list[dict]] = {s["name"]: [] for s in fast + upsert}
    with tempfile.TemporaryDirectory(prefix="pwddb-bench-") as tmp:
        def one(spec):
            r = run_child(spec, Path(tmp), timeout)
            echo(f"  {r['name']:<22} {r['status']:<7} "
                 + (f"{r['seconds']:.2f}s" if r["status"] == "ok" else r.get("note", "")))
            return r

        for round_specs in rounds:
            for spec in round_specs:
                runs[spec["name"]].append(one(spec))
        for spec in specs:
            results.append(_median_run(runs[spec["name"]]) if spec["name"] in runs else one(spec))
    doc = report.build(results, scale_name=scale_name, scale=scale, machine=machine(),
                       wall_s=time.time() - started)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(doc, indent=2))
    report.chart(doc, out_dir / "latest.png")
    (out_dir / "latest.md").write_text(report.markdown(doc))
    return doc


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller inputs (about 3 minutes)")
    ap.add_argument("--scale", choices=sorted(SCALES), help="explicit scale (overrides --quick)")
    ap.add_argument("--out", default=str(HERE / "results"), help="where latest.json/png/md go")
    ap.add_argument("--update-readme", action="store_true", help="write the table into README.md")
    args = ap.parse_args(argv)
    scale = args.scale or ("quick" if args.quick else "full")
    command = "python -m benchmarks.run" + (" --quick" if scale == "quick" else f" --scale {scale}" if scale != "full" else "")
    print(f"running the {scale} suite, one configuration at a time")
    doc = run_suite(scale, Path(args.out))
    doc["command"] = command
    Path(args.out, "latest.json").write_text(json.dumps(doc, indent=2))
    (Path(args.out) / "latest.md").write_text(report.markdown(doc))
    report.print_table(doc)
    if args.update_readme:
        report.update_readme(doc, HERE.parent / "README.md")


if __name__ == "__main__":
    main()
