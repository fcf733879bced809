"""The demo run to completion persists figures equal to those computed from the CDNOW file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo_expected import direct, persisted, run_once


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo")
    done = run_once(data_dir)
    return data_dir, done


def test_all_time_revenue_and_order_count_equal_the_file(finished):
    data_dir, _ = finished
    got, want = persisted(data_dir / "cdnow.duckdb"), direct()
    assert (got["revenue_cents"], got["orders"]) == (want["revenue_cents"], want["orders"])


def test_revenue_and_orders_per_day_equal_the_file(finished):
    data_dir, _ = finished
    got, want = persisted(data_dir / "cdnow.duckdb"), direct()
    assert got["per_day"] == want["per_day"]


def test_top_customers_equal_the_file(finished):
    data_dir, _ = finished
    assert persisted(data_dir / "cdnow.duckdb")["top"] == direct()["top"]


def test_the_run_reports_every_day_replayed(finished):
    _, done = finished
    assert f"replayed days 1..{len(direct()['per_day'])} of {len(direct()['per_day'])}" in \
        done.stderr.replace("\n", " ")


def test_a_second_run_after_the_end_adds_nothing(finished):
    data_dir, _ = finished
    before = persisted(data_dir / "cdnow.duckdb")
    done = run_once(data_dir)
    assert "already replayed" in done.stderr
    assert persisted(data_dir / "cdnow.duckdb") == before


def test_data_dir_defaults_to_the_pathwayviz_env_var(tmp_path, monkeypatch):
    from pw_duckdb_sink.demo import DemoConfig

    monkeypatch.setenv("PATHWAYVIZ_DATA_DIR", str(tmp_path / "pv"))
    config = DemoConfig()
    assert config.database == tmp_path / "pv" / "cdnow.duckdb"
    monkeypatch.delenv("PATHWAYVIZ_DATA_DIR")
    assert DemoConfig().data_dir.as_posix() == "data"


@pytest.mark.parametrize("speed", [0, -1.5])
def test_non_positive_speed_is_refused(tmp_path, speed):
    from pw_duckdb_sink.demo import DemoConfig

    with pytest.raises(ValueError, match="speed must be a positive"):
        DemoConfig(data_dir=tmp_path, speed=speed)


def test_the_example_script_prints_the_figures_of_the_file(tmp_path):
    script = Path(__file__).resolve().parent.parent / "examples" / "cdnow_dashboard.py"
    done = subprocess.run([sys.executable, str(script), "--once"], capture_output=True, text=True,
                          timeout=240, env={**os.environ,
                                            "PATHWAYVIZ_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    want = direct()
    assert (f"all-time revenue ${want['revenue_cents'] / 100:,.2f} from {want['orders']:,} orders"
            in done.stdout)
    assert (tmp_path / "cdnow.duckdb").exists()
