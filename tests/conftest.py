"""Shared fixtures: a fresh Pathway graph per test and the vendored CDNOW log."""

from pathlib import Path

import pathway as pw
import pytest

CDNOW_PATH = Path(__file__).resolve().parent.parent / "pw_duckdb_sink" / "data" / "CDNOW_master.txt"


@pytest.fixture(autouse=True)
def fresh_graph():
    """Each test builds its own Pathway graph; a leftover one would run again in pw.run()."""
    pw.internals.parse_graph.G.clear()
    yield
    pw.internals.parse_graph.G.clear()


@pytest.fixture
def cdnow_path() -> Path:
    return CDNOW_PATH


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "sink.duckdb"


@pytest.fixture
def query():
    """Run SQL on a DuckDB file through a separate read-only connection (closed after)."""
    import duckdb

    def run(database, sql, params=None):
        con = duckdb.connect(str(database), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    return run
