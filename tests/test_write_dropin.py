"""pw_duckdb_sink.write as a drop-in for Pathway 0.33's pw.io.duckdb.write.

What cannot run here, and why: the native writer's first statement is
``_check_entitlements("duckdb")``, so without a Pathway license key it raises RuntimeError
at write() time (build time), before any of its own validation and long before its Rust
engine would create a table. We do not bypass that check. What we compare instead:

* the call signature (names, kinds, defaults, allowed literals);
* the errors the native raises *before* the license check: its type-hint checks
  (``@check_arg_types``) give TypeError, and so must ours;
* its value checks by their source: each ValueError we raise at build time must match a
  ``raise ValueError`` in the native's code (a Pathway upgrade that changes them fails here);
* the layout and types its docstring documents, by running its own docstring examples with
  the one-line switch and checking the outcome the docstring shows;
* the lock-retry bounds its docstring states.
"""

import ast
import doctest
import inspect
import math
import os
import re
import typing

import pathway as pw
import pytest
from pathway.io import duckdb as native

import pw_duckdb_sink
from pw_duckdb_sink import _connect, _validate

RUN = "pw.run(monitoring_level=pw.MonitoringLevel.NONE)"
HAS_KEY = bool(os.environ.get("PATHWAY_LICENSE_KEY"))
# beartype warns about the native's typing.Iterable hint each time it is decorated
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _table():
    return pw.debug.table_from_rows(pw.schema_from_types(a=int, b=str, c=float | None), [(1, "x", None)])


# --- the license check ----------------------------------------------------------------------

@pytest.mark.skipif(HAS_KEY, reason="a license key is set: the native writer would run")
def test_native_writer_refuses_at_build_time_without_a_key(tmp_path):
    t = _table()
    with pytest.raises(RuntimeError, match="require a Pathway license key"):
        native.write(t, table_name="t", database=tmp_path / "n.duckdb", init_mode="create_if_not_exists")
    # ours builds and runs with no key
    pw_duckdb_sink.write(t, table_name="t", database=tmp_path / "o.duckdb", init_mode="create_if_not_exists")
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)


def test_license_check_comes_first_in_the_native_body():
    """Why the native's value checks cannot be exercised here: nothing precedes the check."""
    body = ast.parse(inspect.getsource(inspect.unwrap(native.write))).body[0].body
    statements = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    first = statements[0]
    assert isinstance(first, ast.Expr) and ast.unparse(first.value) == "_check_entitlements('duckdb')"


# --- signature ------------------------------------------------------------------------------

def test_signature_matches_except_for_retention():
    ours = inspect.signature(pw_duckdb_sink.write).parameters
    theirs = inspect.signature(native.write).parameters
    assert list(ours) == [*theirs, "retention"]
    for name, p in theirs.items():
        assert (ours[name].kind, ours[name].default) == (p.kind, p.default), name
    assert ours["retention"].kind is inspect.Parameter.KEYWORD_ONLY and ours["retention"].default is None


def test_allowed_literals_match():
    theirs = inspect.signature(native.write).parameters
    assert typing.get_args(theirs["init_mode"].annotation) == _validate.INIT_MODES
    assert typing.get_args(theirs["output_table_type"].annotation) == _validate.OUTPUT_TABLE_TYPES


# --- errors raised before the license check: type hints ------------------------------------

TYPE_ERRORS = {
    "unknown init_mode": dict(init_mode="append"),
    "unknown output_table_type": dict(output_table_type="table"),
    "max_batch_size a string": dict(max_batch_size="100"),
    "max_batch_size a float": dict(max_batch_size=2.5),
    "table_name None": dict(table_name=None),
    "table_name an int": dict(table_name=3),
    "database an int": dict(database=3),
    "detach a string": dict(detach_between_batches="yes"),
    "name an int": dict(name=3),
}


@pytest.mark.parametrize("kwargs", TYPE_ERRORS.values(), ids=TYPE_ERRORS.keys())
def test_type_errors_match(tmp_path, kwargs):
    args = {"table_name": "t", "database": str(tmp_path / "x.duckdb"), **kwargs}
    t = _table()
    with pytest.raises(TypeError, match="violates type hint"):
        native.write(t, **args)
    with pytest.raises(TypeError):
        pw_duckdb_sink.write(t, **args)


def test_calls_the_native_accepts_are_accepted(tmp_path):
    """Ours is no stricter: the native's typical argument shapes build fine."""
    t = _table()
    pw_duckdb_sink.write(t, table_name="s", database=tmp_path / "x.duckdb", output_table_type="snapshot",
                         primary_key=[t.a, t.b], init_mode="replace", max_batch_size=10,
                         detach_between_batches=True, name="w")
    pw_duckdb_sink.write(t, table_name="l", database=os.fspath(tmp_path / "x.duckdb"), sort_by=[t.b, t.a],
                         init_mode="create_if_not_exists", max_batch_size=None)


# --- value checks: ours against the native's source ----------------------------------------

def _native_value_error_texts() -> str:
    """The text of every ``raise ValueError(...)`` in the native module and get_column_index."""
    from pathway.io import _utils

    texts = []
    for source in (inspect.getsource(native), inspect.getsource(_utils.get_column_index)):
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and getattr(node.exc.func, "id", None) == "ValueError"):
                texts.append(" ".join(ast.unparse(a) for a in node.exc.args))
    return "\n".join(texts)


def _bad(t, other, tmp_path):
    (tmp_path / "dir").mkdir(exist_ok=True)
    snap = dict(output_table_type="snapshot", database=str(tmp_path / "x.duckdb"))
    return {
        "primary key in stream": ("can only be specified for the snapshot",
                                  dict(primary_key=[t.a], database=str(tmp_path / "x.duckdb"))),
        "snapshot without key": ("must be specified for the snapshot", dict(**snap)),
        "sort_by in snapshot": ("sort_by cannot be used with the snapshot", dict(**snap, primary_key=[t.a], sort_by=[t.b])),
        "database a directory": ("is an existing directory", dict(database=str(tmp_path / "dir"))),
        "memory with detach": ("cannot be used with database=\":memory:\"",
                               dict(database=":memory:", detach_between_batches=True)),
        "duplicated key": ("contains duplicate column", dict(**snap, primary_key=[t.a, t.a])),
        "nullable key": ("is declared nullable", dict(**snap, primary_key=[t.c])),
        "key of another table": ("doesn't belong to the target table", dict(**snap, primary_key=[other.a])),
    }


def test_each_build_time_value_error_exists_in_the_native(tmp_path):
    native_texts = _native_value_error_texts()
    t, other = _table(), _table()
    for case, (native_fragment, kwargs) in _bad(t, other, tmp_path).items():
        assert native_fragment in native_texts, f"{case}: the native no longer raises this"
        with pytest.raises(ValueError):
            pw_duckdb_sink.write(t, table_name="t", **kwargs)
        if not HAS_KEY:  # the same call on the native stops at the license check
            with pytest.raises(RuntimeError, match="license key"):
                native.write(t, table_name="t", **kwargs)


@pytest.mark.parametrize("column, native_fragment", [
    ("time", "collide with the 'time' and 'diff'"), ("Diff", "collide with the 'time' and 'diff'")])
def test_reserved_columns_exist_in_the_native(tmp_path, column, native_fragment):
    assert native_fragment in _native_value_error_texts()
    t = _table().select(**{column: pw.this.a})
    with pytest.raises(ValueError):
        pw_duckdb_sink.write(t, table_name="t", database=tmp_path / "x.duckdb")


def test_case_clash_and_non_scalar_key_exist_in_the_native(tmp_path):
    texts = _native_value_error_texts()
    assert "differ only in case" in texts and "has non-scalar type" in texts
    t = _table().select(pw.this.a, A=pw.this.b)
    with pytest.raises(ValueError):
        pw_duckdb_sink.write(t, table_name="t", database=tmp_path / "x.duckdb")
    t = _table().select(k=pw.apply_with_type(lambda a: [a], list[int], pw.this.a), v=pw.this.b)
    with pytest.raises(ValueError):
        pw_duckdb_sink.write(t, table_name="t", database=tmp_path / "x.duckdb",
                             output_table_type="snapshot", primary_key=[t.k])
    # Stricter than the native on one point: a Duration key is refused at build time, where
    # the native would fail mid-run ("Invalid type for index key": DuckDB cannot index INTERVAL).


# --- the native's docstring examples, with the one-line switch -------------------------------

def _run_native_examples(tmp_path, monkeypatch):
    """Run every example of pw.io.duckdb.write's docstring with pw_duckdb_sink.write instead."""
    monkeypatch.chdir(tmp_path)
    examples = doctest.DocTestParser().get_examples(native.write.__doc__)
    namespace = {"pw_duckdb_sink": pw_duckdb_sink}
    sources = []
    for example in examples:
        source = example.source.replace("pw.io.duckdb.write(", "pw_duckdb_sink.write(")
        sources.append(source)
        if source.strip().startswith("pw.run("):
            exec(RUN, namespace)
            pw.internals.parse_graph.G.clear()  # the next example builds its own graph
        else:
            exec(source, namespace)
    return "".join(sources)


def _literal_rows(sources: str, table: str) -> list[tuple]:
    """The rows an example passes to ``<table> = pw.debug.table_from_rows(Schema, [...])``."""
    for node in ast.walk(ast.parse(sources)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == table:
            return ast.literal_eval(node.value.args[1])
    raise AssertionError(f"no example defines {table}")


def _doc_blocks(kind: str) -> list[str]:
    """The bodies of the docstring's ``.. code-block:: <kind>`` blocks."""
    doc = inspect.cleandoc(native.write.__doc__)
    return [m.group(1) for m in re.finditer(rf".. code-block:: {kind}\n\n((?:    .*\n|\n)+)", doc + "\n")]


def test_docstring_examples_run_unchanged_but_for_the_call(tmp_path, monkeypatch, query):
    sources = _run_native_examples(tmp_path, monkeypatch)

    def layout(db, table):
        return query(db, "SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_name = ? ORDER BY ordinal_position", [table])

    # stream of changes: the schema's columns then time BIGINT and diff SMALLINT, as documented
    assert layout(tmp_path / "metrics.duckdb", "measurements") == [
        ("sensor", "VARCHAR"), ("temperature", "DOUBLE"), ("readings", "BIGINT"), ("active", "BOOLEAN"),
        ("time", "BIGINT"), ("diff", "SMALLINT")]
    rows = query(tmp_path / "metrics.duckdb", "SELECT sensor, temperature, readings, active, diff FROM measurements")
    assert sorted(rows) == sorted((*r, 1) for r in _literal_rows(sources, "measurements"))

    # snapshot: exactly the table the docstring prints (header, DuckDB CLI types, rows)
    (block,) = _doc_blocks("text")
    lines = [[cell.strip() for cell in line.strip().strip("|").split("|")]
             for line in block.splitlines() if line.strip().startswith("|")]
    header, cli_types, *doc_rows = lines
    cli_name = {"BIGINT": "int64", "DOUBLE": "double"}
    got_layout = layout(tmp_path / "bank.duckdb", "accounts")
    assert [c for c, _ in got_layout] == header
    assert [cli_name[t] for _, t in got_layout] == cli_types
    got = query(tmp_path / "bank.duckdb", "SELECT * FROM accounts ORDER BY ALL")
    assert [tuple(str(v) for v in row) for row in got] == [tuple(r) for r in doc_rows]
    keys = query(tmp_path / "bank.duckdb", "SELECT constraint_column_names FROM duckdb_constraints() "
                                           "WHERE table_name = 'accounts' AND constraint_type = 'PRIMARY KEY'")
    assert keys == [(["account_id"],)]

    # list[float] embeddings land as DOUBLE[], and the docstring's vector query runs on them
    assert layout(tmp_path / "docs.duckdb", "documents")[:2] == [("text", "VARCHAR"), ("embedding", "DOUBLE[]")]
    (sql,) = _doc_blocks("sql")
    got = query(tmp_path / "docs.duckdb", sql.strip().rstrip(";"))
    probe = [1.0, 0.0, 0.0]

    def cosine(v):
        return sum(a * b for a, b in zip(v, probe)) / math.sqrt(sum(a * a for a in v) * sum(b * b for b in probe))

    want = sorted(((text, cosine(v)) for text, v in _literal_rows(sources, "docs")), key=lambda r: -r[1])
    assert [r[0] for r in got] == [r[0] for r in want]
    assert [r[1] for r in got] == pytest.approx([r[1] for r in want])


def test_lock_retry_bounds_match_the_documented_ones():
    doc = " ".join(native.write.__doc__.split())
    m = re.search(r"starting at (\d+) ms, doubling up to (\d+) s\) for up to (\d+) seconds", doc)
    assert m, "the native docstring no longer states its retry bounds"
    first_ms, max_s, total_s = map(int, m.groups())
    assert (_connect.FIRST_WAIT_S, _connect.MAX_WAIT_S, _connect.DEFAULT_TIMEOUT_S) == (first_ms / 1000, max_s, total_s)
