"""Driving a real headless Chromium over the DevTools protocol (websocket-client, no extra tools).

Chromium is a system package (Debian ``chromium``; CI installs it). When it is missing the
browser tests fail with a message saying how to install it: they are not skipped silently.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is needed for the dashboard test and is not installed: "
                "run `apt-get update && apt-get install -y chromium` (CI's .ci/run does this)",
                pytrace=False)


class Browser:
    """One headless Chromium with one page, driven through its DevTools websocket."""

    def __init__(self, *, width: int = 1400, height: int = 1000,
                 serve: dict[str, Path] | None = None) -> None:
        # serve: URL -> local file, answered by the browser itself (e.g. a CDN script offline).
        self._serve = {url: Path(path).read_bytes() for url, path in (serve or {}).items()}
        self._profile = tempfile.TemporaryDirectory(prefix="pw-duckdb-sink-chromium-",
                                                    ignore_cleanup_errors=True)
        self.proc = subprocess.Popen(
            [chromium_binary(), *FLAGS, f"--user-data-dir={self._profile.name}",
             "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # its own process group, so close() ends its helpers too
        port = self._devtools_port()
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(p for p in pages if p["type"] == "page")
        self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30,
                                               suppress_origin=True)
        self._next_id = 0
        if self._serve:
            self.call("Fetch.enable", patterns=[{"urlPattern": url} for url in self._serve])
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _devtools_port(self, timeout_s: float = 30) -> int:
        marker = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode} at start-up")
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port")

    def call(self, method: str, **params):
        self._next_id += 1
        my_id = self._next_id
        self._ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("method") == "Fetch.requestPaused":
                self._fulfil(message["params"])
                continue
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def _fulfil(self, params: dict) -> None:
        body = self._serve.get(params["request"]["url"])
        self._next_id += 1
        if body is None:
            command = {"method": "Fetch.continueRequest", "params": {"requestId": params["requestId"]}}
        else:
            command = {"method": "Fetch.fulfillRequest", "params": {
                "requestId": params["requestId"], "responseCode": 200,
                "responseHeaders": [{"name": "Content-Type", "value": "application/javascript"}],
                "body": base64.b64encode(body).decode("ascii")}}
        self._ws.send(json.dumps({"id": self._next_id, **command}))

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, expression: str, timeout_s: float = 30):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                value, error = self.evaluate(expression), None
            except RuntimeError as exc:  # the frame or element is not there yet
                value, error = None, exc
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout_s} s: {expression} ({error})")
            time.sleep(0.2)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self._ws.close(timeout=0.2)
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue
            time.sleep(0.3)  # helpers may still be leaving
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._profile.cleanup()
