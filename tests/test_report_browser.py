"""The HTML report as a person sees it: rendered by a real headless Chromium.

`.ci/run` installs Debian's ``chromium`` when it is missing; the test is skipped only
when no browser is installed, and says what to install.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_wfcallbacks import WorkflowRuntime

from .headless_browser import Browser, find_browser, png_size_and_colours

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "workflows"

BADGES_429 = """
Array.from(document.querySelectorAll('svg .request.status-429')).map(g => {
  g.scrollIntoView({block: 'center', inline: 'center'});  // as a person scrolls to it
  const box = g.getBoundingClientRect();
  const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
  return {text: g.querySelector('text').textContent, width: box.width, height: box.height,
          fill: getComputedStyle(g.querySelector('rect')).fill, onTop: g.contains(hit)};
})
"""

THREAD_ROWS = """
Array.from(document.querySelectorAll('svg .row.thread')).map(g => {
  const box = g.getBoundingClientRect();
  return {name: g.querySelector('.name').textContent, height: box.height, width: box.width};
})
"""


@pytest.fixture(scope="module")
def browser() -> str:
    found = find_browser()
    if found is None:
        pytest.skip("no Chromium-family browser installed (apt-get install -y chromium; .ci/run installs it): "
                    "the report was not checked in a browser")
    return found


def test_a_report_reads_in_a_browser(browser: str, tmp_path: Path) -> None:
    with WorkflowRuntime(seed=4) as runtime:
        execution = runtime.execute(EXAMPLES / "parallel_callbacks.yaml")
        callback = execution.wait_for_callback()
        execution.wait_until_awaiting(callback)
        for n in range(10):
            runtime.clock.advance(1)
            assert callback.send(json={"n": n}).status_code == 200
        assert callback.send(json={"n": 10}).status_code == 200  # stored
        assert callback.send(json={"n": 11}).status_code == 429  # filled, nobody waits
        execution.result()
        report = execution.save_report(tmp_path / "report.html")

    with Browser(browser) as page:
        page.open(report)
        assert page.console_errors() == []
        # The document itself is the only request: no CDN, no font, no image from anywhere.
        assert page.requests() == [report.resolve().as_uri()]
        rows = page.evaluate(THREAD_ROWS)
        assert [row["name"] for row in rows] == ["main"] + [f"wait_in_parallel[{n}]" for n in range(1, 11)]
        assert all(row["height"] > 0 and row["width"] > 0 for row in rows)
        badges = page.evaluate(BADGES_429)
        assert len(badges) == 1
        badge = badges[0]
        assert badge["text"] == "429"
        assert badge["width"] > 0
        assert badge["height"] > 0
        assert badge["onTop"]
        assert badge["fill"] == "rgb(207, 34, 46)"  # red, unlike the green 200s
        visible_text = page.evaluate("document.body.innerText")
        assert "429" in visible_text
        assert "rejected" in visible_text
        png = page.screenshot()
    width, height, colours = png_size_and_colours(png)
    assert (width, height) == (1400, 900)
    assert colours > 20, "the screenshot is blank"
