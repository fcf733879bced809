"""Every public function carries a runnable example, and the examples hold (run with doctest,
each in a fresh Pathway graph)."""

import doctest

import pathway as pw
import pytest

import pw_duckdb_sink
from pw_duckdb_sink import viz

PUBLIC = ["write", "read_baseline", "with_baseline", "as_of", "history", "compact"]


def _examples(func):
    return [t for t in doctest.DocTestFinder(recurse=False).find(func) if t.examples]


# viz's public functions take part where they carry examples (most drive a live server).
VIZ = [name for name, obj in vars(viz).items() if not name.startswith("_") and callable(obj)
       and getattr(obj, "__module__", None) == viz.__name__ and _examples(obj)]
FUNCTIONS = [(name, getattr(pw_duckdb_sink, name)) for name in PUBLIC] + [(f"viz.{n}", getattr(viz, n)) for n in VIZ]


@pytest.mark.parametrize("name, func", FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_docstring_examples_run(name, func):
    tests = _examples(func)
    assert tests, f"{name} has no example in its docstring"
    for test in tests:
        skipped = [ex.source for ex in test.examples if ex.options.get(doctest.SKIP)]
        assert not skipped, f"{name}: examples marked SKIP never run: {skipped}"
        pw.internals.parse_graph.G.clear()
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        result = runner.summarize(verbose=False)
        assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (see above)"
