"""The emulator's web UI (``/ui/``) as HTML over HTTP; `test_emulator_browser` drives it in a real browser."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from .serve_support import AWAIT, TIMEOUT, Served, serve


@pytest.fixture
def served(tmp_path):
    (tmp_path / "approve.yaml").write_text(AWAIT)
    with serve(tmp_path, "--time", "virtual") as running:
        yield running


def execution_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def flash(answer_location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(answer_location).query)


def test_the_index_lists_workflows_and_executions(served: Served):
    name = served.execution("approve")
    served.idle()
    page = served.http.get("/ui/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.text
    assert '<tr class="workflow" data-name="approve">' in html
    assert re.search(r'class="revision">000001-[0-9a-f]{3}<', html)
    row = re.search(r'<tr class="execution" data-id="([^"]+)">(.*?)</tr>', html)
    assert row is not None
    assert row.group(1) == execution_id(name)
    assert f'href="/ui/executions/{execution_id(name)}"' in row.group(2)
    assert "state-ACTIVE" in row.group(2)
    assert "2026-01-01T00:00:00+00:00" in row.group(2)
    assert "0 s so far" in row.group(2)
    assert 'id="now">2026-01-01T00:00:00Z<' in html  # virtual time: the clock and its buttons
    assert 'data-action="next"' in html


def test_no_page_loads_anything_from_elsewhere(served: Served):
    name = served.execution("approve")
    served.idle()
    for path in ("/ui/", f"/ui/executions/{execution_id(name)}"):
        html = served.http.get(path).text
        for url in re.findall(r'\s(?:src|href|action)="([^"]*)"', html):
            assert url.startswith(("/", "data:")), url  # only this server's own paths, or inline data


def test_the_form_on_a_waiting_callback_sends_a_real_request(served: Served):
    name = served.execution("approve")
    served.idle()
    page = served.http.get(f"/ui/executions/{execution_id(name)}").text
    action = re.search(r'<form method="post" action="([^"]+)" class="send">', page)
    assert action is not None
    assert '<strong class="slot">WAITING</strong>' in page
    answer = served.http.post(action.group(1), data={"method": "POST", "body": '{"approved": true}'})
    assert answer.status_code == 303
    assert flash(answer.headers["Location"])["sent"][0].startswith("POST callback ")
    assert " 200 " in flash(answer.headers["Location"])["sent"][0]
    served.idle()
    done = served.get(name)
    assert done["state"] == "SUCCEEDED"
    assert done["result"] == '{"approved":true}'
    page = served.http.get(f"/ui/executions/{execution_id(name)}").text
    assert "state-SUCCEEDED" in page
    assert 'class="send"' not in page  # a closed callback has no form


def test_a_body_that_is_not_json_is_not_sent(served: Served):
    name = served.execution("approve")
    served.idle()
    page = served.http.get(f"/ui/executions/{execution_id(name)}").text
    action = re.search(r'action="(/ui/executions/[^"]+/callbacks/[^"]+)"', page)
    assert action is not None
    answer = served.http.post(action.group(1), data={"method": "POST", "body": "{approved"})
    assert "not valid JSON" in flash(answer.headers["Location"])["error"][0]
    assert served.get(name)["state"] == "ACTIVE"
    assert "answered: none yet" in served.http.get(f"/ui/executions/{execution_id(name)}").text


def test_the_clock_buttons(served: Served):
    name = served.execution("approve")
    served.idle()
    moved = served.http.post("/ui/clock", data={"action": "advance", "seconds": "30", "back": "/ui/"})
    assert moved.status_code == 303
    assert flash(moved.headers["Location"])["sent"] == ["virtual now 2026-01-01T00:00:30Z"]
    bad = served.http.post("/ui/clock", data={"action": "advance", "seconds": "soon"})
    assert "give a number of seconds" in flash(bad.headers["Location"])["error"][0]
    back = f"/ui/executions/{execution_id(name)}"
    nxt = served.http.post("/ui/clock", data={"action": "next", "back": back})
    assert nxt.headers["Location"].startswith(back + "?")
    assert served.get(name)["state"] == "FAILED"  # the await's timeout was the next timer
    auto = served.http.post("/ui/clock", data={"action": "auto-on"})
    assert auto.status_code == 303
    assert served.http.get("/emulator/v1/clock").json()["autoAdvance"] is True
    assert "Auto-advance: on" in served.http.get("/ui/").text
    elsewhere = served.http.post("/ui/clock", data={"action": "idle", "back": "https://evil.example/"})
    assert elsewhere.headers["Location"].startswith("/ui/?")  # never redirects off the UI


def test_the_index_shows_a_deploy_error(served: Served, tmp_path):
    (tmp_path / "approve.yaml").write_text("main:\n  steps:\n    - first:\n        call: no.such.function\n")
    deadline = time.monotonic() + TIMEOUT
    html = ""
    while "no.such.function" not in html and time.monotonic() < deadline:
        time.sleep(0.05)
        html = served.http.get("/ui/").text
    assert f"{tmp_path / 'approve.yaml'}:4:15: call to unknown function" in html
    assert "the last good revision keeps serving" in html


def test_the_version_changes_when_something_happens(served: Served):
    before = served.http.get("/ui/version").text
    assert served.http.get("/ui/version").text == before
    served.http.post("/emulator/v1/clock:advance", json={"seconds": 1})
    assert served.http.get("/ui/version").text != before


def test_unknown_pages_and_methods(served: Served):
    assert served.http.get("/ui/executions/nope").status_code == 404
    assert served.http.get("/ui/nothing").status_code == 404
    assert served.http.post("/ui/").status_code == 405
    assert served.http.get("/ui").status_code == 200


def test_the_execution_page_is_built_from_the_html_report(served: Served):
    name = served.execution("approve")
    served.idle()
    served.http.post("/emulator/v1/clock:advance", json={"seconds": 61})  # the await times out
    page = served.http.get(f"/ui/executions/{execution_id(name)}").text
    assert page.count("<body") == 1  # the report's body is embedded, not a second document
    assert "<h2>Timeline</h2>" in page
    assert 'class="timeline"' in page  # the report's SVG timeline
    assert "await_callback timed out after 60 seconds" in page  # the report's error section
    report = served.http.get(f"/ui/executions/{execution_id(name)}/report")
    assert report.status_code == 200
    assert report.text.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in report.headers["Content-Security-Policy"]
