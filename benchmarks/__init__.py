"""Benchmarks: pw_duckdb_sink against the outputs a user would pick instead.

Run ``python -m benchmarks.run`` (``--quick`` for a smaller run). Each configuration runs
in its own subprocess (``benchmarks.child``) so peak RSS is its own.
"""
