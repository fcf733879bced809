"""Hand-built change logs for the time-travel and retention tests, with their true states.

A small keyed table evolves over minibatches (inserts, updates as -old/+new, deletes, and
several keys holding the same value, so a row can count more than once). The log is written
in the DESIGN.md layout with plain SQL, and the state after every minibatch is kept in Python:
the reference the SQL results are compared with.
"""

from __future__ import annotations

import random
from collections import Counter

import duckdb

COMMITS_DDL = """CREATE TABLE IF NOT EXISTS "_pw_duckdb_sink_commits" (
    table_name VARCHAR NOT NULL, writer_name VARCHAR, time BIGINT NOT NULL,
    rows BIGINT NOT NULL, committed_at TIMESTAMP NOT NULL)"""


def simulate(seed: int, *, batches: int, start_ms: int = 1_700_000_000_000, step_ms: int = 1000,
             keys: int = 12):
    """Changes (country, amount, time, diff) of a keyed table, and its state after each batch.

    Returns (changes, states) where states[time] is a Counter of (country, amount) rows.
    """
    rng = random.Random(seed)
    current: dict[int, tuple] = {}
    changes: list[tuple] = []
    states: dict[int, Counter] = {}
    for b in range(batches):
        t = start_ms + b * step_ms
        for k in rng.sample(range(keys), rng.randint(1, keys // 2)):
            # Few distinct values, so several keys often hold the same row.
            new = (rng.choice(["PL", "DE", None]), rng.choice([1, 2, 2.5]) if rng.random() < .9 else None)
            old = current.get(k)
            if old is not None:
                changes.append((*old, t, -1))
                del current[k]
            if rng.random() < 0.75:
                changes.append((*new, t, 1))
                current[k] = new
        states[t] = Counter(current.values())
    return changes, states


def write_log(con: duckdb.DuckDBPyConnection, table: str, changes, *, writers=None) -> None:
    """Write the changes in the change-log layout; ``writers`` maps time -> list of writer names
    recorded in _pw_duckdb_sink_commits (a time not in it gets no commit row)."""
    con.execute(f'CREATE TABLE "{table}" (country VARCHAR, amount DOUBLE, time BIGINT, diff SMALLINT)')
    con.executemany(f'INSERT INTO "{table}" VALUES (?, ?, ?, ?)', [list(c) for c in changes])
    if writers is not None:
        con.execute(COMMITS_DDL)
        per_time = Counter(c[2] for c in changes)
        for t, names in writers.items():
            for name in names:
                con.execute('INSERT INTO "_pw_duckdb_sink_commits" VALUES (?, ?, ?, ?, now()::TIMESTAMP)',
                            [table, name, t, per_time.get(t, 0)])


def rows_of(arrow_table, columns=("country", "amount")) -> Counter:
    data = arrow_table.to_pydict()
    return Counter(zip(*(data[c] for c in columns)))


def consolidate(con, table: str, *, where: str = "TRUE", params=()) -> Counter:
    """The net count of every row over the changes matching ``where`` (zeros left out)."""
    rows = con.execute(
        f'SELECT country, amount, SUM(diff)::BIGINT FROM "{table}" WHERE {where} '
        f'GROUP BY ALL HAVING SUM(diff) <> 0', list(params)).fetchall()
    return Counter({(c, a): n for c, a, n in rows})
