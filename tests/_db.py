"""Set up a DuckDB file for a test through a connection of its own, closed after."""

import duckdb


def execute(db_path, *sql):
    con = duckdb.connect(str(db_path))
    try:
        for stmt in sql:
            con.execute(stmt)
    finally:
        con.close()
