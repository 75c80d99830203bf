"""The pytest plugin as a user meets it: fixtures, marker, ini options, --wf-seed, reports, xdist."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "workflows"

WAITING = f'''
from pathlib import Path
WORKFLOW = Path({str(EXAMPLES / "basic_callback.yaml")!r})
'''


def test_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--fixtures")
    # pytest orders fixtures its own way: check each fixture with its docstring, not their order.
    result.stdout.fnmatch_lines(["*workflow_runtime*", "*A fresh Google Cloud Workflows runtime*"])
    result.stdout.fnmatch_lines(["*workflow_server*", "*loopback HTTP server*"])


def test_marker_and_options_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*@pytest.mark.workflow_runtime(**settings)*"])
    help_result = pytester.runpytest("--help")
    help_result.stdout.fnmatch_lines(["*--wf-seed*", "*wfcallbacks_seed*"])


def test_marker_settings_reach_the_runtime(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest

@pytest.mark.workflow_runtime(seed=11, env={"COLOR": "blue"}, project="p1")
def test_settings(workflow_runtime):
    assert workflow_runtime.settings.seed == 11
    assert workflow_runtime.settings.project == "p1"
    value = workflow_runtime.run('- r:\\n    return: ${sys.get_env("COLOR") + sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}\\n').value
    assert value == "bluep1"

def test_defaults(workflow_runtime):
    assert workflow_runtime.settings.seed == 0
    assert workflow_runtime.settings.project == "test-project"
''')
    pytester.runpytest().assert_outcomes(passed=2)


def test_ini_options_and_wf_seed(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nwfcallbacks_seed = 5\nwfcallbacks_project = from-ini\nwfcallbacks_implicit_string_concat = true\n")
    pytester.makepyfile('''
def test_ini(workflow_runtime, request):
    expected = request.config.getoption("wf_seed") or 5
    assert workflow_runtime.settings.seed == expected
    assert workflow_runtime.settings.project == "from-ini"
    assert workflow_runtime.run('- r:\\n    return: ${"n=" + 5}\\n').value == "n=5"
''')
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--wf-seed", "42").assert_outcomes(passed=1)


def test_bad_marker_settings_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest

@pytest.mark.workflow_runtime(sead=1)
def test_typo(workflow_runtime):
    pass
''')
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*unknown workflow_runtime setting*'sead' (did you mean 'seed'?)*"])
    assert "Traceback" not in result.stdout.str()
    assert result.ret != 0


def test_teardown_check_reports_unmocked_calls_once_after_a_passing_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest

SOURCE = """
- call:
    try:
      call: http.get
      args: {url: "https://payments.example.com/status"}
    except:
      as: e
      steps:
        - swallow:
            return: "ignored"
"""

def test_swallows_the_error(workflow_runtime):
    assert workflow_runtime.run(SOURCE).value == "ignored"

@pytest.mark.workflow_runtime(check_at_teardown=False)
def test_check_off(workflow_runtime):
    assert workflow_runtime.run(SOURCE).value == "ignored"

def test_already_failing(workflow_runtime):
    workflow_runtime.run(SOURCE)
    assert False, "the test's own failure"
''')
    # -rN: no short summary (with CI set, pytest prints whole messages there, a second copy)
    result = pytester.runpytest("-rN")
    # one error: at the teardown of the passing test only (not when off, not after a failure)
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_swallows_the_error*",
        "*outbound HTTP calls no mock answered*",
        "*GET https://payments.example.com/status*",
    ])
    # printed once, without a traceback into the plugin
    assert result.stdout.str().count("outbound HTTP calls no mock answered") == 1
    assert "During handling of the above exception" not in result.stdout.str()
    assert "ERROR at teardown of test_check_off" not in result.stdout.str()
    assert "ERROR at teardown of test_already_failing" not in result.stdout.str()


def test_active_executions_are_cancelled_quietly_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(WAITING + '''
import httpx

URLS = []

def test_leaves_an_execution_waiting(workflow_runtime):
    execution = workflow_runtime.execute(WORKFLOW)
    URLS.append(execution.wait_for_callback().url)

def test_its_endpoint_is_gone(workflow_runtime):
    assert httpx.get(URLS[0]).status_code == 404
''')
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_failure_report_shows_the_state_table_and_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(WAITING + '''
def test_wrong_expectation(workflow_runtime):
    execution = workflow_runtime.execute(WORKFLOW)
    callback = execution.wait_for_callback()
    callback.send(query={"a": "1"})
    assert execution.result()["query"] == {"a": ["2"]}
''')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*workflow runtime state*",
        "*seed=0 (rerun with --wf-seed=0)*",
        "*callback*method*slot*waiters*",
        "*GET*CLOSED*",
        "*200*delivered*t+0s*",
    ])


def test_runs_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(WAITING + '''
import httpx
import pytest

@pytest.mark.parametrize("n", range(6))
def test_parallel_workers(workflow_runtime, n):
    execution = workflow_runtime.execute(WORKFLOW)
    callback = execution.wait_for_callback()
    assert httpx.get(callback.url, params={"n": str(n)}).status_code == 200
    assert execution.result()["query"] == {"n": [str(n)]}
''')
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=6)


def test_assertion_helper_failures_show_the_table_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(WAITING + '''
from pytest_wfcallbacks import assert_slot_state

def test_wrong_slot(workflow_runtime):
    execution = workflow_runtime.execute(WORKFLOW)
    callback = execution.wait_for_callback()
    assert_slot_state(callback, "FILLED")
''')
    result = pytester.runpytest("-rN")  # no short summary: CI=true makes it repeat whole messages
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*slot state is WAITING, expected FILLED*"])
    assert "workflow runtime state" not in result.stdout.str()
    assert result.stdout.str().count("requests answered") == 1
