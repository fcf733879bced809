"""as_of and retention on change logs written by a real pipeline, over several minibatches."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import duckdb
import pathway as pw

import pw_duckdb_sink
from pw_duckdb_sink._retention import compacted_horizon

from _feed import Feed

CHUNKS = 12


class Sale(pw.Schema):
    country: str
    amount: int


def _chunks(seed=4):
    rng = random.Random(seed)
    return [[(rng.choice(["PL", "DE", "CZ"]), rng.randint(1, 9)) for _ in range(rng.randint(1, 5))]
            for _ in range(CHUNKS)]


def _run(db, chunks, **write_kwargs):
    rows = [[{"country": country, "amount": amount} for country, amount in chunk] for chunk in chunks]
    sales = pw.io.python.read(Feed(rows, pause_s=0.12), schema=Sale, autocommit_duration_ms=10_000)
    totals = sales.groupby(pw.this.country).reduce(pw.this.country, total=pw.reducers.sum(pw.this.amount))
    pw_duckdb_sink.write(totals, table_name="totals", database=db, init_mode="create_if_not_exists",
                         name="totals", **write_kwargs)
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)


def _expected_states(chunks):
    """The totals per country after each chunk, computed from the input alone."""
    running, states = defaultdict(int), []
    for chunk in chunks:
        for country, amount in chunk:
            running[country] += amount
        states.append(Counter(running.items()))
    return states


def _commit_times(db):
    con = duckdb.connect(str(db), read_only=True)
    times = [t for (t,) in con.execute(
        'SELECT time FROM "_pw_duckdb_sink_commits" WHERE "rows" > 0 ORDER BY time').fetchall()]
    con.close()
    return times


def _state(db, at):
    return Counter(map(tuple, pw_duckdb_sink.as_of(db, "totals", at, format="pandas")
                       [["country", "total"]].itertuples(index=False)))


def test_as_of_each_minibatch_equals_the_totals_recomputed_from_the_input(db_path):
    chunks = _chunks()
    _run(db_path, chunks)
    times = _commit_times(db_path)
    states = _expected_states(chunks)
    assert len(times) == CHUNKS  # every chunk changed a total: one commit each
    for t, expected in zip(times, states):
        assert _state(db_path, t) == expected
        assert _state(db_path, t + 1) == expected


def test_writer_retention_compacts_behind_the_stream_and_keeps_later_states(db_path, tmp_path):
    chunks = _chunks(seed=9)
    _run(db_path, chunks, retention=250)
    states = _expected_states(chunks)
    times = _commit_times(db_path)
    con = duckdb.connect(str(db_path), read_only=True)
    horizon = compacted_horizon(con, "totals")
    kept = con.execute("SELECT count(*) FROM totals").fetchall()[0][0]
    con.close()
    assert horizon is not None and horizon >= times[0]
    # Every state at or after the horizon is intact. The commits before it collapsed into one,
    # so the commit times line up with the chunks from the end.
    later = [(t, s) for t, s in zip(times[::-1], states[::-1]) if t >= horizon]
    assert later
    for t, expected in later:
        assert _state(db_path, t) == expected
    # The all-time baseline (the consolidated log) is still the final totals from the input.
    pw.internals.parse_graph.G.clear()
    base = pw_duckdb_sink.read_baseline(database=db_path, table_name="totals", key=["country"],
                                        aggregates={"total": "sum"})
    assert Counter(map(tuple, pw.debug.table_to_pandas(base)[["country", "total"]].itertuples(index=False))) \
        == states[-1]
    # The same stream without retention keeps more rows.
    pw.internals.parse_graph.G.clear()
    plain = tmp_path / "plain.duckdb"
    _run(plain, chunks)
    con = duckdb.connect(str(plain), read_only=True)
    assert kept < con.execute("SELECT count(*) FROM totals").fetchall()[0][0]
    con.close()
