"""The README's baseline and exactly-once sections: every python snippet runs, and the figures
the text quotes are what the programs print (checked against sums computed here)."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
DAY1 = [("alice", 10.0), ("bob", 5.0), ("alice", 7.0)]
DAY2 = [("carol", 8.0)]


def _blocks(section):
    text = README.read_text()
    body = re.search(rf"<!-- section: {section} -->(.*?)<!-- /section: {section} -->", text, re.S).group(1)
    return re.findall(r"```python\n(.*?)```", body, re.S)


@pytest.fixture(scope="module")
def blocks():
    found = _blocks("baseline") + _blocks("exactly-once")
    assert len(found) == 5, "update this test with the README's snippets"
    return dict(zip(["shop", "shop_persistent", "ranges", "travel", "compact"], found))


def _csv(path, rows):
    path.write_text("customer,amount\n" + "".join(f"{c},{a:g}\n" for c, a in rows))


def _run(tmp_path, code):
    script = tmp_path / "snippet.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _last_row(output):
    return ast.literal_eval(output.strip().splitlines()[-1])


def _expect(rows):
    total = sum(a for _, a in rows)
    return pytest.approx(total), len(rows), pytest.approx(total / len(rows))


def test_baseline_snippets_without_persistence(tmp_path, blocks):
    (tmp_path / "orders").mkdir()
    _csv(tmp_path / "orders" / "day1.csv", DAY1)
    row = _last_row(_run(tmp_path, blocks["shop"]))
    assert (row["revenue"], row["orders"], row["avg_order"]) == _expect(DAY1)
    (tmp_path / "orders" / "day1.csv").unlink()  # without persistence a run is fed new orders only
    _csv(tmp_path / "orders" / "day2.csv", DAY2)
    row = _last_row(_run(tmp_path, blocks["shop"]))
    assert (row["revenue"], row["orders"], row["avg_order"]) == _expect(DAY1 + DAY2)

    ranges = _run(tmp_path, blocks["ranges"])
    for customer in {c for c, _ in DAY1 + DAY2}:
        mine = [a for c, a in DAY1 + DAY2 if c == customer]
        assert re.search(rf"^{customer}\s*\|\s*{sum(mine)}\s*\|\s*{len(mine)}\s*\|\s*{max(mine)}$", ranges, re.M), ranges
    travel = _run(tmp_path, blocks["travel"])
    # Without persistence each run is a session of its own, and a change log holds the final
    # state of each: the totals now are run 1's and run 2's (all-time) rows.
    now_rows = travel.splitlines()[1:3]
    for total in (sum(a for _, a in DAY1), sum(a for _, a in DAY1 + DAY2)):
        assert sum(f" {total} " in f"{line} " for line in now_rows) == 1, travel
    assert "Compaction(" in _run(tmp_path, blocks["compact"])


def test_baseline_snippet_with_persistence(tmp_path, blocks):
    (tmp_path / "orders").mkdir()
    _csv(tmp_path / "orders" / "day1.csv", DAY1)
    row = _last_row(_run(tmp_path, blocks["shop_persistent"]))
    assert (row["revenue"], row["orders"]) == _expect(DAY1)[:2]
    _csv(tmp_path / "orders" / "day2.csv", DAY2)  # day1.csv stays: the persistent reader skips it
    row = _last_row(_run(tmp_path, blocks["shop_persistent"]))
    assert (row["revenue"], row["orders"]) == _expect(DAY1 + DAY2)[:2]
