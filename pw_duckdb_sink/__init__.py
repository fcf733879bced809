"""pw_duckdb_sink: a license-free DuckDB sink for Pathway and the historical-baseline reader.

Public API only; each name lives in a module with one job (see docs/DESIGN.md).
"""

from ._writer import write  # noqa: E402
from ._reader import read_baseline, with_baseline  # noqa: E402
from ._time_travel import as_of, history  # noqa: E402
from ._retention import compact  # noqa: E402
