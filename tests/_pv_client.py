"""A tiny pathway-viz websocket client for tests: the history a new browser would get."""

from __future__ import annotations

import json
import socket
import time

import websocket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout_s} s")


def messages(port: int, *, seconds: float) -> list[dict]:
    """Every message a fresh websocket client receives during ``seconds``."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=5)
    ws.settimeout(0.5)
    got = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            try:
                got.append(json.loads(ws.recv()))
            except websocket.WebSocketTimeoutException:
                pass
    finally:
        ws.close(timeout=0.2)
    return got


def history(port: int, *, timeout_s: float = 5.0) -> dict[str, list[list]]:
    """The history message a new client gets: widget id -> [[timestamp_ms, value], ...]."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=timeout_s)
    try:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            message = json.loads(ws.recv())
            if message.get("type") == "history":
                return {w["widget"]: w["data"] for w in message["widgets"]}
        raise TimeoutError("no history message")
    finally:
        ws.close(timeout=0.2)


def history_of(port: int, widget_id: str, *, points: int, timeout_s: float = 10.0) -> list[list]:
    """A widget's history once it holds ``points`` points (the server stores sends async)."""
    deadline = time.monotonic() + timeout_s
    while True:
        data = history(port).get(widget_id, [])
        if len(data) >= points or time.monotonic() > deadline:
            return data
        time.sleep(0.1)
