"""Headless Chromium driven over the DevTools protocol on a pipe, for the emulator UI's tests and screenshot.

``--remote-debugging-pipe`` makes the browser read NUL-terminated JSON commands on
its fd 3 and write replies and events on its fd 4, so neither WebDriver nor a
websocket client is needed. Only what the tests use: open a URL, evaluate
JavaScript, wait for a condition, take a screenshot, and read back the page's
console errors and the URLs it requested.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from types import TracebackType
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str | None:
    """The first Chromium-family executable on PATH, or None."""
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class DevToolsError(RuntimeError):
    """The browser answered a command with an error, closed the pipe, or did not answer in time."""


class HeadlessPage:
    """One headless browser showing one page."""

    def __init__(self, executable: str, *, width: int = 1280, height: int = 860, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._profile = tempfile.TemporaryDirectory(prefix="wfcallbacks-ui-")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def on_fds_3_and_4() -> None:  # in the child, before exec
            os.dup2(commands_read, 3)
            os.dup2(replies_write, 4)

        self._process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--user-data-dir={self._profile.name}", "--no-first-run", "--no-default-browser-check",
             "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
             "--disable-extensions", "--disable-sync", "--mute-audio", "--hide-scrollbars",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=on_fds_3_and_4)  # noqa: PLW1509 - fds 3 and 4 are the protocol
        os.close(commands_read)
        os.close(replies_write)
        self._pending = b""
        self._counter = 0
        self._session = ""
        target = self.command("Target.createTarget", {"url": "about:blank"}, page=False)["targetId"]
        self._session = self.command("Target.attachToTarget", {"targetId": target, "flatten": True},
                                     page=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.command(f"{domain}.enable")
        self.command("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    # ------------------------------------------------------------------ protocol
    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DevToolsError("no answer from the browser in time")
            readable, _, _ = select.select([self._replies], [], [], remaining)
            if readable:
                data = os.read(self._replies, 65536)
                if not data:
                    raise DevToolsError("the browser closed its protocol pipe")
                self._pending += data
        raw, self._pending = self._pending.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def command(self, method: str, params: dict[str, Any] | None = None, *, page: bool = True) -> dict[str, Any]:
        """Send one protocol command and return its result; events seen meanwhile are kept in ``events``."""
        self._counter += 1
        message: dict[str, Any] = {"id": self._counter, "method": method, "params": params or {}}
        if page and self._session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._counter:
                if "error" in reply:
                    raise DevToolsError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    # ------------------------------------------------------------------ a person's actions
    def open(self, url: str) -> None:
        """Navigate to ``url`` and wait until the document has loaded."""
        self.command("Page.navigate", {"url": url})
        self.wait_until(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (raises on a JavaScript exception)."""
        answer = self.command("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise DevToolsError(f"{expression!r} threw: {answer['exceptionDetails'].get('text')}")
        return answer.get("result", {}).get("value")

    def wait_until(self, expression: str) -> Any:
        """Evaluate ``expression`` every 50 ms until it is truthy (the page may be reloading meanwhile)."""
        deadline = time.monotonic() + self.timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except DevToolsError as exc:  # the execution context went away with a navigation
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.05)
        raise DevToolsError(f"{expression!r} did not hold within {self.timeout:g} s (last: {last!r})")

    def screenshot(self) -> bytes:
        """The page as PNG bytes."""
        return base64.b64decode(self.command("Page.captureScreenshot", {"format": "png"})["data"])

    def console_errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and error log entries so far."""
        self.evaluate("1")  # collect events that arrived since the last command
        errors: list[str] = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                errors.append(str(params.get("exceptionDetails", {}).get("text")))
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(arg.get("value")) for arg in params.get("args", [])))
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(str(params["entry"].get("text")))
        return errors

    def requested_urls(self) -> list[str]:
        """Every URL the page requested."""
        self.evaluate("1")
        return [str(e["params"]["request"]["url"]) for e in self.events if e["method"] == "Network.requestWillBeSent"]

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Close the browser and remove its profile."""
        with contextlib.suppress(OSError):
            os.write(self._commands, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()

    def __enter__(self) -> HeadlessPage:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
