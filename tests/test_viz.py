"""The PathwayViz bridge pre-fills widgets from DuckDB tables, paced and in pathway-viz's format."""

import datetime as dt
import random
import threading
import time

import duckdb
import pathway as pw
import pytest

pv = pytest.importorskip("pathwayviz")

from pw_duckdb_sink import viz  # noqa: E402

from tests._pv_client import free_port, history_of, messages  # noqa: E402

WIDGETS = ["chart_big", "chart_log", "stat_one", "table_top", "chart_epoch", "chart_time", "stat_nan",
           "table_nan"]


@pytest.fixture(scope="module")
def server():
    # pathway-viz runs one server per process: one for the whole module, a widget per test.
    pw.internals.parse_graph.G.clear()
    t = pw.debug.table_from_markdown("v\n1")
    srv = pv.WidgetServer(port=free_port())
    for widget_id in WIDGETS:
        if widget_id.startswith("table"):
            srv.register(pv.Table(t, id=widget_id))
        elif widget_id.startswith("stat"):
            srv.register(pv.Stat(t, "v", id=widget_id))
        else:
            srv.register(pv.Chart(t, "v", id=widget_id, max_points=1000))
    srv.start()
    yield srv
    pw.internals.parse_graph.G.clear()


def _ms(value: dt.datetime) -> int:
    return round(value.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


def test_chart_gets_latest_1000_rows_ascending_in_ms(server, db_path):
    start = dt.datetime(1997, 1, 1)
    rows = [(start + dt.timedelta(hours=i), float(i) * 1.5) for i in range(1500)]
    random.Random(7).shuffle(rows)
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE daily (day TIMESTAMP PRIMARY KEY, revenue DOUBLE)")
    con.executemany("INSERT INTO daily VALUES (?, ?)", rows)
    con.close()

    report = viz.preload_chart(server, widget_id="chart_big", database=db_path,
                               table_name="daily", time_column="day", value_column="revenue")

    expected = [[_ms(t), v] for t, v in sorted(rows)[-1000:]]
    assert report.messages == 1000
    assert (report.first_ms, report.last_ms) == (expected[0][0], expected[-1][0])
    assert history_of(server.port, "chart_big", points=1000) == expected


def test_chart_from_change_log_shows_only_the_consolidated_state(server, db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE log (t BIGINT, v BIGINT, time BIGINT, diff SMALLINT)")
    changes = [(1000, 1, 1, 1), (2000, 2, 1, 1), (2000, 2, 2, -1), (2000, 3, 2, 1),
               (3000, 4, 3, 1), (3000, 4, 4, -1)]
    con.executemany("INSERT INTO log VALUES (?, ?, ?, ?)", changes)
    con.close()
    state = {}
    for t, v, _, diff in changes:
        state[(t, v)] = state.get((t, v), 0) + diff
    expected = sorted([t, v] for (t, v), n in state.items() if n > 0)

    viz.preload_chart(server, widget_id="chart_log", database=db_path, table_name="log",
                      time_column="t", value_column="v")

    assert history_of(server.port, "chart_log", points=len(expected)) == expected


def test_integer_times_are_taken_as_milliseconds(server, db_path):
    con = duckdb.connect(str(db_path))
    con.execute('CREATE TABLE m ("at" BIGINT, v DOUBLE)')
    con.executemany("INSERT INTO m VALUES (?, ?)", [(1_700_000_000_123, 2.5), (1_700_000_000_001, 1.0)])
    con.close()
    viz.preload_chart(server, widget_id="chart_epoch", database=db_path, table_name="m",
                      time_column="at", value_column="v")
    assert history_of(server.port, "chart_epoch", points=2) == [[1_700_000_000_001, 1.0],
                                                    [1_700_000_000_123, 2.5]]


def test_stat_shows_the_row_with_the_latest_time(server, db_path):
    con = duckdb.connect(str(db_path))
    con.execute('CREATE TABLE totals (revenue DOUBLE, "at" TIMESTAMP)')
    con.executemany("INSERT INTO totals VALUES (?, ?)",
                    [(10.5, dt.datetime(1998, 1, 1)), (99.25, dt.datetime(1998, 6, 30)),
                     (42.0, dt.datetime(1997, 3, 1))])
    con.close()
    report = viz.preload_stat(server, widget_id="stat_one", database=db_path, table_name="totals",
                              value_column="revenue", time_column="at")
    assert report.messages == 1
    assert history_of(server.port, "stat_one", points=1) == [[_ms(dt.datetime(1998, 6, 30)), 99.25]]


def test_table_rows_are_upserted_keyed_by_the_key_column(server, db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE top (rank BIGINT PRIMARY KEY, customer BIGINT, spend DOUBLE)")
    rows = [(r, 1000 + r, 500.0 - r) for r in range(1, 16)]
    con.executemany("INSERT INTO top VALUES (?, ?, ?)", rows)
    con.close()
    got = []
    listener = threading.Thread(target=lambda: got.extend(messages(server.port, seconds=2.0)))
    listener.start()
    time.sleep(0.5)  # let the client connect before the rows go out
    report = viz.preload_table(server, widget_id="table_top", database=db_path, table_name="top",
                               key_column="rank", columns=["rank", "customer", "spend"],
                               order_by="rank", descending=False, limit=10)
    listener.join()
    sent = [m for m in got if m.get("widget") == "table_top"]
    assert report.messages == 10
    assert [(m["op"], m["key"]) for m in sent] == [("upsert", str(r)) for r in range(1, 11)]
    assert [tuple(m["row"].values()) for m in sent] == rows[:10]


def test_missing_database_preloads_nothing(server, tmp_path):
    report = viz.preload_chart(server, widget_id="chart_big", database=tmp_path / "none.duckdb",
                               table_name="daily", time_column="day", value_column="revenue")
    assert report.messages == 0


def test_missing_table_is_a_clear_error(server, db_path):
    duckdb.connect(str(db_path)).close()
    with pytest.raises(ValueError, match="does not exist"):
        viz.preload_chart(server, widget_id="chart_big", database=db_path, table_name="nope",
                          time_column="day", value_column="revenue")


def test_unknown_widget_is_a_clear_error(server, db_path):
    with pytest.raises(ValueError, match="no widget 'other' is registered"):
        viz.preload_stat(server, widget_id="other", database=db_path, table_name="t",
                         value_column="v")


def test_preload_before_start_is_refused(db_path):
    not_started = pv.WidgetServer(port=free_port())
    with pytest.raises(RuntimeError, match="after server.start"):
        viz.preload_chart(not_started, widget_id="x", database=db_path, table_name="t",
                          time_column="a", value_column="b")


def test_too_many_points_is_refused(server, db_path):
    with pytest.raises(ValueError, match="1000 points per widget"):
        viz.preload_chart(server, widget_id="chart_big", database=db_path, table_name="daily",
                          time_column="day", value_column="revenue", max_points=1001)


def test_a_change_log_charted_by_its_own_time_under_another_spelling(server, db_path):
    # time_column="time" on a change log: each current row at the time it was last inserted.
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE totals_log (v DOUBLE, time BIGINT, diff SMALLINT)")
    changes = [(1.0, 1_700_000_000_000, 1), (1.0, 1_700_000_002_000, -1), (2.0, 1_700_000_002_000, 1),
               (5.0, 1_700_000_004_000, 1)]
    con.executemany("INSERT INTO totals_log VALUES (?, ?, ?)", changes)
    con.close()
    report = viz.preload_chart(server, widget_id="chart_time", database=db_path, table_name="TOTALS_LOG",
                               time_column="TIME", value_column="V")
    assert report.messages == 2
    assert history_of(server.port, "chart_time", points=2) == [[1_700_000_002_000, 2.0], [1_700_000_004_000, 5.0]]


@pytest.mark.parametrize("kwargs, message", [
    ({"value_column": "revnue"}, r"has no column\(s\) \['revnue'\]; its columns are \['day', 'revenue', 'label'\]"),
    ({"value_column": "label"}, r"column 'label' of 'bad' holds values that are not numbers"),
    ({"chunk": 0}, r"chunk must be a positive integer, got 0"),
])
def test_bad_preload_arguments_are_clear_errors_and_send_nothing(server, db_path, kwargs, message):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE bad (day TIMESTAMP, revenue DOUBLE, label VARCHAR)")
    con.execute("INSERT INTO bad VALUES ('1997-01-01', 1.5, 'x0')")
    con.close()
    args = {"time_column": "day", "value_column": "revenue", **kwargs}
    got = []
    listener = threading.Thread(target=lambda: got.extend(messages(server.port, seconds=1.5)))
    listener.start()
    time.sleep(0.5)
    with pytest.raises(ValueError, match=message):
        viz.preload_chart(server, widget_id="chart_big", database=db_path, table_name="bad", **args)
    listener.join()
    assert [m for m in got if m.get("widget") == "chart_big" and m.get("type") == "data"] == []


def test_nan_and_infinity_never_go_out_as_json_they_cannot_be(server, db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE odd (k BIGINT, v DOUBLE)")
    con.executemany("INSERT INTO odd VALUES (?, ?)", [(1, float("nan")), (2, float("inf"))])
    con.close()
    got = []
    listener = threading.Thread(target=lambda: got.extend(messages(server.port, seconds=1.5)))
    listener.start()
    time.sleep(0.5)
    stat = viz.preload_stat(server, widget_id="stat_nan", database=db_path, table_name="odd", value_column="v")
    table = viz.preload_table(server, widget_id="table_nan", database=db_path, table_name="odd", key_column="k",
                              columns=["k", "v"], order_by="k", descending=False)
    listener.join()
    assert (stat.messages, table.messages) == (0, 2)
    assert [m for m in got if m.get("widget") == "stat_nan"] == []
    assert [m["row"] for m in got if m.get("widget") == "table_nan"] == [{"k": 1, "v": None}, {"k": 2, "v": None}]
