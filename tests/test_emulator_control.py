"""The clock control API of ``wfcallbacks serve`` (``/emulator/v1/...``), over real loopback HTTP."""

from __future__ import annotations

import time

import pytest

from .serve_support import AWAIT, PARENT, TIMEOUT, serve

NAP = "main:\n  steps:\n    - nap:\n        call: sys.sleep\n        args: {seconds: 10}\n    - done:\n        return: 7\n"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "approve.yaml").write_text(AWAIT)
    (tmp_path / "nap.yaml").write_text(NAP)
    return tmp_path


@pytest.fixture(scope="module")
def shared_serve(tmp_path_factory):
    """One virtual-time serve for the tests that never move its clock."""
    folder = tmp_path_factory.mktemp("shared")
    (folder / "nap.yaml").write_text(NAP)
    with serve(folder, "--time", "virtual") as served:
        yield served


def test_the_clock_stands_still_until_a_request_moves_it(folder):
    with serve(folder, "--time", "virtual") as served:
        clock = served.http.get("/emulator/v1/clock").json()
        assert clock == {"now": "2026-01-01T00:00:00Z", "autoAdvance": False, "timers": []}
        name = served.execution("approve")
        clock = served.idle()
        assert clock["timers"] == [{"deadline": "2026-01-01T00:01:00Z", "execution": name,
                                    "what": "await_callback timeout (main)"}]
        moved = served.http.post("/emulator/v1/clock:advance", json={"seconds": 30}).json()
        assert moved["now"] == "2026-01-01T00:00:30Z"
        assert served.get(name)["state"] == "ACTIVE"
        moved = served.http.post("/emulator/v1/clock:advance", json={"to": "2026-01-01T00:01:00.5Z"}).json()
        assert moved == {"now": "2026-01-01T00:01:00.500Z", "autoAdvance": False, "timers": []}
        # The answer comes after the woken thread ran: the await has already timed out.
        failed = served.get(name)
        assert failed["state"] == "FAILED"
        assert "TimeoutError" in str(failed["error"])


def test_advance_to_the_next_timer(folder):
    with serve(folder, "--time", "virtual") as served:
        name = served.execution("nap")
        served.idle()
        moved = served.http.post("/emulator/v1/clock:advance", json={"next": True}).json()
        assert moved["now"] == "2026-01-01T00:00:10Z"
        assert served.get(name)["result"] == "7"
        nothing = served.http.post("/emulator/v1/clock:advance", json={"next": True})
        assert nothing.status_code == 400
        assert nothing.json()["error"]["status"] == "FAILED_PRECONDITION"
        assert "no timer is pending" in nothing.json()["error"]["message"]


def test_auto_advance_can_be_switched_on_and_off(folder):
    with serve(folder, "--time", "virtual") as served:
        name = served.execution("nap")
        served.idle()
        assert served.get(name)["state"] == "ACTIVE"  # off: a ten-second sleep waits for a person or a test
        switched = served.http.post("/emulator/v1/clock:setAutoAdvance", json={"enabled": True}).json()
        assert switched["autoAdvance"] is True
        deadline = time.monotonic() + TIMEOUT
        while served.get(name)["state"] == "ACTIVE" and time.monotonic() < deadline:
            time.sleep(0.02)  # the serve loop jumps over the sleep on its next turns
        assert served.get(name)["state"] == "SUCCEEDED"
        assert served.http.post("/emulator/v1/clock:setAutoAdvance", json={"enabled": False}).json()[
            "autoAdvance"] is False


def test_serve_can_start_with_auto_advance_on(folder):
    with serve(folder, "--time", "virtual", "--auto-advance") as served:
        assert served.http.get("/emulator/v1/clock").json()["autoAdvance"] is True
        assert "auto-advance on" in served.err.getvalue()


@pytest.mark.parametrize(("method", "path", "body", "status", "needle"), [
    ("POST", "clock:advance", {}, "INVALID_ARGUMENT", "exactly one of"),
    ("POST", "clock:advance", {"seconds": 1, "next": True}, "INVALID_ARGUMENT", "got seconds and next"),
    ("POST", "clock:advance", {"seconds": -5}, "INVALID_ARGUMENT", "must not be negative"),
    ("POST", "clock:advance", {"seconds": "10"}, "INVALID_ARGUMENT", "must be a number"),
    ("POST", "clock:advance", {"seconds": True}, "INVALID_ARGUMENT", "must be a number"),
    ("POST", "clock:advance", {"seconds": 1e12}, "INVALID_ARGUMENT", "more than ten years"),
    ("POST", "clock:advance", {"to": "yesterday"}, "INVALID_ARGUMENT", "not an RFC 3339 timestamp"),
    ("POST", "clock:advance", {"to": "2025-12-31T23:59:59Z"}, "INVALID_ARGUMENT", "the clock never goes back"),
    ("POST", "clock:advance", {"next": 1}, "INVALID_ARGUMENT", "next must be true"),
    ("POST", "clock:advance", {"sconds": 1}, "INVALID_ARGUMENT", "does not know 'sconds'"),
    ("POST", "clock:advance", b"{not json", "INVALID_ARGUMENT", "not valid JSON"),
    ("POST", "clock:advance", [1], "INVALID_ARGUMENT", "must be a JSON object"),
    ("POST", "clock:setAutoAdvance", {"enabled": "yes"}, "INVALID_ARGUMENT", '{"enabled": true}'),
    ("POST", "executions:runUntilIdle", {"all": True}, "INVALID_ARGUMENT", "empty body"),
    ("GET", "clock:advance", None, "NOT_FOUND", "use POST"),
    ("POST", "clock", {}, "NOT_FOUND", "use GET"),
    ("GET", "clocks", None, "NOT_FOUND", "no emulator method"),
])
def test_mistakes_are_answered_with_the_google_error_envelope(shared_serve, method, path, body, status, needle):
    served = shared_serve
    content = body if isinstance(body, bytes) else None
    answer = served.http.request(method, f"/emulator/v1/{path}", content=content,
                                 json=None if body is None or content is not None else body)
    expected = 404 if status == "NOT_FOUND" else 400
    assert answer.status_code == expected
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (expected, status)
    assert needle in error["message"]
    assert served.http.get("/emulator/v1/clock").json()["now"] == "2026-01-01T00:00:00Z"  # nothing moved


def test_real_time_reads_the_clock_but_refuses_to_move_it(folder):
    with serve(folder, "--time", "real") as served:
        clock = served.http.get("/emulator/v1/clock").json()
        assert clock["autoAdvance"] is True
        for path, body in (("clock:advance", {"seconds": 1}), ("clock:setAutoAdvance", {"enabled": False})):
            refused = served.http.post(f"/emulator/v1/{path}", json=body)
            assert refused.status_code == 400
            assert refused.json()["error"]["status"] == "FAILED_PRECONDITION"
            assert "--time virtual" in refused.json()["error"]["message"]
        assert served.idle()["autoAdvance"] is True


def test_auth_protects_the_control_api_and_the_ui(folder):
    with serve(folder, "--time", "virtual", "--auth", "s3cret") as served:
        refused = served.http.get("/emulator/v1/clock")
        assert refused.status_code == 401
        assert refused.json()["error"]["status"] == "UNAUTHENTICATED"
        wrong = served.http.get("/emulator/v1/clock", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert served.http.get("/emulator/v1/clock", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert served.http.get("/ui/").status_code == 401
        login = served.http.get("/ui/", params={"token": "s3cret"}, follow_redirects=True)  # follows the redirect with the cookie
        assert login.status_code == 200
        assert login.url.path == "/ui/"
        assert "token" not in str(login.url)
        assert served.http.get("/emulator/v1/clock").status_code == 200  # the browser's cookie works here too


def test_a_cross_site_page_cannot_move_the_clock(folder):
    with serve(folder, "--time", "virtual") as served:
        refused = served.http.post("/emulator/v1/clock:advance", json={"seconds": 5},
                                   headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        assert refused.json()["error"]["status"] == "PERMISSION_DENIED"
        same = served.http.post("/emulator/v1/clock:advance", json={"seconds": 5},
                                headers={"Origin": served.base})
        assert same.json()["now"] == "2026-01-01T00:00:05Z"


def test_the_workflow_resource_shows_a_deploy_error_and_keeps_the_last_good_revision(folder):
    with serve(folder, "--time", "virtual") as served:
        before = served.http.get(f"{PARENT}/workflows/approve").json()
        assert "stateError" not in before
        (folder / "approve.yaml").write_text("main:\n  steps:\n    - first:\n        call: no.such.function\n")
        deadline = time.monotonic() + TIMEOUT
        body = before
        while "stateError" not in body and time.monotonic() < deadline:
            time.sleep(0.05)
            body = served.http.get(f"{PARENT}/workflows/approve").json()
        assert body["revisionId"] == before["revisionId"]
        assert body["state"] == "ACTIVE"
        assert f"{folder / 'approve.yaml'}:4:15: " in body["stateError"]["details"]
        listed = served.http.get(f"{PARENT}/workflows").json()["workflows"]
        assert [w.get("stateError") is not None for w in listed] == [True, False]  # approve, nap
        assert "failed to deploy (the last good revision keeps serving)" in served.err.getvalue()
        assert f"{folder / 'approve.yaml'}:4:15: call to unknown function" in served.err.getvalue()
        (folder / "fresh.yaml").write_text("main:\n  steps:\n    - x:\n        return: ${1 +}\n")
        deadline = time.monotonic() + TIMEOUT
        missing = served.http.get(f"{PARENT}/workflows/fresh")
        while "does not deploy" not in missing.text and time.monotonic() < deadline:
            time.sleep(0.05)
            missing = served.http.get(f"{PARENT}/workflows/fresh")
        assert missing.status_code == 404
        assert f"{folder / 'fresh.yaml'}:4:" in missing.json()["error"]["message"]
