"""The command line: `inspect` lists what the sink wrote; `demo` validates its options."""

import datetime as dt

import duckdb
import pathway as pw
import pytest
from click.testing import CliRunner

import pw_duckdb_sink
from pw_duckdb_sink.cli import main


@pytest.fixture
def written(db_path):
    orders = pw.debug.table_from_markdown("""
        shop | amount
        a    | 5
        b    | 7
        a    | 1
    """)
    per_shop = orders.groupby(pw.this.shop).reduce(pw.this.shop, revenue=pw.reducers.sum(pw.this.amount))
    pw_duckdb_sink.write(orders, table_name="orders", database=str(db_path),
                         init_mode="create_if_not_exists", name="orders_log")
    pw_duckdb_sink.write(per_shop, table_name="per_shop", database=str(db_path),
                         init_mode="create_if_not_exists", output_table_type="snapshot",
                         primary_key=[per_shop.shop])
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    return db_path


def test_inspect_lists_each_table_with_kind_key_rows_and_last_commit(written):
    con = duckdb.connect(str(written), read_only=True)
    catalog = {r[0]: r[1:] for r in con.execute(
        "SELECT table_name, kind, last_time, rows_written FROM _pw_duckdb_sink_tables").fetchall()}
    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in catalog}
    con.close()

    result = CliRunner().invoke(main, ["inspect", str(written)])

    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in result.output.splitlines() if line.startswith("│")}
    assert set(lines) == {"orders", "per_shop"}
    for table, (kind, last_time, rows_written) in catalog.items():
        shown_kind, key, writer, rows, changes, last = lines[table]
        assert shown_kind == kind
        assert int(rows.replace(",", "")) == counts[table]
        assert int(changes.replace(",", "")) == rows_written
        stamp = dt.datetime.fromtimestamp(last_time / 1000, dt.timezone.utc)
        assert last == stamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    assert lines["per_shop"][1] == "shop" and lines["orders"][1] == "-"
    assert lines["orders"][2] == "orders_log" and lines["per_shop"][2] == "-"


def test_inspect_of_a_missing_file_says_what_to_pass(tmp_path):
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "nope.duckdb")])
    assert result.exit_code == 1
    assert "no DuckDB file at" in result.output


def test_inspect_of_a_database_the_sink_never_wrote(db_path):
    duckdb.connect(str(db_path)).execute("CREATE TABLE mine (x INT)").close()
    result = CliRunner().invoke(main, ["inspect", str(db_path)])
    assert result.exit_code == 0
    assert "no tables written by pw-duckdb-sink" in result.output


@pytest.mark.parametrize("args, message", [
    (["--speed", "0"], "speed must be a positive"),
    (["--port", "70000"], "port must be between"),
])
def test_demo_refuses_bad_options_before_starting(tmp_path, args, message):
    result = CliRunner().invoke(main, ["demo", "--data-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "cdnow.duckdb").exists()


def test_demo_help_names_every_option():
    result = CliRunner().invoke(main, ["demo", "--help"])
    for option in ("--data-dir", "--database", "--port", "--speed", "--once", "--no-dashboard",
                   "--reset"):
        assert option in result.output
