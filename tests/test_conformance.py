"""Every case in tests/conformance/*.yaml, run through the public API (one parametrised test)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pytest_wfcallbacks import ExecutionState, WorkflowRuntime, WorkflowSyntaxError

from .conftest import CONFORMANCE


def _cases() -> list[Any]:
    params = []
    for path in sorted(CONFORMANCE.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            params.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return params


def _same(actual: Any, expected: Any) -> bool:
    """Equality that keeps Workflows types apart: int 3 is not 3.0, true is not 1."""
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(_same(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, dict):
        return list(actual) == list(expected) or ((set(actual) == set(expected)) and all(
            _same(actual[k], expected[k]) for k in expected))
    return bool(actual == expected)


CASES = _cases()


def test_conformance_cases_were_found() -> None:
    assert len(CASES) >= 100, f"expected the conformance cases in {CONFORMANCE}"


@pytest.mark.parametrize("case", CASES)
def test_conformance(case: dict[str, Any], workflow_server: Any) -> None:
    source = case.get("workflow")
    if source is None:
        source = [{"r": {"return": "${" + case["expr"] + "}"}}]
    settings = case.get("settings") or {}
    with WorkflowRuntime(server=workflow_server, **settings) as runtime:
        if case.get("deploy_error"):
            with pytest.raises(WorkflowSyntaxError):
                runtime.deploy(source)
            return
        execution = runtime.execute(source, case.get("argument")).wait()
        if "error" in case:
            assert execution.state is ExecutionState.FAILED, (
                f"expected an error tagged {case['error']}, got {execution.state} {execution.value!r}")
            tags = execution.error.get("tags") if isinstance(execution.error, dict) else None
            assert isinstance(tags, list), f"error without tags: {execution.error!r}"
            assert case["error"] in tags, f"error {execution.error!r}"
        else:
            assert execution.state is ExecutionState.SUCCEEDED, (
                f"expected {case['result']!r}, got {execution.state}: {execution.error!r}")
            assert _same(execution.value, case["result"]), f"got {execution.value!r}, expected {case['result']!r}"
        for step, expected in (case.get("branch_order") or {}).items():
            order = execution.branch_order(step)
            assert _same(order, expected), f"branches reached {step!r} in the order {order!r}, expected {expected!r}"
