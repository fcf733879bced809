"""Replaying the CDNOW log as a live stream, one purchase day per commit.

The subject reports its position (the number of days sent) with each commit, so under Pathway
persistence a restarted run seeks past what was already processed instead of sending it again.
The schema's primary key (the order's line number) and the upsert session make a re-sent order
a no-op as well, should a stop land between a commit and its offset being persisted.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable

import pathway as pw

from .data import Order, group_by_day


class OrderSchema(pw.Schema):
    line_no: int = pw.column_definition(primary_key=True)
    customer_id: int
    day: pw.DateTimeNaive
    cds: int
    cents: int


class OrderReplay(pw.io.python.ConnectorSubject):
    """Sends the orders day by day; ``speed`` is purchase days per second (``None``: no pause).

    ``on_day(index, day, resumed)`` is called after each day is committed (progress display);
    ``stop_event``, once set, ends the replay early (the run then stops like at the log's end).
    """

    def __init__(
        self,
        orders: list[Order],
        *,
        speed: float | None,
        on_day: Callable[[int, dt.date], None] | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        super().__init__(session_type="upsert")
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be a positive number of days per second, got {speed!r}")
        self._days = group_by_day(orders)
        self._speed = speed
        self._on_day = on_day
        self._stop_event = stop_event or threading.Event()
        self.start_index = 0  # first day to send; set by _seek on a resumed run

    def _seek(self, state: bytes) -> None:
        self.start_index = int(json.loads(state.decode("utf-8"))["next_day"])

    def run(self) -> None:
        self._disable_commits()  # one commit per day, made explicitly below
        for index in range(self.start_index, len(self._days)):
            if self._stop_event.is_set():
                break
            started = time.monotonic()
            day, orders = self._days[index]
            midnight = dt.datetime.combine(day, dt.time())
            for o in orders:
                self.next(line_no=o.line_no, customer_id=o.customer_id, day=midnight, cds=o.cds, cents=o.cents)
            self._report_offset(json.dumps({"next_day": index + 1}).encode("utf-8"))
            self._enable_commits()  # enabling commits flushes the day as one minibatch
            self._disable_commits()
            if self._on_day is not None:
                self._on_day(index, day)
            if self._speed is not None:
                pause = 1.0 / self._speed - (time.monotonic() - started)
                if pause > 0:
                    self._stop_event.wait(pause)
        self._enable_commits()

    @property
    def total_days(self) -> int:
        return len(self._days)
