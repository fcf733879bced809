"""Compare the sink's stream throughput at two git revisions, in interleaved rounds.

Usage: ``python -m benchmarks.ab REV_A REV_B [--rounds 8]``. Each revision's ``pw_duckdb_sink``
and ``benchmarks`` are exported (``git archive``) to a temporary folder; every round runs the
suite's 1M-row stream configuration once from each, one after the other, and the result is
the median over rounds of time(A) / time(B) (above 1: B is faster). Pairing within a round
cancels most of this machine's drift, which is larger than the changes worth measuring.
"""
from __future__ import annotations

import argparse
import json
import statistics
import shutil
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from benchmarks import data

HERE = Path(__file__).resolve().parent


def export(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", rev, "pw_duckdb_sink", "benchmarks"],
                             cwd=HERE.parent, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_stream(src: Path, input_dir: str, work: Path) -> float:
    spec = dict(kind="sink", mode="stream_of_changes", pipeline="append", input=input_dir,
                rows=1_000_000, batches=100, name="ab", work=str(work))
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.child", json.dumps(spec)],
                              cwd=src, capture_output=True, text=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"run from {src} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(lines[-1][len("RESULT "):])["seconds"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__)
    ap.add_argument("rev_a")
    ap.add_argument("rev_b")
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args(argv)
    input_dir = str(data.input_dir(data.data_root(), 1_000_000, 10_000))
    with tempfile.TemporaryDirectory(prefix="pwddb-ab-") as tmp:
        srcs = {rev: export(rev, Path(tmp) / f"src{i}") for i, rev in enumerate((args.rev_a, args.rev_b))}
        ratios = []
        for n in range(args.rounds):
            a, b = (run_stream(srcs[rev], input_dir, Path(tmp) / f"work{n}{i}")
                    for i, rev in enumerate((args.rev_a, args.rev_b)))
            ratios.append(a / b)
            print(f"round {n + 1}: {args.rev_a} {a:.2f}s  {args.rev_b} {b:.2f}s  ratio {a / b:.3f}", flush=True)
    print(f"median time({args.rev_a}) / time({args.rev_b}) over {args.rounds} rounds: "
          f"{statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
