"""The emulator's UI in a real headless Chromium: list, open, answer a callback through the form."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from .serve_support import AWAIT, serve
from .ui_browser import HeadlessPage, chromium

BROWSER = chromium()
if BROWSER is None:  # the suite needs it: fail loudly rather than skip a gap
    pytest.fail("the UI test needs Chromium on PATH (Debian: apt-get install -y chromium)", pytrace=False)


def test_a_person_approves_a_waiting_callback_from_the_browser(tmp_path):
    (tmp_path / "approve.yaml").write_text(AWAIT)
    with serve(tmp_path, "--time", "virtual") as served, HeadlessPage(str(BROWSER)) as page:
        name = served.execution("approve")
        served.idle()
        execution_id = name.rsplit("/", 1)[-1]

        page.open(served.base + "/ui/")
        row = f'tr.execution[data-id="{execution_id}"]'
        assert page.evaluate(f"document.querySelector('{row} .state').textContent") == "ACTIVE"

        page.evaluate(f"document.querySelector('{row} a').click()")
        page.wait_until(f"location.pathname === '/ui/executions/{execution_id}' && document.readyState === 'complete'")
        assert page.evaluate("document.querySelector('.callback .slot').textContent") == "WAITING"

        body = json.dumps({"approved": True, "by": "a person"})
        page.evaluate(f"document.querySelector('form.send textarea').value = {json.dumps(body)}")
        page.evaluate("document.querySelector('form.send select').value = 'POST'")
        page.evaluate("document.querySelector('form.send button').click()")
        flash = page.wait_until("document.getElementById('flash') && document.getElementById('flash').textContent")
        assert " 200 " in flash
        # The serve loop runs the woken execution on its next turn; the page notices and reloads itself.
        page.wait_until("document.getElementById('state').textContent === 'SUCCEEDED'")
        assert served.get(name)["result"] == '{"approved":true,"by":"a person"}'
        assert page.evaluate("document.querySelector('form.send') === null")  # no form on a closed callback

        assert page.console_errors() == []
        hosts = {urlsplit(url).hostname for url in page.requested_urls() if not url.startswith(("data:", "about:"))}
        assert hosts == {"127.0.0.1"}
