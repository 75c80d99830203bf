"""The official samples that call HTTP, run against respx mocks as a user would test them.

The samples (unchanged from GoogleCloudPlatform/workflows-samples, an external corpus given
with ``--official-samples DIR``; see conftest.py) call made-up hosts; every test mocks the calls a sample makes and checks the
result, the requests the service received, the attempts and the virtual time.
Three samples (iterate_for_in_http, iterate_for_range_http and
parallel_iteration) use the whole response map where they mean its body; the
real service raises TypeError for them, and so does this double: the tests
show the failure, then the sample with ``.body`` added working.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_wfcallbacks import WorkflowRuntime
from pytest_wfcallbacks.outbound import FAKE_TOKEN

from .conftest import official_samples

pytestmark = pytest.mark.official_samples


def sample(name: str) -> Path:
    path = official_samples() / f"{name}.workflows.yaml"
    assert path.is_file(), f"{path} is missing from the official samples"
    return path


def patched(name: str, old: str, new: str) -> str:
    """The sample's text with one fix applied (the fix must apply exactly once)."""
    text = sample(name).read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {name}"
    return text.replace(old, new)


# ---------------------------------------------------------------------------- http_get / http_post / connect_*


def test_http_get_sends_headers_and_query_and_returns_the_body(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get("https://www.example.com/endpoint").respond(200, text="Hello back")

    assert workflow_runtime.run(sample("http_get")).result() == "Hello back"
    request = route.calls.last.request
    assert request.url.params.multi_items() == [("some_val", "Hello World"), ("another_val", "123")]
    assert request.headers["Content-Type"] == "text/plain"


def test_http_post_sends_the_body_as_json(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.post("https://www.example.com/endpoint").respond(200, json={"saved": True})

    assert workflow_runtime.run(sample("http_post")).result() == {"saved": True}
    request = route.calls.last.request
    assert json.loads(request.content) == {"some_val": "Hello World", "another_val": 123}
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"


def test_connect_run_calls_cloud_run_with_an_oidc_token(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get("https://example-12345-ew.a.run.app").respond(200, json={"hello": "run"})

    assert workflow_runtime.run(sample("connect_run")).result() == {"hello": "run"}
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
    assert request.url.params["another_val"] == "123"


def test_connect_functions_posts_to_a_function_with_an_oidc_token(workflow_runtime: WorkflowRuntime) -> None:
    url = "https://us-central1-myproject123.cloudfunctions.net/myfunc1"
    route = workflow_runtime.http.post(url).respond(200, text="done")

    assert workflow_runtime.run(sample("connect_functions")).result() == "done"
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"


def test_my_first_workflow_chains_two_services(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://timeapi.io/api/Time/current/zone",
                              params={"timeZone": "Europe/Amsterdam"}).respond(200, json={"dayOfWeek": "Tuesday"})
    wiki = workflow_runtime.http.get("https://en.wikipedia.org/w/api.php").respond(
        200, json=["Tuesday", ["Tuesday", "Tuesday Weld"], [], []])

    assert workflow_runtime.run(sample("myFirstWorkflow")).result() == ["Tuesday", "Tuesday Weld"]
    assert dict(wiki.calls.last.request.url.params) == {"action": "opensearch", "search": "Tuesday"}


@pytest.mark.parametrize(("argument", "search"), [({"searchTerm": "Paris"}, "Paris"), ({}, "us")])
def test_quickstart_searches_the_term_or_the_location(workflow_runtime: WorkflowRuntime, argument: dict[str, Any],
                                                      search: str) -> None:
    wiki = workflow_runtime.http.get("https://en.wikipedia.org/w/api.php").respond(200, json=[search, ["a", "b"]])

    assert workflow_runtime.run(sample("quickstart"), argument).result() == ["a", "b"]
    assert wiki.calls.last.request.url.params["search"] == search


@pytest.mark.parametrize(("day", "expected"), [
    ("Friday", "It's Friday! Almost the weekend!"),
    ("Sunday", "It's the weekend!"),
    ("Monday", "It's the work week."),
])
def test_step_conditional_weekend(workflow_runtime: WorkflowRuntime, day: str, expected: str) -> None:
    workflow_runtime.http.get(url__startswith="https://timeapi.io/").respond(200, json={"dayOfWeek": day})

    assert workflow_runtime.run(sample("step_conditional_weekend")).result() == expected


@pytest.mark.parametrize(("value", "called"), [(3, "SmallFunc"), (50, "MediumFunc"), (500, "LargeFunc")])
def test_step_conditional_jump_calls_one_function(workflow_runtime: WorkflowRuntime, value: int, called: str) -> None:
    workflow_runtime.http.get("https://www.example.com/callA").respond(200, json={"SomeField": value})
    functions = {name: workflow_runtime.http.get(f"https://www.example.com/{name}").respond(200)
                 for name in ("SmallFunc", "MediumFunc", "LargeFunc")}

    execution = workflow_runtime.run(sample("step_conditional_jump"))

    assert execution.result() is None
    assert {name: route.call_count for name, route in functions.items()} == {
        name: int(name == called) for name in functions}


@pytest.mark.parametrize(("name", "order"), [
    ("step_implicit", ["https://www.example.com/callA", "https://www.example.com/callB",
                       "https://www.example.com/callC"]),
    ("step_explicit", ["https://www.somewhere.com/callA", "https://www.somewhere.com/callC",
                       "https://www.somewhere.com/callB"]),
])
def test_steps_call_in_the_sample_order(workflow_runtime: WorkflowRuntime, name: str, order: list[str]) -> None:
    catch_all = workflow_runtime.http.get(url__regex=r"https://www\.(example|somewhere)\.com/call[ABC]").respond(200)

    workflow_runtime.run(sample(name)).result()

    assert [str(call.request.url) for call in catch_all.calls] == order


# ---------------------------------------------------------------------------- error_catch


@pytest.mark.parametrize(("outcome", "expected"), [
    (httpx.Response(200, json={"item": 1}), {"item": 1}),
    (httpx.Response(404), "Sorry, URL wasn't found"),
    (httpx.Response(403), "Authentication error"),
    (httpx.ConnectError("refused"), "Connection problem; check URL"),
    (httpx.ReadTimeout("slow"), "Connection problem; check URL"),
])
def test_error_catch_routes_each_error(workflow_runtime: WorkflowRuntime, outcome: Any, expected: Any) -> None:
    route = workflow_runtime.http.get("https://example.com/someapi").mock(side_effect=[outcome])

    assert workflow_runtime.run(sample("error_catch")).result() == expected
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"


def test_error_catch_reraises_other_http_errors(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://example.com/someapi").respond(500, json={"error": "boom"})

    execution = workflow_runtime.run(sample("error_catch"))

    assert execution.state == "FAILED"
    assert execution.error["tags"] == ["HttpError"]
    assert execution.error["code"] == 500
    assert execution.error["body"] == {"error": "boom"}


# ---------------------------------------------------------------------------- error_retry*


def test_error_retry_recovers_from_two_unavailable_answers(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get("https://example.com/someapi").mock(
        side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, json="ok")])

    execution = workflow_runtime.run(sample("error_retry"))

    assert execution.state == "SUCCEEDED"
    assert route.call_count == 3
    assert workflow_runtime.clock.elapsed == 1 + 1.25


def test_error_retry_gives_up_after_five_retries(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get("https://example.com/someapi").respond(503)

    execution = workflow_runtime.run(sample("error_retry"))

    assert execution.error["code"] == 503
    assert route.call_count == 6
    assert workflow_runtime.clock.elapsed == 1 + 1.25 + 1.5625 + 1.953125 + 2.44140625


def test_error_retry_does_not_retry_a_404(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get("https://example.com/someapi").respond(404)

    assert workflow_runtime.run(sample("error_retry")).error["code"] == 404
    assert route.call_count == 1


@pytest.mark.parametrize("name", ["error_retry_500", "error_retry_http_status"])
def test_custom_predicate_retries_500_with_doubling_backoff(workflow_runtime: WorkflowRuntime, name: str) -> None:
    route = workflow_runtime.http.get("https://host.com/api").mock(
        side_effect=[httpx.Response(500), httpx.Response(500), httpx.Response(200)])

    assert workflow_runtime.run(sample(name)).result() == "OK"
    assert route.call_count == 3
    assert workflow_runtime.clock.elapsed == 2 + 4


@pytest.mark.parametrize("name", ["error_retry_500", "error_retry_http_status"])
def test_custom_predicate_gives_up_after_62_seconds(workflow_runtime: WorkflowRuntime, name: str) -> None:
    route = workflow_runtime.http.get("https://host.com/api").respond(500)

    execution = workflow_runtime.run(sample(name))

    assert execution.error["code"] == 500
    assert route.call_count == 6
    assert workflow_runtime.clock.elapsed == 2 + 4 + 8 + 16 + 32


@pytest.mark.parametrize("name", ["error_retry_500", "error_retry_http_status"])
def test_custom_predicate_fails_on_an_error_without_a_code(workflow_runtime: WorkflowRuntime, name: str) -> None:
    """``e.code`` on a ConnectionFailedError is a KeyError inside the predicate: it propagates."""
    route = workflow_runtime.http.get("https://host.com/api").mock(side_effect=httpx.ConnectError("refused"))

    execution = workflow_runtime.run(sample(name))

    assert execution.error["tags"] == ["KeyError"]
    assert route.call_count == 1


@pytest.mark.parametrize(("status", "attempts", "elapsed"), [(503, 6, 62), (429, 6, 62), (500, 1, 0)])
def test_error_retry_custom_uses_the_default_predicate_with_its_backoff(
        workflow_runtime: WorkflowRuntime, status: int, attempts: int, elapsed: float) -> None:
    route = workflow_runtime.http.get("https://example.com/someapi").respond(status)

    execution = workflow_runtime.run(sample("error_retry_custom"))

    assert execution.error["code"] == status
    assert route.call_count == attempts
    assert workflow_runtime.clock.elapsed == elapsed


def test_error_retry_http_other_retries_a_202_until_it_is_done(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get("https://host.com/api").mock(side_effect=[
        httpx.Response(202, json={"state": "pending"}), httpx.Response(202, json={"state": "pending"}),
        httpx.Response(200, json={"state": "done"})])

    execution = workflow_runtime.run(sample("error_retry_http_other"))

    assert execution.state == "SUCCEEDED"
    assert route.call_count == 3
    assert workflow_runtime.clock.elapsed == 2 + 4


def test_error_retry_http_other_raises_the_last_202(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://host.com/api").respond(202, json={"state": "pending"})

    execution = workflow_runtime.run(sample("error_retry_http_other"))

    assert execution.error["code"] == 202  # the raised value is the response map itself
    assert execution.error["body"] == {"state": "pending"}
    assert workflow_runtime.clock.elapsed == 62


def test_error_retry_predicate_logs_the_error_and_does_not_retry_a_500(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.get("https://example.com/someapi").respond(500)

    execution = workflow_runtime.run(sample("error_retry_predicate"))

    assert execution.error["code"] == 500
    assert route.call_count == 1
    assert [entry.payload for entry in execution.logs] == [
        ["HttpError"], "HTTP server responded with error code 500", 500]
    assert {entry.severity for entry in execution.logs} == {"INFO"}


def test_error_retry_predicate_succeeds_on_a_202(workflow_runtime: WorkflowRuntime) -> None:
    """A 202 is not an error: the predicate never runs and the sample returns OK."""
    workflow_runtime.http.get("https://example.com/someapi").respond(202)

    execution = workflow_runtime.run(sample("error_retry_predicate"))

    assert execution.result() == "OK"
    assert execution.logs == []


# ---------------------------------------------------------------------------- iterate_*


def test_iterate_for_in_http_as_written_iterates_the_response_map(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://example.com/getUserIDs").respond(200, json=[1, 2])

    execution = workflow_runtime.run(sample("iterate_for_in_http"))

    assert execution.error["tags"] == ["TypeError"]  # `for in` needs a list; the response is a map


def test_iterate_for_in_http_fixed_fetches_and_saves_each_user(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://example.com/getUserIDs").respond(200, json=[7, 8])
    info = workflow_runtime.http.get("https://example.com/getUserInfo").mock(
        side_effect=lambda request: httpx.Response(200, json={"id": int(request.url.params["userId"])}))
    save = workflow_runtime.http.post("https://example.com/saveUserInfo").respond(204)

    execution = workflow_runtime.run(patched("iterate_for_in_http", "in: ${userIds}", "in: ${userIds.body}"))

    assert execution.state == "SUCCEEDED"
    assert [call.request.url.params["userId"] for call in info.calls] == ["7", "8"]
    sent = [json.loads(call.request.content) for call in save.calls]
    # the sample posts the whole response map ({body, code, headers}), not only its body
    assert [(item["code"], item["body"]) for item in sent] == [(200, {"id": 7}), (200, {"id": 8})]
    assert [call.request.url.params["userId"] for call in save.calls] == ["7", "8"]


def test_iterate_for_in_http_fixed_reports_a_connection_problem(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://example.com/getUserIDs").respond(200, json=[7, 8])
    workflow_runtime.http.get("https://example.com/getUserInfo").mock(side_effect=httpx.ConnectError("refused"))

    execution = workflow_runtime.run(patched("iterate_for_in_http", "in: ${userIds}", "in: ${userIds.body}"))

    assert execution.result() == "Connection problem with userID: 7"


def test_iterate_for_in_http_fixed_reraises_http_errors(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://example.com/getUserIDs").respond(200, json=[7])
    workflow_runtime.http.get("https://example.com/getUserInfo").respond(200, json={"id": 7})
    workflow_runtime.http.post("https://example.com/saveUserInfo").respond(409)

    execution = workflow_runtime.run(patched("iterate_for_in_http", "in: ${userIds}", "in: ${userIds.body}"))

    assert execution.error["code"] == 409


def test_iterate_for_range_http_as_written_tests_the_response_map(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://example.com/isBodyTempNormal").respond(200, json=True)

    execution = workflow_runtime.run(sample("iterate_for_range_http"))

    assert execution.error["tags"] == ["TypeError"]  # a switch condition must be a boolean


def test_iterate_for_range_http_fixed_stores_until_the_first_abnormal(workflow_runtime: WorkflowRuntime) -> None:
    checked = workflow_runtime.http.get("https://example.com/isBodyTempNormal").mock(
        side_effect=lambda request: httpx.Response(200, json=float(request.url.params["temp"]) < -12))
    stored = workflow_runtime.http.post("https://example.com/storeTemp").respond(200)

    execution = workflow_runtime.run(patched("iterate_for_range_http", "${isNormal}", "${isNormal.body}"))

    assert execution.state == "SUCCEEDED"
    assert [call.request.url.params["temp"] for call in checked.calls] == ["-14.5", "-13.5", "-12.5", "-11.5"]
    assert [call.request.content for call in stored.calls] == [b"-14.5", b"-13.5", b"-12.5"]


# ---------------------------------------------------------------------------- parallel_*


def test_parallel_branch_fetches_user_and_notification(workflow_runtime: WorkflowRuntime) -> None:
    users = workflow_runtime.http.get("https://example.com/users/u1").respond(200, json={"name": "Ada"})
    notes = workflow_runtime.http.get("https://example.com/notification/n1").respond(200, json={"text": "hi"})

    execution = workflow_runtime.run(sample("parallel_branch"), {"userId": "u1", "notificationId": "n1"})

    assert execution.state == "SUCCEEDED"
    assert (users.call_count, notes.call_count) == (1, 1)


def test_parallel_loop_posts_every_notification(workflow_runtime: WorkflowRuntime) -> None:
    route = workflow_runtime.http.post("https://example.com/sendNotification").respond(200)

    execution = workflow_runtime.run(sample("parallel_loop"), {"notifications": ["a", "b", "c"]})

    assert execution.state == "SUCCEEDED"
    assert sorted(json.loads(call.request.content)["notification"] for call in route.calls) == ["a", "b", "c"]


def test_parallel_operations_keeps_going_when_recent_items_fail(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("https://example.com/users/42").respond(200, json={"name": "Ada"})
    items = workflow_runtime.http.get("https://example.com/items", params={"userId": "42"}).respond(503)

    execution = workflow_runtime.run(sample("parallel_operations"), {"userId": "42"})

    assert execution.state == "SUCCEEDED"
    assert items.call_count == 1


def test_parallel_shared_variables_collects_both_branches(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get("http://mystore.com/getStock/apples").respond(200, json={"some": {"entry": 12}})
    workflow_runtime.http.get("http://mystore.com/orderStock/oranges").respond(200, json={"some": {"entry": "ok"}})

    execution = workflow_runtime.run(sample("parallel_shared_variables"))

    assert execution.state == "SUCCEEDED"


def test_parallel_iteration_as_written_adds_a_response_map(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(url__startswith="https://example.com/postComments/").respond(200, json=3)

    execution = workflow_runtime.run(sample("parallel_iteration"), {"posts": ["p1", "p2"]})

    assert execution.error["tags"] == ["UnhandledBranchError"]


def test_parallel_iteration_fixed_sums_the_comment_counts(workflow_runtime: WorkflowRuntime) -> None:
    workflow_runtime.http.get(url__startswith="https://example.com/postComments/").mock(
        side_effect=lambda request: httpx.Response(200, json=len(request.url.path)))

    source = patched("parallel_iteration", "${total + numComments}", "${total + numComments.body}")
    execution = workflow_runtime.run(source, {"posts": ["p1", "p22"]})

    assert execution.result() == len("/postComments/p1") + len("/postComments/p22")
