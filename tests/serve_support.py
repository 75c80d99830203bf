"""``wfcallbacks serve`` on a thread of the test process, and its UI in a browser, for the emulator's tests and
screenshot (everything bounded by timeouts)."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pytest_wfcallbacks.cli import build_parser, cmd_serve

from .headless_browser import Browser, BrowserError

PARENT = "/v1/projects/test-project/locations/us-central1"
#: A bound against a hang (the serve thread starting, one HTTP exchange), never a speed check:
#: generous, because a machine running the suite in parallel can be slow; passing runs wait
#: only as long as each step takes.
TIMEOUT = 120

AWAIT = ("main:\n  steps:\n"
         "    - make:\n        call: events.create_callback_endpoint\n        result: cb\n"
         "    - wait:\n        call: events.await_callback\n        args: {callback: ${cb}, timeout: 60}\n"
         "        result: req\n"
         "    - done:\n        return: ${req.http_request.body}\n")


@dataclass
class Served:
    """A running serve: its base URL, an HTTP client on it, and what it printed."""

    base: str
    http: httpx.Client
    err: io.StringIO

    def execution(self, workflow: str, argument: str = "{}") -> str:
        """Create an execution through the Executions API; its resource name."""
        created = self.http.post(f"{PARENT}/workflows/{workflow}/executions", json={"argument": argument})
        assert created.status_code == 200, created.text
        return str(created.json()["name"])

    def get(self, name: str) -> dict[str, object]:
        """An execution resource (FULL view)."""
        answer = self.http.get(f"/v1/{name}")
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        return body

    def idle(self) -> dict[str, object]:
        """``executions:runUntilIdle``: everything that can run has run when this returns."""
        answer = self.http.post("/emulator/v1/executions:runUntilIdle")
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        return body


@contextmanager
def serve(folder: Path, *options: str) -> Iterator[Served]:
    """Run ``wfcallbacks serve FOLDER --port 0 OPTIONS`` until the block ends."""
    out, err = io.StringIO(), io.StringIO()
    stop = threading.Event()
    args = build_parser().parse_args(["serve", str(folder), "--port", "0", *options])
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(cmd_serve(args, out, err, stop=stop.is_set)))
    thread.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while "wfcallbacks serving " not in out.getvalue() and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "wfcallbacks serving " in out.getvalue(), err.getvalue()
        base = out.getvalue().split("wfcallbacks serving ", 1)[1].split()[0]
        with httpx.Client(base_url=base, trust_env=False, timeout=TIMEOUT) as http:
            yield Served(base, http, err)
    finally:
        stop.set()
        thread.join(TIMEOUT)
    assert status == [0], err.getvalue()


# --------------------------------------------------------------------------- in a browser


def wait_until(browser: Browser, expression: str) -> Any:
    """Evaluate ``expression`` every 50 ms until it is truthy; a navigation in between is retried."""
    deadline = time.monotonic() + browser.timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = browser.evaluate(expression)
        except BrowserError as exc:  # the page's context went away with a navigation
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"{expression!r} did not hold within {browser.timeout:g} s (last: {last!r})")


def open_url(browser: Browser, url: str) -> None:
    """Navigate to ``url`` and wait until it has loaded."""
    browser.send("Page.navigate", {"url": url})
    wait_until(browser, f"location.href === {json.dumps(url)} && document.readyState === 'complete'")
