"""Input files for the benchmarks: one generator, cached by size so reruns skip it."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

N_KEYS = 100_000  # distinct keys of the snapshot (groupby) pipeline


def make_table(n_rows: int, *, seed: int = 7, start: int = 0) -> pa.Table:
    """Mixed types: int id and key, float price, str name, bool flag."""
    rng = np.random.default_rng(seed + start)
    ids = np.arange(start, start + n_rows, dtype=np.int64)
    names = pa.array([f"item-{i % 5000}" for i in range(start, start + n_rows)])
    return pa.table(
        {
            "id": ids,
            "key": rng.integers(0, N_KEYS, n_rows, dtype=np.int64),
            "price": np.round(rng.random(n_rows) * 1000.0, 3),
            "name": names,
            "flag": rng.random(n_rows) < 0.5,
        }
    )


def input_dir(root: Path, n_rows: int, rows_per_file: int) -> Path:
    """A directory of CSV files; Pathway's static reader makes one minibatch per file."""
    target = root / f"input-{n_rows}-{rows_per_file}"
    done = target / ".done"
    if done.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, n_rows, rows_per_file)):
        part = make_table(min(rows_per_file, n_rows - start), start=start)
        pa_csv.write_csv(part, target / f"part-{i:05d}.csv")
    done.touch()
    return target


def data_root() -> Path:
    return Path(os.environ.get("PW_DUCKDB_BENCH_DATA", Path(__file__).parent / ".data"))
