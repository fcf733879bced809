"""What the sink wrote into a database: its tables, their kind, keys, rows and last commit."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from . import _catalog
from ._connect import connect
from ._sql import quote_ident


@dataclass(frozen=True)
class TableInfo:
    table_name: str
    kind: str  # 'stream_of_changes' | 'snapshot'
    primary_key: list[str] | None
    writer_name: str | None
    rows: int  # rows in the table now
    rows_written: int  # changes committed in all
    last_time: int | None  # minibatch time (ms epoch) of the last commit
    updated_at: dt.datetime | None

    @property
    def last_time_utc(self) -> dt.datetime | None:
        if self.last_time is None:
            return None
        return dt.datetime.fromtimestamp(self.last_time / 1000, dt.timezone.utc)


def describe_tables(database: str | os.PathLike) -> list[TableInfo]:
    """Every table the sink registered in ``database`` (read-only; empty if it wrote none)."""
    if not os.path.isfile(database):
        raise ValueError(f"no DuckDB file at {os.fspath(database)!r}; pass the path of a database "
                         "the sink wrote (e.g. data/cdnow.duckdb after `pw-duckdb-sink demo`)")
    con = connect(database, read_only=True)
    try:
        infos = []
        for entry in _catalog.read_tables(con):
            name = entry["table_name"]
            rows = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()[0] \
                if _catalog.table_exists(con, name) else 0
            infos.append(TableInfo(
                table_name=name, kind=entry["kind"], primary_key=entry["primary_key"],
                writer_name=entry["writer_name"], rows=int(rows),
                rows_written=int(entry["rows_written"]), last_time=entry["last_time"],
                updated_at=entry["updated_at"]))
        return infos
    finally:
        con.close()
