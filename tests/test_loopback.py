"""The plugin's own loopback client: a user's respx never intercepts it, and it is shared and kept alive."""

from __future__ import annotations

import socket

import httpx
import pytest

from pytest_wfcallbacks import loopback

# A workflow that calls out (answered by workflow_runtime.http), then waits for a POST callback.
TEST_HEADER = '''
import httpx
import pytest
import respx

WORKFLOW = """
main:
  steps:
    - fetch:
        call: http.get
        args:
          url: https://api.example.com/status
        result: status
    - cb:
        call: events.create_callback_endpoint
        args:
          http_callback_method: POST
        result: cb
    - wait:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 60
        result: request
    - done:
        return: ${[status.body, request.http_request.body]}
"""


def start(workflow_runtime):
    workflow_runtime.http.get("https://api.example.com/status").respond(json={"from": "runtime"})
    return workflow_runtime.execute(WORKFLOW)
'''


def run_user_tests(pytester: pytest.Pytester, body: str, passed: int) -> None:
    pytester.makepyfile(TEST_HEADER + body)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error::pytest.PytestUnraisableExceptionWarning")
    result.assert_outcomes(passed=passed)


def test_respx_mock_fixture_does_not_see_the_plugins_requests(pytester: pytest.Pytester) -> None:
    run_user_tests(pytester, '''
def test_send(workflow_runtime, respx_mock):
    user_route = respx_mock.get("https://api.example.com/status").respond(json={"from": "user"})
    execution = start(workflow_runtime)
    callback = execution.wait_for_callback()
    assert callback.send(json={"ok": 1}).status_code == 200
    assert execution.result() == [{"from": "runtime"}, {"ok": 1}]
    assert not user_route.called  # the workflow's http.* went to workflow_runtime.http only
    assert httpx.get("https://api.example.com/status").json() == {"from": "user"}  # the user's code is mocked


def test_send_after_and_send_on_await(workflow_runtime, respx_mock):
    execution = start(workflow_runtime)
    callback = execution.wait_for_callback()
    callback.send_after(5, json="later")
    assert execution.result() == [{"from": "runtime"}, "later"]
    second = start(workflow_runtime)
    second_callback = second.wait_for_callback()
    second_callback.send_on_await(json="on await")
    assert second.result() == [{"from": "runtime"}, "on await"]
    assert second_callback.responses == [200]
''', passed=2)


def test_respx_decorator_and_context_manager(pytester: pytest.Pytester) -> None:
    run_user_tests(pytester, '''
@respx.mock
def test_decorator(workflow_runtime):
    execution = start(workflow_runtime)
    assert execution.wait_for_callback().send(json="d").status_code == 200
    assert execution.result()[1] == "d"


@respx.mock(using="httpx")
def test_decorator_patching_httpx_client(workflow_runtime):
    execution = start(workflow_runtime)
    assert execution.wait_for_callback().send(json="x").status_code == 200
    assert execution.result() == [{"from": "runtime"}, "x"]


def test_context_manager(workflow_runtime):
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        user_route = router.get("https://api.example.com/status").respond(json={"from": "user"})
        execution = start(workflow_runtime)
        response = execution.wait_for_callback().send(json="c")
        assert response.status_code == 200 and response.json() == {}
        assert execution.result() == [{"from": "runtime"}, "c"]
        assert not user_route.called
''', passed=3)


def test_async_tests_with_respx(pytester: pytest.Pytester) -> None:
    run_user_tests(pytester, '''
@pytest.mark.asyncio
async def test_fixture_async(workflow_runtime, respx_mock):
    execution = start(workflow_runtime)
    callback = await execution.wait_for_callback_async()
    assert (await callback.send_async(json="a")).status_code == 200
    assert await execution.result_async() == [{"from": "runtime"}, "a"]


@pytest.mark.asyncio
async def test_context_async(workflow_runtime):
    async with respx.mock:
        execution = start(workflow_runtime)
        callback = await execution.wait_for_callback_async()
        assert (await callback.send_async(json="b")).status_code == 200
        assert await execution.result_async() == [{"from": "runtime"}, "b"]


@pytest.mark.asyncio
@respx.mock(using="httpx")
async def test_decorator_async_httpx(workflow_runtime):
    execution = start(workflow_runtime)
    callback = await execution.wait_for_callback_async()
    assert (await callback.send_async(json="h")).status_code == 200
    assert await execution.result_async() == [{"from": "runtime"}, "h"]
''', passed=3)


def test_workflow_calls_to_its_own_rest_api_pass_the_users_respx(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import respx

def test_rest(workflow_runtime):
    workflow_runtime.deploy("- r:\\n    return: 1\\n", name="child")
    url = workflow_runtime.base_url + "/v1/projects/test-project/locations/us-central1/workflows/child"
    source = "- g:\\n    call: http.get\\n    args:\\n      url: " + url + "\\n    result: r\\n- d:\\n    return: ${r.code}\\n"
    with respx.mock:
        assert workflow_runtime.run(source).value == 200
''')
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_one_shared_client_reuses_its_connection(workflow_runtime) -> None:  # type: ignore[no-untyped-def]
    url = workflow_runtime.base_url + "/no-such-path"
    client = loopback.client()
    assert client is loopback.client()
    first = client.get(url)
    second = client.get(url)
    assert first.status_code == second.status_code == 404
    # The second request went over the connection the first one left idle.
    assert first.extensions["http_version"] == b"HTTP/1.1"
    transport = loopback.transport()
    origin_idle = [conns for (_, port), conns in transport._idle.items() if port == workflow_runtime._server.port]
    assert origin_idle
    assert len(origin_idle[0]) == 1


def test_refused_connection_is_an_httpx_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        loopback.client().get(f"http://127.0.0.1:{port}/")


def test_only_plain_http_to_loopback() -> None:
    with pytest.raises(httpx.UnsupportedProtocol, match="loopback hosts only"):
        loopback.client().get("http://example.com/")
    with pytest.raises(httpx.UnsupportedProtocol):
        loopback.client().get("https://127.0.0.1:1/")


def test_closing_a_standalone_runtime_drops_its_idle_connections() -> None:
    from pytest_wfcallbacks import WorkflowRuntime

    with WorkflowRuntime() as runtime:
        loopback.client().get(runtime.base_url + "/x")
        port = runtime._server.port
        assert any(key[1] == port for key in loopback.transport()._idle)
    assert not any(key[1] == port for key in loopback.transport()._idle)
