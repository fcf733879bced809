"""read_baseline's since/until: datetime, timedelta back from now, 'today' in a time zone, ms epoch."""

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb
import pathway as pw
import pytest

from pw_duckdb_sink import read_baseline

UTC = dt.timezone.utc


def _total(base):
    df = pw.debug.table_to_pandas(base)
    return (df["n"].item(), df["r"].item()) if len(df) else (0, None)


def _events_at(db, instants):
    """A change log of one event per instant, amount = index + 1, `time` = its ms epoch."""
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE ev (amount BIGINT, at_utc TIMESTAMPTZ, at_local TIMESTAMP, day DATE, time BIGINT, diff SMALLINT)")
    for i, t in enumerate(instants):
        con.execute("INSERT INTO ev VALUES (?, ?, ?, ?, ?, 1)",
                    [i + 1, t, t.replace(tzinfo=None), t.date(), (t - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(milliseconds=1)])
    con.close()


def _expect(instants, lo, hi):
    picked = [i + 1 for i, t in enumerate(instants) if (lo is None or t >= lo) and (hi is None or t < hi)]
    return len(picked), (sum(picked) if picked else None)


def test_datetime_range_on_the_change_log_time(db_path):
    base = dt.datetime(2024, 5, 1, tzinfo=UTC)
    instants = [base + dt.timedelta(hours=h) for h in range(0, 48, 5)]
    _events_at(db_path, instants)
    lo, hi = base + dt.timedelta(hours=7), base + dt.timedelta(hours=30)
    got = _total(read_baseline(database=db_path, table_name="ev", since=lo, until=hi,
                               aggregates={"n": "count", "r": ("sum", "amount")}))
    assert got == _expect(instants, lo, hi)


def test_until_gives_the_state_before_that_moment(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE agg (k VARCHAR, v BIGINT, time BIGINT, diff SMALLINT)")
    # an aggregate's change log: 3 at t=1000, replaced by 8 at t=2000
    con.executemany("INSERT INTO agg VALUES (?, ?, ?, ?)", [("a", 3, 1000, 1), ("a", 3, 2000, -1), ("a", 8, 2000, 1)])
    con.close()
    at = lambda ms: dt.datetime.fromtimestamp(ms / 1000, UTC)  # noqa: E731
    for until, want in ((at(1500), 3), (at(2500), 8)):
        df = pw.debug.table_to_pandas(read_baseline(database=db_path, table_name="agg", key=["k"], until=until,
                                                    aggregates={"v": "sum"}))
        pw.internals.parse_graph.G.clear()
        assert df["v"].item() == want


@pytest.mark.parametrize("column", ["time", "at_utc"])
def test_timedelta_means_that_long_back_from_now(db_path, column):
    now = dt.datetime.now(UTC)
    instants = [now - dt.timedelta(hours=h) for h in (1, 5, 30, 80)]
    _events_at(db_path, instants)
    got = _total(read_baseline(database=db_path, table_name="ev", since=dt.timedelta(hours=24),
                               time_column=None if column == "time" else column,
                               aggregates={"n": "count", "r": ("sum", "amount")}))
    assert got == _expect(instants, now - dt.timedelta(hours=24), None)


@pytest.mark.parametrize("column", ["at_utc", "at_local", "day"])
def test_today_in_a_time_zone_on_a_user_column(db_path, column):
    tz = ZoneInfo("Pacific/Kiritimati")  # UTC+14: its day differs from the UTC day most of the time
    now = dt.datetime.now(UTC)
    midnight = dt.datetime.combine(now.astimezone(tz).date(), dt.time(), tz)
    instants = [midnight + dt.timedelta(minutes=m) for m in (-90, -1, 0, 1, 90)]
    # local columns hold wall-clock time in tz
    con_instants = [t.astimezone(tz) for t in instants]
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE ev (amount BIGINT, at_utc TIMESTAMPTZ, at_local TIMESTAMP, day DATE, time BIGINT, diff SMALLINT)")
    for i, t in enumerate(con_instants):
        con.execute("INSERT INTO ev VALUES (?, ?, ?, ?, 0, 1)", [i + 1, t, t.replace(tzinfo=None), t.date()])
    con.close()
    got = _total(read_baseline(database=db_path, table_name="ev", since="today", tz="Pacific/Kiritimati",
                               time_column=column, aggregates={"n": "count", "r": ("sum", "amount")}))
    assert got == _expect(instants, midnight, None)


def test_today_on_the_change_log_time(db_path):
    tz = ZoneInfo("Europe/Warsaw")
    now = dt.datetime.now(UTC)
    midnight = dt.datetime.combine(now.astimezone(tz).date(), dt.time(), tz)
    instants = [midnight - dt.timedelta(minutes=5), midnight + dt.timedelta(seconds=1), now - dt.timedelta(seconds=1)]
    _events_at(db_path, instants)
    got = _total(read_baseline(database=db_path, table_name="ev", since="today", tz="Europe/Warsaw",
                               aggregates={"n": "count", "r": ("sum", "amount")}))
    assert got == _expect(instants, midnight, None)


@pytest.mark.parametrize("kwargs", [{"since": "yesterday"}, {"since": dt.timedelta(hours=-1)},
                                    {"since": "today", "tz": "Mars/Olympus"}, {"since": True},
                                    {"until": 1.5e12}])
def test_bad_bounds_are_refused(db_path, kwargs):
    with pytest.raises(ValueError):
        read_baseline(database=db_path, table_name="ev", aggregates={"n": "count"}, **kwargs)


def test_range_on_a_snapshot_needs_a_time_column(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE snap (k VARCHAR PRIMARY KEY, v BIGINT)")
    con.close()
    with pytest.raises(ValueError, match="time_column"):
        read_baseline(database=db_path, table_name="snap", since=dt.timedelta(days=1), aggregates={"v": "sum"})


def _typed_events(db, instants, tz):
    """One event per instant in every column form: TIMESTAMPTZ, wall-clock TIMESTAMP and DATE in
    tz, millisecond-epoch BIGINT; the change log's `time` is 0 (so only the user column ranges)."""
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE ev (amount BIGINT, at_utc TIMESTAMPTZ, at_local TIMESTAMP, day DATE, "
                "at_ms BIGINT, time BIGINT, diff SMALLINT)")
    for i, t in enumerate(instants):
        local = t.astimezone(tz)
        con.execute("INSERT INTO ev VALUES (?, ?, ?, ?, ?, 0, 1)",
                    [i + 1, t, local.replace(tzinfo=None), local.date(), int(t.timestamp() * 1000)])
    con.close()


@pytest.mark.parametrize("column", ["at_utc", "at_local", "day", "at_ms"])
@pytest.mark.parametrize("naive", [False, True], ids=["aware", "naive_in_tz"])
def test_datetime_range_on_a_user_column(db_path, column, naive):
    tz = ZoneInfo("Asia/Kolkata")  # UTC+05:30, no DST: wall-clock order is instant order
    start = dt.datetime(2024, 3, 9, 12, tzinfo=UTC)
    instants = [start + dt.timedelta(hours=h) for h in range(0, 72, 7)]
    _typed_events(db_path, instants, tz)
    lo, hi = start + dt.timedelta(hours=15), start + dt.timedelta(hours=50)
    bounds = (lo.astimezone(tz).replace(tzinfo=None), hi.astimezone(tz).replace(tzinfo=None)) if naive else (lo, hi)
    got = _total(read_baseline(database=db_path, table_name="ev", since=bounds[0], until=bounds[1], tz="Asia/Kolkata",
                               time_column=column, aggregates={"n": "count", "r": ("sum", "amount")}))
    if column == "day":  # a DATE column compares the local days the bounds fall on
        days = [t.astimezone(tz).date() for t in instants]
        picked = [i + 1 for i, d in enumerate(days) if lo.astimezone(tz).date() <= d < hi.astimezone(tz).date()]
        assert got == (len(picked), sum(picked) if picked else None)
    else:
        assert got == _expect(instants, lo, hi)


def test_range_on_a_text_column_is_a_clear_error(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE ev (amount BIGINT, label VARCHAR, time BIGINT, diff SMALLINT)")
    con.close()
    with pytest.raises(ValueError, match="time_column has DuckDB type VARCHAR"):
        read_baseline(database=db_path, table_name="ev", since=dt.timedelta(days=1), time_column="label",
                      aggregates={"n": "count"})


@pytest.mark.parametrize("column", ["time", "at_utc"])
def test_millisecond_epoch_bounds_are_exact_to_the_millisecond(db_path, column):
    # Instants with odd milliseconds: a bound one millisecond off would move an event across it.
    base = dt.datetime(2024, 5, 1, tzinfo=UTC)
    instants = [base + dt.timedelta(milliseconds=123 + 1000 * i) for i in range(10)]
    _events_at(db_path, instants)
    ms = lambda t: (t - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(milliseconds=1)  # noqa: E731
    lo, hi = instants[3], instants[7]
    got = _total(read_baseline(database=db_path, table_name="ev", since=ms(lo), until=ms(hi),
                               time_column=None if column == "time" else column,
                               aggregates={"n": "count", "r": ("sum", "amount")}))
    assert got == _expect(instants, lo, hi) == (4, 4 + 5 + 6 + 7)
