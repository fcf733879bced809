"""Reconciling minibatches with a named writer's committed state, without a pipeline.

Batches are built as the core writer builds them (user columns, _pw_diff, _pw_time, _pw_key,
and _pw_seq for snapshots) and fed to the hook; the tests check what comes out and what a
change log then consolidates to, against a keyed table kept in Python.
"""

from __future__ import annotations

import random
from collections import Counter
from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pytest
from pathway.internals import dtype as dt

from pw_duckdb_sink import _types
from pw_duckdb_sink._exactly_once import reconcile, state_table

COLUMNS = ("country", "amount")


def _spec(name="w", snapshot=False):
    return SimpleNamespace(name=name, table_name="sales", columns=COLUMNS, snapshot=snapshot,
                           init_mode="create_if_not_exists",
                           types=(_types.column_type(dt.Optional(dt.STR)), _types.column_type(dt.FLOAT)))


def _batch(changes, time, seq_from=None):
    """changes: (key, country, amount, diff) -> a batch like the core writer's."""
    data = {
        "country": pa.array([c[1] for c in changes], pa.string()),
        "amount": pa.array([c[2] for c in changes], pa.float64()),
        "_pw_diff": pa.array([c[3] for c in changes], pa.int16()),
        "_pw_time": pa.array([time] * len(changes), pa.int64()),
    }
    if seq_from is not None:
        data["_pw_seq"] = pa.array(range(seq_from, seq_from + len(changes)), pa.int64())
    data["_pw_key"] = pa.array([c[0] for c in changes], pa.string())
    return pa.table(data)


def _rows(out):
    d = out.to_pydict()
    return Counter(zip(d["_pw_key"], d["country"], d["amount"], d["_pw_diff"]))


class Sink:
    """A change log fed through reconcile, one transaction per batch, like the core writer."""

    def __init__(self, con, spec):
        self.con, self.spec, self.state = con, spec, {}
        con.execute("CREATE TABLE IF NOT EXISTS sales (country VARCHAR, amount DOUBLE, time BIGINT, diff SMALLINT)")

    def deliver(self, changes, time):
        self.con.execute("BEGIN")
        out = reconcile(self.con, self.state, self.spec, _batch(changes, time))
        self.con.register("out_view", out)
        self.con.execute("INSERT INTO sales SELECT country, amount, _pw_time, _pw_diff FROM out_view")
        self.con.unregister("out_view")
        self.con.execute("COMMIT")
        return out

    def consolidated(self):
        rows = self.con.execute("SELECT country, amount, SUM(diff)::BIGINT FROM sales GROUP BY ALL "
                                "HAVING SUM(diff) <> 0").fetchall()
        return Counter({(c, a): n for c, a, n in rows})


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


def test_normal_minibatches_pass_unchanged(con):
    sink = Sink(con, _spec())
    first = [("k1", "PL", 1.0, 1), ("k2", "DE", 2.0, 1)]
    assert _rows(sink.deliver(first, 10)) == Counter((*c[:3], c[3]) for c in first)
    update = [("k1", "PL", 1.0, -1), ("k1", "PL", 5.0, 1), ("k2", "DE", 2.0, -1)]
    assert _rows(sink.deliver(update, 12)) == Counter(update)


def test_a_replayed_minibatch_becomes_empty(con):
    sink = Sink(con, _spec())
    batch = [("k1", "PL", 1.0, 1), ("k2", None, 2.0, 1)]
    sink.deliver(batch, 10)
    # After a crash: the same changes again, at a new time.
    assert sink.deliver(batch, 20).num_rows == 0
    update = [("k1", "PL", 1.0, -1), ("k1", "PL", 3.0, 1)]
    sink.deliver(update, 22)
    # Restored from before both, Pathway re-emits its state in one minibatch: nothing changes.
    assert sink.deliver([("k1", "PL", 3.0, 1), ("k2", None, 2.0, 1)], 30).num_rows == 0
    assert con.execute("SELECT count(*) FROM sales").fetchall()[0][0] == 4


def test_replaying_older_minibatches_one_by_one_ends_in_the_same_state(con):
    sink = Sink(con, _spec())
    batches = [[("k1", "PL", 1.0, 1)], [("k1", "PL", 1.0, -1), ("k1", "PL", 3.0, 1)]]
    for t, b in enumerate(batches):
        sink.deliver(b, 10 + t)
    expected = sink.consolidated()
    for t, b in enumerate(batches):
        sink.deliver(b, 20 + t)
    assert sink.consolidated() == expected == Counter({("PL", 3.0): 1})


def test_a_delta_from_an_older_state_is_turned_into_the_right_changes(con):
    sink = Sink(con, _spec())
    sink.deliver([("k1", "PL", 1.0, 1)], 10)
    sink.deliver([("k1", "PL", 1.0, -1), ("k1", "PL", 2.0, 1)], 12)
    # Restored at time 10, Pathway now says 1.0 -> 3.0: the committed row is 2.0.
    out = sink.deliver([("k1", "PL", 1.0, -1), ("k1", "PL", 3.0, 1)], 20)
    assert _rows(out) == Counter([("k1", "PL", 2.0, -1), ("k1", "PL", 3.0, 1)])
    # And a retraction of a row that is no longer there removes what is.
    out = sink.deliver([("k1", "PL", 2.0, -1)], 22)
    assert _rows(out) == Counter([("k1", "PL", 3.0, -1)])
    assert sink.consolidated() == Counter()


def test_an_update_split_over_chunks_of_one_minibatch(con):
    spec, state = _spec(), {}
    con.execute("CREATE TABLE sales (country VARCHAR, amount DOUBLE, time BIGINT, diff SMALLINT)")
    con.execute("BEGIN")
    reconcile(con, state, spec, _batch([("k1", "PL", 1.0, 1)], 10))
    con.execute("COMMIT")
    con.execute("BEGIN")
    # max_batch_size cut the update: the insertion came first, its pre-image in the next chunk.
    first = reconcile(con, state, spec, _batch([("k1", "PL", 2.0, 1)], 12))
    second = reconcile(con, state, spec, _batch([("k1", "PL", 1.0, -1)], 12))
    con.execute("COMMIT")
    assert _rows(first) == Counter([("k1", "PL", 1.0, -1), ("k1", "PL", 2.0, 1)])
    assert second.num_rows == 0
    kept = con.execute(f'SELECT country, amount FROM "{state_table("sales", "w")}"').fetchall()
    assert kept == [("PL", 2.0)]


def test_snapshot_chunks_get_increasing_sequence_numbers(con):
    spec, state = _spec(snapshot=True), {}
    con.execute("BEGIN")
    out = reconcile(con, state, spec, _batch([("k1", "PL", 1.0, 1), ("k2", "DE", 1.0, 1)], 10, seq_from=5))
    con.execute("COMMIT")
    assert sorted(out.column("_pw_seq").to_pylist()) == [5, 6]
    con.execute("BEGIN")
    out = reconcile(con, state, spec, _batch([("k1", "PL", 2.0, 1), ("k1", "PL", 1.0, -1)], 12, seq_from=0))
    con.execute("COMMIT")
    d = out.to_pydict()
    # The retraction reads first, then the insertion.
    assert list(zip(d["_pw_diff"], d["_pw_seq"])) == [(-1, 0), (1, 1)]


def test_unnamed_writers_pass_batches_through(con):
    batch = _batch([("k1", "PL", 1.0, 1)], 10)
    assert reconcile(con, {}, _spec(name=None), batch) is batch


def _pathway_like_run(seed, *, keys=8, times=40, monotone=False):
    """The declared changes per time of a keyed table, and its states after each time.

    ``monotone``: keys are never deleted and each new value is larger (a running total)."""
    rng = random.Random(seed)
    state, per_time, states = {}, [], []
    for t in range(times):
        changes = []
        for k in rng.sample(range(keys), rng.randint(1, 3)):
            key = f"k{k}"
            new = (rng.choice(["PL", "DE"]), float(t) if monotone else float(rng.randint(1, 4)))
            old = state.get(key)
            if old == new:
                continue  # Pathway emits nothing for a key that does not change
            if old is not None:
                changes.append((key, *old, -1))
                del state[key]
            if monotone or rng.random() < 0.8:
                changes.append((key, *new, 1))
                state[key] = new
        rng.shuffle(changes)  # the order inside a minibatch carries no meaning
        per_time.append(changes)
        states.append(dict(state))
    return per_time, states


def _delta(before: dict, after: dict):
    """What Pathway emits when its state goes from `before` to `after` in one minibatch."""
    out = []
    for key in before.keys() | after.keys():
        if before.get(key) != after.get(key):
            if key in before:
                out.append((key, *before[key], -1))
            if key in after:
                out.append((key, *after[key], 1))
    return out


def _replay(sink, rng, per_time, states, clock, i, *, coarse):
    """A crash after committing time i: Pathway restarts from a frontier f <= i and re-emits
    what follows, per original minibatch, or (coarse) consolidated into one delta."""
    frontier = rng.randint(0, i)
    catch_up = min(len(per_time) - 1, i + rng.randint(0, 2))
    if coarse:
        before = states[frontier - 1] if frontier else {}
        sink.deliver(_delta(before, states[catch_up]), clock)
        return clock + 2, catch_up
    for j in range(frontier, catch_up + 1):
        sink.deliver(per_time[j], clock)
        clock += 2
    return clock, catch_up


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("coarse", [False, True], ids=["per-minibatch", "consolidated"])
def test_crash_replays_converge_to_the_declared_state(con, seed, coarse):
    # A consolidated catch-up only shows the keys that differ from the restored state, so
    # values move one way there (like a running total): a key that went back to its value at
    # the frontier would not be re-sent (the limit documented in the README).
    per_time, states = _pathway_like_run(seed, monotone=coarse)
    rng = random.Random(seed)
    sink = Sink(con, _spec())
    clock, i = 1000, 0
    while i < len(per_time):
        sink.deliver(per_time[i], clock)
        clock += 2
        if rng.random() < 0.25 and i > 0:
            clock, i = _replay(sink, rng, per_time, states, clock, i, coarse=coarse)
        i += 1
    assert sink.consolidated() == Counter(states[-1].values())
    # No row is ever retracted below zero along the way: every prefix is a valid state.
    prefix = con.execute("SELECT min(n) FROM (SELECT SUM(diff) OVER (PARTITION BY country, amount "
                         "ORDER BY time ROWS UNBOUNDED PRECEDING) n FROM sales)").fetchall()[0][0]
    assert prefix >= 0
