"""Retry policies for ``http.*`` (docs/decisions.md #17): attempts counted on the route, backoff on the virtual clock.

``http.default_retry`` retries HTTP 429, 502, 503, 504, ConnectionError,
ConnectionFailedError and TimeoutError; ``http.default_retry_non_idempotent``
retries HTTP 429, 503 and ConnectionFailedError. Both allow 5 retries with
``retry.default_backoff`` (1 s, x1.25, at most 60 s).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pytest_wfcallbacks import WorkflowRuntime
from pytest_wfcallbacks.history import EventKind
from pytest_wfcallbacks.outbound import respond_after

API = "https://api.example.com/orders"

#: The five waits of retry.default_backoff: 1, 1.25, 1.5625, 1.953125, 2.44140625 seconds.
DEFAULT_WAITS = [1.25**k for k in range(5)]


def retried_get(policy: str, *, timeout: float | None = None) -> dict[str, Any]:
    """A workflow doing one GET under a named retry policy, returning the response code."""
    args: dict[str, Any] = {"url": API}
    if timeout is not None:
        args["timeout"] = timeout
    return {"main": {"steps": [
        {"get": {"try": {"call": "http.get", "args": args, "result": "r"}, "retry": "${" + policy + "}"}},
        {"done": {"return": "${r.code}"}},
    ]}}


def waits(runtime: WorkflowRuntime) -> list[float]:
    """The backoff waits the execution went through, in order."""
    execution = runtime.executions[-1]
    return [e.details["delay"] for e in execution.history if e.kind is EventKind.RETRY]


FAILURES: dict[str, Any] = {
    "429": httpx.Response(429),
    "500": httpx.Response(500),
    "502": httpx.Response(502),
    "503": httpx.Response(503),
    "504": httpx.Response(504),
    "404": httpx.Response(404),
    "400": httpx.Response(400),
    "ConnectionError": httpx.ReadError("connection reset"),
    "ConnectionFailedError": httpx.ConnectError("connection refused"),
}

IDEMPOTENT = {"429", "502", "503", "504", "ConnectionError", "ConnectionFailedError"}
NON_IDEMPOTENT = {"429", "503", "ConnectionFailedError"}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize(("policy", "retried"), [
    ("http.default_retry", IDEMPOTENT),
    ("http.default_retry_non_idempotent", NON_IDEMPOTENT),
])
def test_policy_retries_exactly_its_list(workflow_runtime: WorkflowRuntime, policy: str, retried: set[str],
                                         failure: str) -> None:
    route = workflow_runtime.http.get(API).mock(side_effect=lambda request: _raise_or_return(FAILURES[failure]))

    execution = workflow_runtime.run(retried_get(policy))

    assert execution.state == "FAILED"
    if failure in retried:
        assert route.call_count == 6  # the first attempt and 5 retries
        assert waits(workflow_runtime) == DEFAULT_WAITS
        assert workflow_runtime.clock.elapsed == pytest.approx(sum(DEFAULT_WAITS))
        assert workflow_runtime.clock.elapsed == 8.20703125
    else:
        assert route.call_count == 1
        assert workflow_runtime.clock.elapsed == 0


def _raise_or_return(outcome: Any) -> httpx.Response:
    if isinstance(outcome, Exception):
        raise outcome
    assert isinstance(outcome, httpx.Response)
    return httpx.Response(outcome.status_code)


@pytest.mark.parametrize(("policy", "attempts", "elapsed"), [
    # 6 attempts of 10 s each plus the backoff waits
    ("http.default_retry", 6, 6 * 10 + sum(DEFAULT_WAITS)),
    ("http.default_retry_non_idempotent", 1, 10),
])
def test_timeouts_are_retried_only_by_the_idempotent_policy(workflow_runtime: WorkflowRuntime, policy: str,
                                                            attempts: int, elapsed: float) -> None:
    route = workflow_runtime.http.get(API).mock(return_value=respond_after(3600, 200))

    execution = workflow_runtime.run(retried_get(policy, timeout=10))

    assert execution.error["tags"] == ["TimeoutError"]
    assert route.call_count == attempts
    assert workflow_runtime.clock.elapsed == pytest.approx(elapsed)


def test_success_after_two_failures_stops_retrying(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get(API).mock(side_effect=[
        httpx.Response(503), httpx.ConnectError("refused"), httpx.Response(200, json="ok"),
    ])

    assert workflow_runtime.run(retried_get("http.default_retry")).result() == 200
    assert route.call_count == 3
    assert waits(workflow_runtime) == [1.0, 1.25]
    assert workflow_runtime.clock.elapsed == 2.25


def test_a_slow_success_counts_its_delay_between_retries(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get(API).mock(side_effect=[httpx.Response(429), respond_after(20, 200)])

    assert workflow_runtime.run(retried_get("http.default_retry_non_idempotent")).result() == 200
    assert route.call_count == 2
    assert workflow_runtime.clock.elapsed == 21


def test_the_last_error_is_raised_when_retries_run_out(workflow_runtime: WorkflowRuntime) -> None:
    responses = [httpx.Response(503, json={"attempt": n}) for n in range(1, 7)]
    workflow_runtime.http.get(API).mock(side_effect=responses)

    execution = workflow_runtime.run(retried_get("http.default_retry"))

    assert execution.error["code"] == 503
    assert execution.error["body"] == {"attempt": 6}


def test_retry_with_except_runs_the_except_block_after_the_last_attempt(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.post(API).respond(503)
    source = {"main": {"steps": [
        {"create": {"try": {"call": "http.post", "args": {"url": API, "body": {"id": 1}}, "result": "r"},
                    "retry": "${http.default_retry_non_idempotent}",
                    "except": {"as": "e", "steps": [{"give_up": {"return": '${"gave up after " + string(e.code)}'}}]}}},
    ]}}

    assert workflow_runtime.run(source).result() == "gave up after 503"
    assert route.call_count == 6


def test_default_predicate_with_a_custom_backoff(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get(API).respond(502)
    source = {"main": {"steps": [
        {"get": {"try": {"call": "http.get", "args": {"url": API}},
                 "retry": {"predicate": "${http.default_retry_predicate}", "max_retries": 3,
                           "backoff": {"initial_delay": 2, "max_delay": 5, "multiplier": 3}}}},
    ]}}

    workflow_runtime.run(source)

    assert route.call_count == 4
    assert waits(workflow_runtime) == [2, 5, 5]
    assert workflow_runtime.clock.elapsed == 12


def test_retry_default_backoff_with_the_non_idempotent_predicate(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get(API).respond(503)
    source = {"main": {"steps": [
        {"get": {"try": {"call": "http.get", "args": {"url": API}},
                 "retry": {"predicate": "${http.default_retry_predicate_non_idempotent}", "max_retries": 2,
                           "backoff": {"initial_delay": "${retry.default_backoff.initial_delay}",
                                       "max_delay": "${retry.default_backoff.max_delay}",
                                       "multiplier": "${retry.default_backoff.multiplier}"}}}},
    ]}}

    workflow_runtime.run(source)

    assert route.call_count == 3
    assert workflow_runtime.clock.elapsed == 2.25


def test_max_delay_caps_the_default_backoff(workflow_runtime: WorkflowRuntime) -> None:
    """The 19th wait is 1.25**18 = 55.5 s; 1.25**19 would be 69.4 s, so from the 20th on each wait is 60 s."""
    route = workflow_runtime.http.get(API).respond(503)
    source = {"main": {"steps": [
        {"get": {"try": {"call": "http.get", "args": {"url": API}},
                 "retry": {"predicate": "${http.default_retry_predicate}", "max_retries": 22,
                           "backoff": {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25}}}},
    ]}}

    execution = workflow_runtime.run(source)

    assert execution.state == "FAILED"
    assert route.call_count == 23
    assert waits(workflow_runtime)[18] == 1.25**18  # 55.5 s
    assert waits(workflow_runtime)[19:] == [60, 60, 60]


def test_policy_values_are_documented_maps(workflow_runtime: WorkflowRuntime) -> None:
    source = {"main": {"steps": [{"done": {"return": [
        "${retry.default_backoff}",
        "${http.default_retry.max_retries}", "${http.default_retry.backoff}",
        "${http.default_retry_non_idempotent.max_retries}", "${http.default_retry_non_idempotent.backoff}",
    ]}}]}}

    backoff = {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25}
    assert workflow_runtime.run(source).result() == [backoff, 5, backoff, 5, backoff]


@pytest.mark.parametrize(("error", "idempotent", "non_idempotent"), [
    ({"tags": ["HttpError"], "code": 429}, True, True),
    ({"tags": ["HttpError"], "code": 502}, True, False),
    ({"tags": ["HttpError"], "code": 503}, True, True),
    ({"tags": ["HttpError"], "code": 504}, True, False),
    ({"tags": ["HttpError"], "code": 500}, False, False),
    ({"tags": ["HttpError"], "code": 404}, False, False),
    ({"tags": ["HttpError"]}, False, False),
    ({"code": 503}, False, False),  # a code without the HttpError tag
    ({"tags": ["ConnectionError"]}, True, False),
    ({"tags": ["ConnectionFailedError"]}, True, True),
    ({"tags": ["TimeoutError"]}, True, False),
    ({"tags": ["ValueError"]}, False, False),
    ({"tags": ["KeyError", "TimeoutError"]}, True, False),
    ("TimeoutError", False, False),  # a raised string is not a tagged error
    ({}, False, False),
])
def test_predicates_called_directly(workflow_runtime: WorkflowRuntime, error: Any, idempotent: bool,
                                    non_idempotent: bool) -> None:
    source = {"main": {"params": ["e"], "steps": [{"done": {"return": [
        "${http.default_retry_predicate(e)}", "${http.default_retry_predicate_non_idempotent(e)}",
    ]}}]}}

    assert workflow_runtime.run(source, error).result() == [idempotent, non_idempotent]


def test_user_raised_errors_are_judged_by_the_same_rules(workflow_runtime: WorkflowRuntime) -> None:
    source = {"main": {"steps": [
        {"init": {"assign": [{"attempts": 0}]}},
        {"work": {"try": {"steps": [
            {"count": {"assign": [{"attempts": "${attempts + 1}"}]}},
            {"fail": {"raise": {"tags": ["HttpError"], "code": 429, "message": "slow down"}}},
        ]}, "retry": "${http.default_retry_non_idempotent}",
            "except": {"steps": [{"report": {"return": "${attempts}"}}]}}},
    ]}}

    assert workflow_runtime.run(source).result() == 6
    assert workflow_runtime.clock.elapsed == 8.20703125
