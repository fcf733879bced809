"""The README's write section: its example runs and prints what its comment says, which is
also what the orders it writes add up to (computed here)."""

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _section_blocks():
    text = README.read_text()
    body = re.search(r"<!-- section: write -->(.*?)<!-- /section: write -->", text, re.S).group(1)
    return re.findall(r"```python\n(.*?)```", body, re.S)


def test_the_switch_is_one_line():
    switch, _ = _section_blocks()
    native, ours = [line.lstrip("# ") for line in switch.strip().splitlines()]
    assert native.replace("pw.io.duckdb.write(", "pw_duckdb_sink.write(") == ours


def test_example_runs_and_prints_the_quoted_totals(tmp_path):
    _, example = _section_blocks()
    script = tmp_path / "example.py"
    script.write_text(example)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    quoted = ast.literal_eval(re.search(r"^# (\[.*\])$", example, re.M).group(1))
    assert printed == quoted

    table = re.search(r'table_from_markdown\("""(.*?)"""', example, re.S).group(1)
    header, *rows = [line.split("|") for line in table.strip().splitlines()]
    totals = defaultdict(int)
    for customer, amount in rows:
        totals[customer.strip()] += int(amount)
    assert printed == sorted(totals.items())
