"""pw_duckdb_sink: a license-free DuckDB sink for Pathway and the historical-baseline reader.

Public API only; each name lives in a module with one job (see docs/DESIGN.md).
"""
