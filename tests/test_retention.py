"""compact(): the past up to a horizon collapses, every later state and the all-time totals stay."""

from __future__ import annotations

import random
from collections import Counter

import duckdb
import pytest

from pw_duckdb_sink._retention import compact, compacted_horizon
from pw_duckdb_sink._time_travel import as_of
from tests.history_logs import consolidate, rows_of, simulate, write_log

START = 1_700_000_000_000


def _writers(times, seed=3):
    """A named writer 'a', an unnamed one (None), a shared time, and times nobody recorded."""
    rng = random.Random(seed)
    plan = {}
    for t in times:
        pick = rng.random()
        if pick < 0.4:
            plan[t] = ["a"]
        elif pick < 0.7:
            plan[t] = [None]
        elif pick < 0.8:
            plan[t] = ["a", "b"]
        # else: no commit row (e.g. written by the native writer)
    return plan


def _writer_times(con, name):
    return [t for (t,) in con.execute(
        'SELECT DISTINCT time FROM "_pw_duckdb_sink_commits" WHERE writer_name = ?', [name]).fetchall()]


def _baseline_without(con, name):
    """The baseline rule: the all-time consolidation minus the rows at the writer's commit times."""
    return consolidate(con, "sales", where='time NOT IN (SELECT time FROM "_pw_duckdb_sink_commits" '
                                          'WHERE writer_name = ?)', params=[name])


@pytest.fixture
def log(db_path):
    changes, states = simulate(11, batches=60, start_ms=START)
    con = duckdb.connect(str(db_path))
    write_log(con, "sales", changes, writers=_writers(sorted(states)))
    return con, states


def test_compaction_keeps_every_later_state_and_the_all_time_totals(log):
    con, states = log
    times = sorted(states)
    horizon = times[40]
    all_time = consolidate(con, "sales")
    without = {w: _baseline_without(con, w) for w in ("a", "b")}
    result = compact(con, "sales", horizon)
    assert result.rows_after < result.rows_before
    for t in times[40:]:
        assert rows_of(as_of(con, "sales", t)) == states[t]
    assert consolidate(con, "sales") == all_time
    # Leaving out a named writer's rows (the baseline with persistence) gives the same as before.
    assert {w: _baseline_without(con, w) for w in ("a", "b")} == without


def test_compacted_rows_sit_at_the_own_commit_times_of_their_writers(log):
    con, states = log
    horizon = sorted(states)[40]
    compact(con, "sales", horizon)
    old_times = {t for (t,) in con.execute("SELECT DISTINCT time FROM sales WHERE time <= ?",
                                           [horizon]).fetchall()}
    # One landing time per writer group: 'a' alone, unnamed alone, 'a'+'b', unrecorded.
    assert len(old_times) <= 4
    commits = con.execute('SELECT writer_name, time, "rows" FROM "_pw_duckdb_sink_commits" '
                          'WHERE time <= ?', [horizon]).fetchall()
    assert Counter(w for w, _, _ in commits) == Counter({"a": 2, None: 1, "b": 1})
    for _, t, rows in commits:
        assert rows == con.execute("SELECT count(*) FROM sales WHERE time = ?", [t]).fetchall()[0][0]


def test_compaction_bounds_the_row_count(db_path):
    con = duckdb.connect(str(db_path))
    changes, states = simulate(5, batches=400, start_ms=START)
    write_log(con, "sales", changes)
    times = sorted(states)
    horizon = times[-10]
    compact(con, "sales", horizon)
    distinct_at_horizon = len(states[horizon])
    later = sum(1 for c in changes if c[2] > horizon)
    assert con.execute("SELECT count(*) FROM sales").fetchall()[0][0] <= distinct_at_horizon + later
    assert rows_of(as_of(con, "sales", times[-1])) == states[times[-1]]


def test_repeated_compaction_keeps_the_invariants(log):
    con, states = log
    times = sorted(states)
    all_time = consolidate(con, "sales")
    for i in (10, 25, 25, 50):
        compact(con, "sales", times[i])
        for t in times[i:]:
            assert rows_of(as_of(con, "sales", t)) == states[t]
        assert consolidate(con, "sales") == all_time
    assert compacted_horizon(con, "sales") == times[50]


def test_as_of_refuses_moments_before_the_horizon(log):
    con, states = log
    times = sorted(states)
    compact(con, "sales", times[30])
    with pytest.raises(ValueError, match="compacted up to"):
        as_of(con, "sales", times[29])


def test_net_counts_beyond_smallint_are_split(db_path):
    con = duckdb.connect(str(db_path))
    con.execute('CREATE TABLE sales (country VARCHAR, amount DOUBLE, time BIGINT, diff SMALLINT)')
    # 70000 copies of one row and 40000 retractions of another (a log that starts mid-way).
    con.execute("INSERT INTO sales SELECT 'PL', 1.0, 10 + i % 5, 1 FROM range(70000) r(i)")
    con.execute("INSERT INTO sales SELECT 'DE', 2.0, 10 + i % 5, -1 FROM range(40000) r(i)")
    con.execute("INSERT INTO sales VALUES ('CZ', 3.0, 11, 1), ('CZ', 3.0, 12, -1)")
    compact(con, "sales", 20)
    rows = con.execute("SELECT country, diff FROM sales").fetchall()
    assert all(abs(d) <= 32767 for _, d in rows)
    assert consolidate(con, "sales") == Counter({("PL", 1.0): 70000, ("DE", 2.0): -40000})
    assert len(rows) == 3 + 2  # ceil(70000/32767) + ceil(40000/32767); CZ nets to zero


def test_compact_opens_a_path_and_rejects_bad_input(db_path):
    con = duckdb.connect(str(db_path))
    changes, states = simulate(2, batches=10, start_ms=START)
    write_log(con, "sales", changes)
    con.execute("CREATE TABLE totals (country VARCHAR PRIMARY KEY, amount DOUBLE)")
    con.close()
    last = max(states)
    # No commits table: one group, so one row per distinct row of the final state.
    assert compact(db_path, "sales", last).rows_after == len(states[last])
    check = duckdb.connect(str(db_path), read_only=True)
    assert consolidate(check, "sales") == states[last]
    check.close()
    with pytest.raises(ValueError, match="not a change log"):
        compact(db_path, "totals", last)
    with pytest.raises(ValueError, match="no DuckDB database"):
        compact(db_path.with_name("absent.duckdb"), "sales", last)


@pytest.mark.parametrize("retention, message", [
    (0, "must be positive"),
    (-5, "must be positive"),
    (1.5, "timedelta"),
    (True, "timedelta"),
])
def test_write_rejects_a_bad_retention(db_path, retention, message):
    import pathway as pw

    import pw_duckdb_sink

    table = pw.debug.table_from_markdown("a\n1")
    with pytest.raises(ValueError, match=message):
        pw_duckdb_sink.write(table, table_name="t", database=db_path, retention=retention)


def test_write_refuses_retention_on_a_snapshot(db_path):
    import datetime as dt

    import pathway as pw

    import pw_duckdb_sink

    table = pw.debug.table_from_markdown("a\n1")
    with pytest.raises(ValueError, match="applies to a change log"):
        pw_duckdb_sink.write(table, table_name="t", database=db_path, output_table_type="snapshot",
                             primary_key=[table.a], retention=dt.timedelta(days=1))


def _baseline(db_path, **kwargs):
    import pathway as pw

    from pw_duckdb_sink import read_baseline

    base = read_baseline(database=db_path, table_name="sales", key=["country"], aggregates={
        "total": ("sum", "amount"), "n": "count", "lo": ("min", "amount"), "hi": ("max", "amount")}, **kwargs)
    frame = pw.debug.table_to_pandas(base)
    pw.internals.parse_graph.G.clear()
    clean = frame.astype(object).where(frame.notna(), None)
    return {r["country"]: (r["total"], r["n"], r["lo"], r["hi"]) for r in clean.to_dict("records")}


@pytest.mark.parametrize("spelling", ["sales", "SALES"])  # DuckDB resolves names ignoring case
def test_read_baseline_is_the_same_before_and_after_compaction(log, db_path, tmp_path, spelling):
    import pathway as pw

    con, states = log
    times = sorted(states)
    storage = tmp_path / "pstorage"
    storage.mkdir()
    (storage / "state").write_text("x")  # a restored session: writer 'a' is left out
    cfg = pw.persistence.Config(pw.persistence.Backend.filesystem(storage))
    before = _baseline(db_path)
    before_without_a = _baseline(db_path, exclude_writer="a", persistence_config=cfg)
    # The all-time baseline is the aggregate of the final state, computed here from the simulation.
    final = states[times[-1]]
    expect = {}
    for country in {c for c, _ in final}:
        amounts = [a for (c, a), k in final.items() if c == country for _ in range(k)]
        present = [a for a in amounts if a is not None]
        expect[country] = (sum(present) if present else None, len(amounts),
                           min(present, default=None), max(present, default=None))
    assert before == expect  # amounts are 1, 2 and 2.5: float sums are exact
    assert before_without_a != before  # leaving out writer 'a' matters, so keeping it right does too
    result = compact(con, spelling, times[45])
    assert result.rows_after < result.rows_before
    assert _baseline(db_path) == before
    assert _baseline(db_path, exclude_writer="a", persistence_config=cfg) == before_without_a


def test_writer_retention_catches_up_in_bounded_steps(db_path, monkeypatch):
    """A long log under a new retention= is compacted over several commits, each folding in at
    most MAX_ROWS_PER_COMPACTION old rows, so no single minibatch stalls on the whole history."""
    import types

    from pw_duckdb_sink import _retention

    budget = 60
    monkeypatch.setattr(_retention, "MAX_ROWS_PER_COMPACTION", budget)
    con = duckdb.connect(str(db_path))
    changes, states = simulate(8, batches=200, start_ms=START)
    write_log(con, "sales", changes, writers={t: ["w"] for t in states})
    times = sorted(states)
    all_time = consolidate(con, "sales")
    rows_at = Counter(c[2] for c in changes)
    now, keep = times[-1], times[-1] - times[150]
    spec = types.SimpleNamespace(retention_ms=keep, snapshot=False, table_name="sales")
    writer_state, done, steps = {}, -(2**62), 0
    while True:
        con.execute("BEGIN TRANSACTION")
        _retention.maybe_compact(con, writer_state, spec, now)
        con.execute("COMMIT")
        reached = compacted_horizon(con, "sales")
        if reached is None or reached == done:
            break
        folded = sum(n for t, n in rows_at.items() if done < t <= reached)
        assert folded <= budget or len([t for t in rows_at if done < t <= reached]) == 1
        done, steps = reached, steps + 1
    assert steps > 1  # it took several commits
    assert sum(rows_at.values()) > budget * steps  # and never the whole log at once
    assert done > now - keep - keep // 4  # it caught up to within a quarter retention of the horizon
    for t in times:
        if t >= done:
            assert rows_of(as_of(con, "sales", t)) == states[t]
    assert consolidate(con, "sales") == all_time


def test_read_baseline_refuses_time_bounds_inside_the_compacted_past(log, db_path):
    import datetime as dt

    con, states = log
    times = sorted(states)
    horizon = times[30]
    compact(con, "sales", horizon)
    at = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)  # noqa: E731
    for bound in ({"until": at(times[10])}, {"until": at(horizon)}, {"since": at(times[5])}):
        with pytest.raises(ValueError, match=r"compacted up to time .*: the changes up to that moment were folded"):
            _baseline(db_path, **bound)
    # After the horizon the states are intact: until = the next minibatch's time is the state at the horizon.
    got = _baseline(db_path, until=at(times[31]))
    final = states[times[30]]
    assert {c: n for c, (_, n, _, _) in got.items()} == {
        c: sum(k for (cc, _), k in final.items() if cc == c) for c in {c for c, _ in final}}


def test_history_refuses_bounds_inside_the_compacted_past(log, db_path):
    from pw_duckdb_sink._time_travel import history

    con, states = log
    times = sorted(states)
    compact(con, "sales", times[30])
    for bound in ({"since": times[30]}, {"until": times[29]}):
        with pytest.raises(ValueError, match="compacted up to time"):
            history(con, "sales", key={"country": "PL"}, **bound)
    later = history(con, "sales", key={"country": "PL"}, since=times[31]).to_pylist()
    assert all(r["time"] >= times[31] for r in later)
