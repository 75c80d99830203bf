"""The emulator's UI in a real headless Chromium: list, open, answer a callback through the form."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from .headless_browser import Browser, find_browser
from .serve_support import AWAIT, open_url, serve, wait_until

BROWSER = find_browser()
if BROWSER is None:  # the suite needs it (.ci/run installs it): fail loudly rather than skip a gap
    pytest.fail("the UI test needs Chromium on PATH (Debian: apt-get install -y chromium)", pytrace=False)


#: Wall seconds any one browser command or page condition may take before the test gives up: a
#: bound against a hang, never a speed check. Chromium starting on a machine busy with a
#: parallel suite can take tens of seconds, so the bound is generous; a passing run waits
#: only as long as each condition takes to hold.
HANG_GUARD = 180.0


def test_a_person_approves_a_waiting_callback_from_the_browser(tmp_path):
    (tmp_path / "approve.yaml").write_text(AWAIT)
    with serve(tmp_path, "--time", "virtual") as served, Browser(str(BROWSER), timeout=HANG_GUARD) as browser:
        name = served.execution("approve")
        served.idle()
        execution_id = name.rsplit("/", 1)[-1]

        open_url(browser, served.base + "/ui/")
        row = f'tr.execution[data-id="{execution_id}"]'
        # Each read waits on its condition (the page may be reloading itself when it changed),
        # and fails with the last value seen when the condition never holds.
        wait_until(browser, f"document.querySelector('{row} .state').textContent === 'ACTIVE'")

        # Each action is one evaluation that finds its element and acts, retried if the page was
        # reloading itself at that moment: a reload between finding and acting cannot lose it.
        wait_until(browser, f"(() => {{ const a = document.querySelector('{row} a'); a && a.click(); return !!a; }})()")
        wait_until(browser, f"location.pathname === '/ui/executions/{execution_id}' && "
                            "document.readyState === 'complete'")
        wait_until(browser, "document.querySelector('.callback .slot').textContent === 'WAITING'")
        assert wait_until(browser, "document.querySelector('svg.timeline') !== null")  # the embedded report

        body = json.dumps({"approved": True, "by": "a person"})
        wait_until(browser, "(() => { const form = document.querySelector('form.send'); if (!form) return false; "
                            f"form.querySelector('textarea').value = {json.dumps(body)}; "
                            "form.querySelector('select').value = 'POST'; "
                            "form.querySelector('button').click(); return true; })()")
        flash = wait_until(browser, "document.getElementById('flash') && document.getElementById('flash').textContent")
        assert " 200 " in flash
        # The serve loop runs the woken execution on its next turn; the page notices and reloads itself.
        wait_until(browser, "document.getElementById('state').textContent === 'SUCCEEDED'")
        assert served.get(name)["result"] == '{"approved":true,"by":"a person"}'
        assert browser.evaluate("document.querySelector('form.send') === null")  # no form on a closed callback

        browser.evaluate("1")  # collect the events that arrived since the last command
        assert browser.console_errors() == []
        hosts = {urlsplit(url).hostname for url in browser.requests() if not url.startswith(("data:", "about:"))}
        assert hosts == {"127.0.0.1"}
