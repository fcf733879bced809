"""The pipeline the crash test kills and restarts (run as a subprocess, not collected by pytest).

    python exactly_once_pipeline.py INPUT_DIR DATABASE PERSISTENCE_DIR streaming|static

Input events (JSON lines: id, user, amount) -> a change log of the events, a change log of the
per-user totals, and a snapshot of the totals, all through named writers with Pathway
persistence, so a restart resumes where the last run left off.
"""

import sys

import pathway as pw

import pw_duckdb_sink


class Event(pw.Schema):
    id: int
    user: str
    amount: int


def main(input_dir: str, database: str, persistence_dir: str, mode: str) -> None:
    events = pw.io.jsonlines.read(input_dir, schema=Event, mode=mode, name="events_in",
                                  autocommit_duration_ms=20)
    totals = events.groupby(pw.this.user).reduce(
        pw.this.user, total=pw.reducers.sum(pw.this.amount), n=pw.reducers.count())
    common = dict(database=database, init_mode="create_if_not_exists", detach_between_batches=True)
    pw_duckdb_sink.write(events, table_name="events", name="events", **common)
    pw_duckdb_sink.write(totals, table_name="totals_log", name="totals_log", **common)
    pw_duckdb_sink.write(totals, table_name="totals", name="totals", output_table_type="snapshot",
                         primary_key=[totals.user], **common)
    pw.run(monitoring_level=pw.MonitoringLevel.NONE,
           persistence_config=pw.persistence.Config(pw.persistence.Backend.filesystem(persistence_dir)))


if __name__ == "__main__":
    main(*sys.argv[1:5])
