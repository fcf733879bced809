"""Exactly-once for named writers: reconcile each minibatch with the state already committed.

After a crash Pathway delivers again what it had not persisted, with *new* minibatch times but
the *same* row keys. A named writer (``write(name=...)``) therefore keeps, in a hidden table
updated in the data's own transaction, the row it has committed for every live Pathway key:

    "_pw_duckdb_sink_state__<table>__<name>__<hash>" (_pw_key VARCHAR, _pw_time BIGINT, <user columns>)

and turns each minibatch into the changes that take that committed state to the state the
minibatch declares for the keys it touches:

* a key with an insertion in the minibatch should hold that row;
* a key with only a retraction should be absent, except when the committed row was set at this
  very time to another row: that retraction is the pre-image of an update whose insertion came
  in an earlier chunk of the same minibatch (``max_batch_size``), so it is stale;
* then: committed row missing or different -> retract it (with the committed values) and insert
  the target; equal -> nothing. A replayed minibatch thus becomes empty.

In the normal path the result equals the input (the retraction Pathway sends is the committed
row), at the cost of one hash join of the minibatch's keys against the state table. Everything
is set-based SQL over the Arrow batch; no Python runs per row.

The state carries over only into a run that restores from Pathway persistence. Any other run
is a new session: Pathway sends everything afresh, as to the native writer, so at start-up the
writer drops its state and passes that run's batches through. Creating or replacing the
destination drops the state too (it described rows that are gone).

Unnamed writers are at-least-once: their batches pass unchanged.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from ._run_context import run_restores_from_persistence
from ._sql import quote_ident

STATE_PREFIX = "_pw_duckdb_sink_state__"
_BATCH = "_pw_duckdb_sink_eo_batch"  # the incoming chunk, registered from Arrow
_DECIDED = "_pw_duckdb_sink_eo_decided"  # temp: per touched key, target vs committed
_ORD = "_pw_duckdb_sink_ord"  # arrival order inside the chunk
KEY, DIFF, TIME, SEQ = "_pw_key", "_pw_diff", "_pw_time", "_pw_seq"


def state_table(table_name: str, writer_name: str) -> str:
    # Names may contain the separator ("a__b" + "c" vs "a" + "b__c"): a hash of the pair keeps
    # two writers apart, the readable part is for people browsing the database.
    digest = hashlib.sha256(json.dumps([table_name, writer_name]).encode()).hexdigest()[:12]
    return f"{STATE_PREFIX}{table_name}__{writer_name}__{digest}"


def start(con, writer_state: dict, spec, *, created: bool) -> None:
    """At the writer's start-up, in its start-up transaction: drop a state that does not apply.

    ``created``: the destination was just created or replaced, so the state describes rows that
    are gone. A run that does not restore from persistence is a new session: no state carries
    over, and reconciling would be the identity (nothing is replayed), so batches pass through.
    """
    if spec.name is None:
        return
    persistent = run_restores_from_persistence()
    if created or not persistent:
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(state_table(spec.table_name, spec.name))}")
    writer_state["eo_passthrough"] = not persistent


def reconcile(con, writer_state: dict, spec, batch: pa.Table) -> pa.Table:
    """The writer's ``reconcile`` hook (see ``_writer.reconcile``)."""
    if spec.name is None or writer_state.get("eo_passthrough"):
        return batch
    state = state_table(spec.table_name, spec.name)
    if not writer_state.get("eo_ready"):
        _ensure_state(con, state, spec)
        writer_state["eo_ready"] = True
    if batch.num_rows == 0:
        return batch
    time = batch.column(TIME)[0].as_py()
    n = len(spec.columns)
    con.register(_BATCH, batch.append_column(_ORD, pa.array(range(batch.num_rows), pa.int64())))
    try:
        _decide(con, state, spec.columns, time)
    finally:
        con.unregister(_BATCH)
    params = {"t": time}
    if spec.snapshot:  # the sequence numbers of this chunk go on from where the core put them
        params["seq"] = batch.column(SEQ)[0].as_py()
    out = con.sql(_changes_query(spec.columns, spec.snapshot), params=params).to_arrow_table()
    # The state follows: keys that change, or are re-declared at this time, are rewritten.
    con.execute(f"DELETE FROM {quote_ident(state)} WHERE {KEY} IN "
                f"(SELECT k FROM {quote_ident(_DECIDED)} WHERE has_s AND (has_i OR NOT keep))")
    cols = ", ".join(f"i{j}" for j in range(n))
    con.execute(f"INSERT INTO {quote_ident(state)} SELECT k, $t{', ' + cols if n else ''} "
                f"FROM {quote_ident(_DECIDED)} WHERE has_i", {"t": time})
    con.execute(f"DROP TABLE IF EXISTS {quote_ident(_DECIDED)}")
    return out


def _ensure_state(con, state: str, spec) -> None:
    """Create the state table (anew with init_mode='replace'); refuse one of another shape."""
    wanted = [(KEY, "VARCHAR"), (TIME, "BIGINT")] + [(c, t.duckdb) for c, t in zip(spec.columns, spec.types)]
    existing = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = ? ORDER BY column_index", [state]).fetchall()
    if existing and spec.init_mode != "replace":
        if [c.lower() for c, _ in existing] != [c.lower() for c, _ in wanted]:
            raise RuntimeError(
                f"pw_duckdb_sink: the committed state of writer {spec.name!r} for table "
                f"{spec.table_name!r} ({state!r}) has columns {[c for c, _ in existing]}, not "
                f"{[c for c, _ in wanted]}; the table changed shape. Use a new name=, or "
                f"init_mode='replace' to start the table over.")
        return
    body = ", ".join(f"{quote_ident(c)} {t}" for c, t in wanted)
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(state)} ({body})")


def _decide(con, state: str, columns, time: int) -> None:
    """Temp table: per key of the chunk, its target row (i*), committed row (s*) and flags."""
    n = len(columns)
    q = [quote_ident(c) for c in columns]
    last = f"QUALIFY row_number() OVER (PARTITION BY {KEY} ORDER BY {_ORD} DESC) = 1"
    ins = f"SELECT * FROM {_BATCH} WHERE {DIFF} > 0 {last}"
    ret = f"SELECT * FROM {_BATCH} WHERE {DIFF} < 0 {last}"
    picks = ", ".join([f"ins.{_ORD} AS io", f"ret.{_ORD} AS ro"] +
                      [f"ins.{c} AS i{j}" for j, c in enumerate(q)] +
                      [f"s.{c} AS s{j}" for j, c in enumerate(q)])
    same_as_ret = " AND ".join(f"s.{c} IS NOT DISTINCT FROM ret.{c}" for c in q) or "TRUE"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(_DECIDED)} AS "
        f"WITH ins AS ({ins}), ret AS ({ret}), keys AS (SELECT DISTINCT {KEY} FROM {_BATCH}) "
        f"SELECT keys.{KEY} AS k, ins.{KEY} IS NOT NULL AS has_i, s.{KEY} IS NOT NULL AS has_s, "
        f"(ins.{KEY} IS NULL AND s.{KEY} IS NOT NULL AND ret.{KEY} IS NOT NULL "
        f" AND s.{TIME} = $t AND NOT ({same_as_ret})) AS keep"
        f", {picks} "
        f"FROM keys LEFT JOIN ins ON ins.{KEY} = keys.{KEY} "
        f"LEFT JOIN ret ON ret.{KEY} = keys.{KEY} "
        f"LEFT JOIN {quote_ident(state)} AS s ON s.{KEY} = keys.{KEY}",
        {"t": time})


def _changes_query(columns, snapshot: bool) -> str:
    """The changes taking the committed rows to the targets: retractions, then insertions."""
    n = len(columns)
    same = " AND ".join(f"i{j} IS NOT DISTINCT FROM s{j}" for j in range(n)) or "TRUE"
    differs = f"NOT (has_i AND has_s AND {same})"

    # Keep the chunk's arrival order (sort_by): each change goes where its input change was. A
    # snapshot's retraction goes just before its key's insertion, so the insertion has the
    # higher sequence number and wins.
    ret_ord = "coalesce(io, ro)" if snapshot else "coalesce(ro, io)"

    def side(prefix: str, diff: int, where: str) -> str:
        vals = [f"{prefix}{j} AS {quote_ident(c)}" for j, c in enumerate(columns)]
        extra = [f"CAST({diff} AS SMALLINT) AS {DIFF}", f"CAST($t AS BIGINT) AS {TIME}", f"k AS {KEY}",
                 f"{0 if diff < 0 else 1} AS _pw_duckdb_sink_side",
                 f"{ret_ord if diff < 0 else 'io'} AS {_ORD}"]
        return f"SELECT {', '.join(vals + extra)} FROM {quote_ident(_DECIDED)} WHERE {where}"

    both = (f"{side('s', -1, f'has_s AND NOT keep AND {differs}')} UNION ALL "
            f"{side('i', 1, f'has_i AND {differs}')}")
    cols = ", ".join(quote_ident(c) for c in columns)
    head = f"{cols}, " if n else ""
    order = f"{_ORD}, _pw_duckdb_sink_side"
    seq = (f", CAST($seq + row_number() OVER (ORDER BY {order}) - 1 AS BIGINT) "
           f"AS {SEQ}") if snapshot else ""
    return (f"SELECT {head}{DIFF}, {TIME}{seq}, {KEY} FROM ({both}) ORDER BY {order}")
