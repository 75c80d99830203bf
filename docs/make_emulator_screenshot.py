"""Make docs/emulator-ui.png: the emulator's web UI showing an execution that waits for a person's approval.

Run from the repository root with Chromium on PATH::

    python docs/make_emulator_screenshot.py [OUT.png]

It serves a small folder in virtual time on a free loopback port, starts three
executions through the Executions API (one approved, one timed out by moving the
clock, one still waiting), and photographs the waiting one's page.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.headless_browser import Browser, find_browser  # noqa: E402 - the repository root is on the path now
from tests.serve_support import PARENT, open_url, serve  # noqa: E402

APPROVAL = """\
# A person approves an order by hand (the UI's callback form, or the service under test).
main:
  params: [order]
  steps:
    - make_callback:
        call: events.create_callback_endpoint
        args: {http_callback_method: POST}
        result: callback
    - announce:
        call: sys.log
        args: {severity: INFO, text: '${"order " + order.id + " waits for approval"}'}
    - wait_for_decision:
        call: events.await_callback
        args: {callback: ${callback}, timeout: 3600}
        result: decision
    - done:
        return:
          order: ${order.id}
          approved: ${decision.http_request.body.approved}
"""


def main(out: Path) -> None:
    """Serve, drive three executions, photograph the waiting one."""
    executable = find_browser()
    if executable is None:
        raise SystemExit("make_emulator_screenshot: needs Chromium on PATH (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "order_approval.yaml").write_text(APPROVAL)
        with serve(Path(folder), "--time", "virtual") as served:
            def start(order: str) -> str:
                return served.execution("order-approval", f'{{"id": "{order}"}}')

            def callback_url(name: str) -> str:
                served.idle()
                (callback,) = served.http.get(f"/v1/{name}/callbacks").json()["callbacks"]
                return served.base + "/v1/" + str(callback["name"]).replace("/callback/", "/callbacks/")

            approved = start("A-1001")
            served.http.post(callback_url(approved), json={"approved": True})
            served.http.post("/emulator/v1/clock:advance", json={"seconds": 90})
            expired = start("A-1002")
            callback_url(expired)
            served.http.post("/emulator/v1/clock:advance", json={"seconds": 3601})
            waiting = start("A-1003")
            callback_url(waiting)
            served.http.post("/emulator/v1/clock:advance", json={"seconds": 42})
            assert served.http.get(f"{PARENT}/workflows/order-approval").status_code == 200
            with Browser(executable, width=1200, height=900) as page:
                open_url(page, f"{served.base}/ui/executions/{waiting.rsplit('/', 1)[-1]}")
                page.evaluate("document.querySelector('form.send textarea').value = "
                              "'{\"approved\": true}'")
                out.write_bytes(page.screenshot())
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "emulator-ui.png")
