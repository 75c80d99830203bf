"""Async twins under pytest-asyncio, strict and auto modes, function and module loop scopes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "workflows"

ASYNC_TESTS = f'''
import asyncio
from pathlib import Path

import httpx
import pytest

EXAMPLES = Path({str(EXAMPLES)!r})

# The service runs concurrently with the drive: the drive holds virtual time while the loop's
# other tasks show activity within `async_settle`. A generous settle costs nothing here (each
# request is activity, which ends the wait at once) and keeps a loaded machine from letting
# virtual time jump between two requests.
{{marker}}
@pytest.mark.workflow_runtime(async_settle=30)
async def test_callback_sent_from_the_event_loop(workflow_runtime):
    execution = workflow_runtime.execute(EXAMPLES / "parallel_callbacks.yaml")
    callback = await execution.wait_for_callback_async()
    await execution.wait_until_awaiting_async(callback)

    async def service():
        # an async service on the test's loop answers every worker after a real delay
        await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as client:
            for n in range(10):
                response = await client.post(callback.url, json={{"n": n}})
                assert response.status_code == 200

    task = asyncio.create_task(service())
    received = await execution.result_async()
    await task
    assert [item["body"]["n"] for item in received] == list(range(10))

{{marker}}
async def test_send_async_and_wait_async(workflow_runtime):
    execution = workflow_runtime.execute(EXAMPLES / "basic_callback.yaml")
    callback = await execution.wait_for_callback_async()
    response = await callback.send_async(query={{"ok": "1"}})
    assert response.status_code == 200
    await execution.wait_async()
    assert execution.value["query"] == {{"ok": ["1"]}}

{{marker}}
async def test_timeouts_still_take_no_wall_time(workflow_runtime):
    execution = workflow_runtime.execute(EXAMPLES / "callback_timeout.yaml")
    assert await execution.result_async() == "timed out"
    assert workflow_runtime.clock.elapsed == 3600
'''


@pytest.mark.parametrize(
    ("mode", "marker", "scope"),
    [
        ("strict", "@pytest.mark.asyncio", "function"),
        ("strict", "@pytest.mark.asyncio(loop_scope='module')", "module"),
        ("auto", "", "function"),
        ("auto", "", "module"),
    ],
)
def test_async_twins(pytester: pytest.Pytester, mode: str, marker: str, scope: str) -> None:
    pytester.makeini(f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = {scope}\n"
                     f"asyncio_default_test_loop_scope = {scope}\n")
    pytester.makepyfile(ASYNC_TESTS.replace("{marker}", marker))
    result = pytester.runpytest("-p", "asyncio", "-W", "error::DeprecationWarning")
    result.assert_outcomes(passed=3)


def test_wait_until_awaiting_async_raises_like_its_twin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest
from pytest_wfcallbacks import ExecutionFinished

@pytest.mark.asyncio
async def test_no_await(workflow_runtime):
    execution = workflow_runtime.execute("- r:\\n    return: 1\\n")
    with pytest.raises(ExecutionFinished, match="before awaiting a callback"):
        await execution.wait_until_awaiting_async()
''')
    pytester.runpytest("-p", "asyncio", "-o", "asyncio_mode=strict").assert_outcomes(passed=1)


@pytest.mark.asyncio
@pytest.mark.workflow_runtime(async_settle=4, real_time_budget=2)
async def test_a_callback_delivered_just_after_the_drive_ran_is_not_waited_out(workflow_runtime: Any) -> None:
    # CI once hung here for the whole budget: the server thread delivered the last callback
    # after `run_until_idle` returned and before the async drive read its activity counter,
    # so the drive waited for "more" activity with the woken thread ready to run. The wrap
    # below puts a delivery in exactly that window, every time.
    execution = workflow_runtime.execute(EXAMPLES / "basic_callback.yaml")
    callback = await execution.wait_for_callback_async()
    await execution.wait_until_awaiting_async(callback)
    kernel = workflow_runtime._kernel
    run_until_idle = kernel.run_until_idle
    sent: list[int] = []

    def run_then_deliver(*args: Any, **kwargs: Any) -> None:
        run_until_idle(*args, **kwargs)
        if not sent:
            sent.append(callback.send(query={"ok": "1"}).status_code)

    kernel.run_until_idle = run_then_deliver
    other_task = asyncio.create_task(asyncio.sleep(30))  # a live task: the drive settles before moving time
    try:
        result = await execution.result_async()
    finally:
        other_task.cancel()
    assert sent == [200]
    assert result["query"] == {"ok": ["1"]}
