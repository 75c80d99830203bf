"""Assertion helpers: their verdicts and the state tables their failures show (also as a pytest user sees them)."""

from __future__ import annotations

import re

import httpx
import pytest

from pytest_wfcallbacks import (
    SlotState,
    WorkflowRuntime,
    assert_branch_order,
    assert_callback_response,
    assert_slot_state,
)

AWAIT_ONE = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - wait:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 3600
        result: request
    - done:
        return: ${request.http_request.body}
"""

FAN = """
main:
  steps:
    - fan:
        parallel:
          for:
            value: item
            in: ["a", "b", "c"]
            steps:
              - nap:
                  call: sys.sleep
                  args:
                    seconds: ${if(item == "a", 3, if(item == "b", 1, 2))}
              - arrive:
                  assign:
                    - x: ${item}
"""


def test_assert_slot_state_passes_and_accepts_names(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE)
    callback = execution.wait_for_callback()
    assert_slot_state(callback, SlotState.WAITING, waiters=1, available_payloads=0)
    assert_slot_state(callback, "waiting")
    callback.send("a")
    callback.send("b")
    assert_slot_state(callback, "FILLED", waiters=0, available_payloads=1)


def test_assert_slot_state_failure_shows_the_table(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE)
    callback = execution.wait_for_callback()
    workflow_runtime.clock.advance(7)
    callback.send({"order": 1})
    callback.send({"order": 2})
    callback.send({"order": 3})
    with pytest.raises(AssertionError) as failure:
        assert_slot_state(callback, SlotState.EMPTY, waiters=2, available_payloads=0)
    message = str(failure.value)
    assert message.startswith(f"callback {callback.id}: slot state is FILLED, expected EMPTY; waiters is 0, "
                              "expected 2; available payloads is 1, expected 0")
    assert execution.id in message
    # the callbacks table: id, method, slot, waiters, stored payloads
    row = next(line for line in message.splitlines() if callback.id in line and "#1" in line)
    assert re.search(r"#1\s+\S+\s+POST\s+FILLED\s+0\s+1: \{\"order\":2\}\s+1\s+3", row), row
    # every request answered, with status, outcome and virtual time
    assert re.search(r"#1\s+POST\s+200\s+delivered\s+2026-01-01T00:00:07\+00:00 \(t\+7s\)", message)
    assert re.search(r"#1\s+POST\s+200\s+stored\s+2026-01-01T00:00:07\+00:00 \(t\+7s\)", message)
    assert re.search(r"#1\s+POST\s+429\s+rejected\s+2026-01-01T00:00:07\+00:00 \(t\+7s\)", message)


def test_assert_slot_state_rejects_unknown_states(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE)
    callback = execution.wait_for_callback()
    with pytest.raises(ValueError, match="unknown slot state 'FULL'"):
        assert_slot_state(callback, "FULL")


def test_assert_callback_response_accepts_responses_and_codes(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE)
    callback = execution.wait_for_callback()
    response = callback.send("x")
    assert_callback_response(response, 200)
    assert_callback_response(429, 429)

    class RequestsLike:
        status_code = 404

    class WerkzeugLike:
        status = "403 FORBIDDEN"

    assert_callback_response(RequestsLike(), 404)
    assert_callback_response(WerkzeugLike(), 403)
    with pytest.raises(TypeError, match="cannot read a status code"):
        assert_callback_response("200", 200)


def test_assert_callback_response_failure_explains(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE)
    callback = execution.wait_for_callback()
    callback.send("first")
    callback.send("second")
    rejected = callback.send("third")
    with pytest.raises(AssertionError) as failure:
        assert_callback_response(rejected, 200, callback=callback)
    message = str(failure.value)
    assert message.startswith("callback answered 429 (rejected: slot already filled), expected 200")
    assert "RESOURCE_EXHAUSTED" in message  # the response body
    assert "requests answered" in message
    assert re.search(r"#1\s+POST\s+429\s+rejected", message)


def test_assert_callback_response_finds_the_execution_from_the_url(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE)
    callback = execution.wait_for_callback()
    execution.cancel()
    gone = httpx.post(callback.url, json=1, trust_env=False)
    with pytest.raises(AssertionError) as failure:
        assert_callback_response(gone, 200)
    message = str(failure.value)
    assert "404 (not found" in message
    assert f"execution {execution.id} (workflow): CANCELLED" in message
    assert re.search(r"#1\s+POST\s+404\s+not-found", message)


def test_assert_branch_order(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(FAN)
    assert_branch_order(execution, "arrive", ["b", "c", "a"])
    with pytest.raises(AssertionError) as failure:
        assert_branch_order(execution, "arrive", ["a", "b", "c"])
    message = str(failure.value)
    assert "branches reached step 'arrive' in the order ['b', 'c', 'a'], expected ['a', 'b', 'c']" in message
    assert "arrivals:" in message
    assert "t+1s" in message
    assert "t+3s" in message
    assert f"execution {execution.id}" in message


def test_assert_branch_order_with_loop_values(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run("""
main:
  steps:
    - fan:
        parallel:
          for:
            value: n
            range: [1, 3]
            steps:
              - nap:
                  call: sys.sleep
                  args:
                    seconds: ${4 - n}
              - arrive:
                  assign:
                    - x: ${n}
""")
    assert_branch_order(execution, "arrive", [3, 2, 1])
    assert execution.branch_order("arrive") == [3, 2, 1]
    assert all(type(value) is int for value in execution.branch_order("arrive"))  # 1, not "1"
    with pytest.raises(AssertionError, match=r"in the order \[3, 2, 1\], expected \['3', '2', '1'\]"):
        assert_branch_order(execution, "arrive", ["3", "2", "1"])
    with pytest.raises(AssertionError, match="no branch reached step 'nowhere'"):
        assert_branch_order(execution, "nowhere", [1])


def test_branch_order_keeps_loop_values_typed_and_branch_names_strings(workflow_runtime: WorkflowRuntime) -> None:
    """Loop values come back with their type (a map stays a map, a double a double); names stay strings."""
    execution = workflow_runtime.run("""
main:
  steps:
    - fan:
        parallel:
          for:
            value: v
            in: [{id: 7}, 2.5, "x", true]
            steps:
              - arrive:
                  assign:
                    - v: changed
    - named:
        parallel:
          branches:
            - "1":
                steps:
                  - here:
                      assign:
                        - y: 1
            - two:
                steps:
                  - here:
                      assign:
                        - y: 2
""")
    assert execution.branch_order("arrive") == [{"id": 7}, 2.5, "x", True]
    assert [type(v) for v in execution.branch_order("arrive")] == [dict, float, str, bool]
    assert execution.branch_order("here") == ["1", "two"]
    assert_branch_order(execution, "arrive", [{"id": 7}, 2.5, "x", True])
    with pytest.raises(AssertionError):
        assert_branch_order(execution, "arrive", [{"id": 7}, 2.5, "x", 1])  # true is not 1


# ---------------------------------------------------------------- as a pytest user sees them
def test_user_sees_the_state_table_on_a_failed_assertion(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(f'''
from pytest_wfcallbacks import assert_slot_state, assert_callback_response

SOURCE = """{AWAIT_ONE}"""

def test_slot(workflow_runtime):
    execution = workflow_runtime.execute(SOURCE)
    callback = execution.wait_for_callback()
    workflow_runtime.clock.advance(90)
    assert_callback_response(callback.send("one"), 200)
    assert_callback_response(callback.send("two"), 200)
    assert_slot_state(callback, "EMPTY")
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "def assert_slot_state(" not in result.stdout.str()  # the helper's own frame is hidden
    result.stdout.fnmatch_lines([
        "*AssertionError: callback *: slot state is FILLED, expected EMPTY",
        "*execution * (workflow): ACTIVE, * steps",
        "*callbacks:",
        "*callback id*method*slot*waiters*stored payloads*delivered*requests",
        "*#1*POST*FILLED*0*1: \"two\"*1*2",
        "*requests answered (status @ virtual time):",
        "*#1*POST*200*delivered*2026-01-01T00:01:30+00:00 (t+1m 30s)",
        "*#1*POST*200*stored*2026-01-01T00:01:30+00:00 (t+1m 30s)",
    ])


def test_user_sees_the_teardown_report_for_server_side_problems(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(f'''
import pytest

SOURCE = """{AWAIT_ONE}"""

def broken_auth(headers):
    raise RuntimeError("auth backend down")

@pytest.mark.workflow_runtime(callback_auth=broken_auth)
def test_auth(workflow_runtime):
    execution = workflow_runtime.execute(SOURCE)
    callback = execution.wait_for_callback()
    assert callback.send("x").status_code == 500

def test_contract_answers_are_not_problems(workflow_runtime):
    execution = workflow_runtime.execute(SOURCE)
    callback = execution.wait_for_callback()
    assert callback.send("x", method="GET").status_code == 404
    assert callback.send("a").status_code == 200
    assert callback.send("b").status_code == 200
    assert callback.send("c").status_code == 429

@pytest.mark.workflow_runtime(callback_auth=broken_auth, check_at_teardown=False)
def test_check_off(workflow_runtime):
    execution = workflow_runtime.execute(SOURCE)
    execution.wait_for_callback().send("x")
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_auth*",
        "*pytest-wfcallbacks found problems after the test:",
        "*errors on the callback server thread:",
        "*callback_auth callable raised RuntimeError('auth backend down')*",
        "*#1*POST*500*auth-error*",
    ])
    assert "test_contract_answers_are_not_problems" not in "\n".join(
        line for line in result.stdout.lines if "ERROR" in line)
