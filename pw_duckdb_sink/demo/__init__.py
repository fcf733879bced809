"""The CDNOW order-analytics demo: a live dashboard on real data that survives restarts.

Library entry point: :func:`run_demo` (the ``pw-duckdb-sink demo`` command is a shell over it).
"""

from .app import DemoConfig, DemoResult, default_data_dir, run_demo, stored_all_time
from .data import CDNOW_PATH, Order, load_orders

__all__ = ["CDNOW_PATH", "DemoConfig", "DemoResult", "Order", "default_data_dir", "load_orders",
           "run_demo", "stored_all_time"]
