"""Make the README's screenshot of an HTML report: ``python docs/make_screenshot.py``.

Runs the parallel callbacks example as the README's snippet does, writes its report,
opens it in headless Chromium (Debian's ``chromium``) and saves what the browser shows
to ``docs/report-screenshot.png``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_wfcallbacks import WorkflowRuntime  # noqa: E402
from tests.headless_browser import Browser, find_browser  # noqa: E402

OUT = ROOT / "docs" / "report-screenshot.png"


def main() -> int:
    browser = find_browser()
    if browser is None:
        print("no Chromium-family browser found: apt-get install -y chromium", file=sys.stderr)
        return 1
    os.chdir(ROOT)  # the report shows the workflow's path as the README's snippet gives it
    with WorkflowRuntime() as runtime:
        execution = runtime.execute("examples/workflows/parallel_callbacks.yaml")
        callback = execution.wait_for_callback()
        execution.wait_until_awaiting(callback)
        for n in range(10):
            runtime.clock.advance(1)
            callback.send(json={"n": n})
        callback.send(json={"n": 10})
        callback.send(json={"n": 11})
        execution.result()
        with tempfile.TemporaryDirectory() as folder:
            report = execution.save_report(Path(folder) / "report.html")
            with Browser(browser, width=1360, height=640) as page:
                page.open(report)
                OUT.write_bytes(page.screenshot())
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
