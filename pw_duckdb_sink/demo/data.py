"""Loading the vendored CDNOW purchase log into event-time order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

#: The log shipped with the package (see data/README.md for its provenance).
CDNOW_PATH = Path(str(resources.files("pw_duckdb_sink") / "data" / "CDNOW_master.txt"))


@dataclass(frozen=True, slots=True)
class Order:
    line_no: int  # 1-based line of the file after the header: a stable, unique order id
    customer_id: int
    day: dt.date
    cds: int
    cents: int  # dollar_value in whole cents, so totals add up exactly


def _cents(text: str) -> int:
    # dollar_value has at most two decimals; parse it without going through float.
    whole, _, frac = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole or "0")) * 100 + int((frac + "00")[:2]))


def load_orders(path: str | Path | None = None) -> list[Order]:
    """Read the CDNOW log and return its orders sorted by purchase day (stable in file order).

    The file has one header line, CRLF line ends and runs of spaces between the columns
    ``customer_id date number_of_cds dollar_value``.
    """
    path = Path(path) if path is not None else CDNOW_PATH
    if not path.is_file():
        raise FileNotFoundError(f"CDNOW log not found at {path}; pass the path of CDNOW_master.txt")
    orders: list[Order] = []
    with path.open("r", encoding="ascii", newline="") as f:
        lines = iter(f)
        next(lines, None)  # header
        for line_no, line in enumerate(lines, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 4:
                raise ValueError(f"{path}:{line_no + 1}: expected 4 columns, got {line.strip()!r}")
            customer, day, cds, dollars = fields
            orders.append(
                Order(
                    line_no=line_no,
                    customer_id=int(customer),
                    day=dt.datetime.strptime(day, "%Y%m%d").date(),
                    cds=int(cds),
                    cents=_cents(dollars),
                )
            )
    orders.sort(key=lambda o: (o.day, o.line_no))
    return orders


def group_by_day(orders: list[Order]) -> list[tuple[dt.date, list[Order]]]:
    """Orders (already sorted) cut into one batch per purchase day, in day order."""
    days: list[tuple[dt.date, list[Order]]] = []
    for order in orders:
        if days and days[-1][0] == order.day:
            days[-1][1].append(order)
        else:
            days.append((order.day, [order]))
    return days
