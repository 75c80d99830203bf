"""The pytest plugin (``pytest11`` entry point): fixtures, marker, options, teardown check."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pytest
from _pytest._code.code import Traceback

from . import wf_coverage
from .errors import WfCallbacksError
from .runtime import WorkflowRuntime
from .server import WorkflowServer
from .settings import SETTING_NAMES

if TYPE_CHECKING:
    from .grpc_api import GrpcServer

_REPORT_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()

_INI_OPTIONS: dict[str, tuple[str, str, Any]] = {
    # name: (type, help, default)
    "wfcallbacks_seed": ("string", "default scheduling/id seed for workflow_runtime", "0"),
    "wfcallbacks_project": ("string", "project id the runtime reports", "test-project"),
    "wfcallbacks_location": ("string", "location the runtime reports", "us-central1"),
    "wfcallbacks_schedule": ("string", "thread schedule: ordered or random", "ordered"),
    "wfcallbacks_implicit_string_concat": ("bool", "allow \"a\" + 1 (docs/decisions.md #15)", False),
    "wfcallbacks_auto_advance": ("bool", "drives move virtual time when nothing can run", True),
    "wfcallbacks_check_at_teardown": ("bool", "run runtime.check() after each test", True),
    "wfcallbacks_real_time_budget": ("string", "wall-clock seconds one drive may take", "30"),
    "wfcallbacks_callback_auth": ("string", "bearer token callback requests must carry (empty: off)", ""),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wfcallbacks", "Google Cloud Workflows test runtime (pytest-wfcallbacks)")
    group.addoption("--wf-seed", action="store", type=int, default=None, dest="wf_seed",
                    help="scheduling and id seed for every workflow_runtime (rerun a failure with its seed)")
    group.addoption("--wf-report", action="store", default=None, metavar="DIR", dest="wf_report",
                    help="write an HTML report of each failed test's executions to DIR (one file per test id)")
    wf_coverage.add_options(group)
    for name, (kind, help_text, default) in _INI_OPTIONS.items():
        parser.addini(name, help_text, type=kind, default=default)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "workflow_runtime(**settings): settings for the workflow_runtime fixture of this test "
        f"({', '.join(SETTING_NAMES)})",
    )
    wf_coverage.configure(config)


def _ini_settings(config: pytest.Config) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    try:
        settings["seed"] = int(config.getini("wfcallbacks_seed"))
        settings["real_time_budget"] = float(config.getini("wfcallbacks_real_time_budget"))
    except ValueError as exc:
        raise pytest.UsageError(f"wfcallbacks ini option: {exc}") from None
    settings["project"] = config.getini("wfcallbacks_project")
    settings["location"] = config.getini("wfcallbacks_location")
    settings["schedule"] = config.getini("wfcallbacks_schedule")
    settings["implicit_string_concat"] = bool(config.getini("wfcallbacks_implicit_string_concat"))
    settings["auto_advance"] = bool(config.getini("wfcallbacks_auto_advance"))
    settings["check_at_teardown"] = bool(config.getini("wfcallbacks_check_at_teardown"))
    token = config.getini("wfcallbacks_callback_auth")
    if token:
        settings["callback_auth"] = token
    return settings


def runtime_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Effective settings for a test: ini options, then the marker, then ``--wf-seed``."""
    settings = _ini_settings(request.config)
    for marker in reversed(list(request.node.iter_markers("workflow_runtime"))):
        if marker.args:
            raise pytest.UsageError("@pytest.mark.workflow_runtime takes keyword settings only, e.g. (seed=3)")
        settings.update(marker.kwargs)
    seed = request.config.getoption("wf_seed")
    if seed is not None:
        settings["seed"] = seed
    return settings


@pytest.fixture(scope="session")
def workflow_server() -> Iterator[WorkflowServer]:
    """The loopback HTTP server (127.0.0.1, ephemeral port) that serves every runtime's callback endpoints.

    One per session (one per pytest-xdist worker); shared by all ``workflow_runtime`` fixtures.
    """
    server = WorkflowServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def workflow_grpc_server(workflow_server: WorkflowServer) -> Iterator[GrpcServer]:
    """The Executions API over gRPC (127.0.0.1, ephemeral port) for every runtime of ``workflow_server``.

    Started the first time a test asks for it (or for ``workflow_grpc_target``), then shared by the
    session (one per pytest-xdist worker). Needs the ``grpc`` extra: ``pip install "pytest-wfcallbacks[grpc]"``.
    """
    try:
        from .grpc_api import serve_grpc
    except ImportError as exc:
        problem = (f"workflow_grpc_server needs the grpc extra ({exc}): "
                   "pip install \"pytest-wfcallbacks[grpc]\" (from a checkout: pip install -e \".[grpc]\")")
    else:
        problem = ""
    if problem:
        pytest.fail(problem, pytrace=False)
    grpc_server = serve_grpc(workflow_server)
    try:
        yield grpc_server
    finally:
        grpc_server.close()


@pytest.fixture
def workflow_grpc_target(workflow_runtime: WorkflowRuntime, workflow_grpc_server: GrpcServer) -> str:
    """``"127.0.0.1:<port>"``: the gRPC target of the Executions API serving this test's ``workflow_runtime``.

    Give it to the official client over an insecure channel::

        channel = grpc.insecure_channel(workflow_grpc_target)
        client = ExecutionsClient(transport=ExecutionsGrpcTransport(channel=channel))

    Executions the client creates belong to ``workflow_runtime`` (they appear in its ``executions``
    and run on its virtual clock). The server behind it is ``workflow_grpc_server``.
    """
    return workflow_grpc_server.target


@pytest.fixture
def workflow_runtime(request: pytest.FixtureRequest, workflow_server: WorkflowServer) -> Iterator[WorkflowRuntime]:
    """A fresh Google Cloud Workflows runtime: virtual clock, executions, callback endpoints, HTTP mocks.

    ``workflow_runtime.execute("flow.yaml", argument)`` starts an execution; ``execution.wait_for_callback()``
    returns the callback whose ``url`` your service calls over real HTTP; ``execution.result()`` drives to
    the end, moving virtual time only when nothing else can (a 12-hour timeout takes milliseconds).
    Settings: ``@pytest.mark.workflow_runtime(seed=..., start_time=..., env=..., callback_auth=...,
    schedule="random", limits={...})``, ``wfcallbacks_*`` ini options, ``--wf-seed``. After the test,
    ``check()`` reports server errors and unmocked outbound calls; ACTIVE executions are cancelled.
    """
    settings_problem = ""
    try:
        runtime = WorkflowRuntime(server=workflow_server, **runtime_settings(request))
    except (TypeError, ValueError) as exc:
        settings_problem = f"workflow_runtime settings: {exc}"
    if settings_problem:
        # A short message, not a traceback through the fixture machinery.
        pytest.fail(settings_problem, pytrace=False)
    try:
        yield runtime
        reports = request.node.stash.get(_REPORT_KEY, {})
        call = reports.get("call")
        problems = ""
        if runtime.settings.check_at_teardown and call is not None and call.passed:
            try:
                runtime.check()
            except WfCallbacksError as found:
                problems = str(found)
        if problems:
            # Failed outside the except block, so pytest prints the report once, without a traceback.
            pytest.fail(problems, pytrace=False)
    finally:
        runtime.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                              pytest.TestReport]:
    if call.excinfo is not None and isinstance(call.excinfo.value, WfCallbacksError):
        _prune_plugin_frames(item, call.excinfo)
    report = yield
    item.stash.setdefault(_REPORT_KEY, {})[report.when] = report
    if report.failed and report.when == "call":
        funcargs = getattr(item, "funcargs", {})
        runtime = funcargs.get("workflow_runtime")
        error = call.excinfo.value if call.excinfo is not None else None
        shown = isinstance(error, WfCallbacksError) or getattr(error, "wf_state_shown", False)
        # Only a failure that involves the runtime (it ran something) gets its state attached.
        if isinstance(runtime, WorkflowRuntime) and error is not None and not shown and runtime.executions:
            report.sections.append(("workflow runtime state", runtime.render_state()))
    _write_wf_report(item, report)
    return report


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _prune_plugin_frames(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Drop the plugin's own frames from a `WfCallbacksError` raised into a test (``--fulltrace`` keeps them).

    The message says what went wrong and where in the workflow; 40 to 60 lines of the drive's
    and the validator's insides say nothing more to a user (as ``__tracebackhide__`` does for
    `WorkflowFailed`).
    """
    if item.config.getoption("fulltrace", False):
        return
    # Relink the raw traceback itself (pytest rebuilds its view from it when cutting at the test
    # function): the frames of this package drop out, the test's and its helpers' stay.
    first = excinfo.tb
    kept = [tb for tb in _walk(first) if not tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR)]
    if not kept or kept[0] is not first:
        return
    for tb, following in zip(kept, [*kept[1:], None], strict=True):
        tb.tb_next = following
    excinfo.traceback = Traceback(first)


def _walk(tb: TracebackType | None) -> Iterator[TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _write_wf_report(item: pytest.Item, report: pytest.TestReport) -> None:
    """``--wf-report=DIR``: the HTML report of a failed test (call or teardown check), named after its id."""
    directory = item.config.getoption("wf_report", None)
    if not directory or not report.failed or report.when == "setup":
        return
    runtime = getattr(item, "funcargs", {}).get("workflow_runtime")
    if not isinstance(runtime, WorkflowRuntime):
        return
    from .report.for_tests import write_test_report

    path = write_test_report(directory, item.nodeid, list(runtime.executions))
    if path is not None:
        report.sections.append(("workflow report", f"written to {path}"))
