"""``wfcallbacks serve`` on a thread of the test process, for the emulator's tests (bounded by timeouts)."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from pytest_wfcallbacks.cli import build_parser, cmd_serve

PARENT = "/v1/projects/test-project/locations/us-central1"
TIMEOUT = 30

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
