"""The ``wfcallbacks`` command line: ``run``, ``serve`` and ``validate``.

``run`` and ``serve`` drive a runtime from a loop on the main thread instead of
from a test. The loop runs whatever can run, then moves the virtual clock:

* ``--time real``: the clock follows the wall clock (it starts at the real now),
  so a ``sys.sleep(10)`` takes ten seconds and a callback sent with curl a
  minute later arrives a minute into the execution;
* ``--time virtual``: the clock jumps straight to the next timer when nothing
  can run (sleeps and retry backoffs take no time) but runs at wall-clock speed
  while an ``await_callback`` waits, so a person still has the await's timeout
  to answer it.

Callback requests arrive on the server's threads as in a test and are picked up
on the loop's next turn (every 20 ms). Nothing here touches the interpreter's
notion of time except through ``clock.advance_to``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from . import api
from .clock import datetime_to_ns, ns_to_datetime
from .definition import build_definition
from .errors import WfCallbacksError, WorkflowError, WorkflowSyntaxError
from .history import EventKind, HistoryEvent
from .runtime import Execution, ExecutionState, WorkflowRuntime
from .server import WorkflowServer
from .settings import make_settings
from .source import load_source
from .stdlib import load_all
from .values import json_decode, json_encode

#: Exit statuses of ``wfcallbacks run``.
EXIT_OK, EXIT_FAILED, EXIT_DEPLOY = 0, 1, 2
_TICK = 0.02
_WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")


class Driver:
    """Runs a runtime from a loop: run what can run, then move the clock (real or virtual mode)."""

    def __init__(self, runtime: WorkflowRuntime, mode: str, err: TextIO, *, show_progress: bool | None = None,
                 announce_executions: bool = False) -> None:
        self.runtime = runtime
        self.mode = mode
        self.err = err
        self.show_progress = err.isatty() if show_progress is None else show_progress
        self.announce_executions = announce_executions
        self._base_ns = runtime.clock.now_ns
        self._mono0 = time.monotonic_ns()
        self._history_seen: dict[str, int] = {}
        self._progress_shown = False
        self._last_progress = 0.0

    # ------------------------------------------------------------------ output
    def say(self, line: str) -> None:
        """Print one line on the error stream (clearing the progress line first)."""
        if self._progress_shown:
            self.err.write("\r\x1b[K")
            self._progress_shown = False
        self.err.write(line + "\n")
        self.err.flush()

    def _stamp(self, ns: int | None = None) -> str:
        """``[t+12.000s]``: virtual seconds since the start, of now or of an event's instant."""
        clock = self.runtime.clock
        elapsed = clock.elapsed if ns is None else (ns - clock.start_ns) / 1e9
        return f"[t+{elapsed:.3f}s]"

    def _report(self) -> None:
        """Print what happened since the last turn, read from the executions' history in event order.

        Logs, callbacks created and executions started and ended are one stream: a callback
        created before a log line is printed before it, whichever part of the loop noticed it.
        """
        runtime = self.runtime
        found: list[tuple[int, int, int, str]] = []
        with runtime._kernel.lock:
            for index, execution in enumerate(list(runtime.executions)):
                history = execution._history
                seen = self._history_seen.get(execution.id, 0)
                for position in range(seen, len(history)):
                    for line in self._lines_for(execution, history[position]):
                        found.append((history[position].ns, index, position, line))
                self._history_seen[execution.id] = len(history)
        for _, _, _, line in sorted(found, key=lambda item: item[:3]):
            self.say(line)
        if self.show_progress and time.monotonic() - self._last_progress >= 1.0:
            self._last_progress = time.monotonic()
            active = [e for e in runtime.executions if e._is_active()]
            waiting = sum(1 for e in active for ep in e._endpoints.values() if ep.waiters)
            self.err.write(f"\r\x1b[K{self._stamp()} executions active: {len(active)}, callbacks waiting: {waiting}")
            self.err.flush()
            self._progress_shown = True

    def _lines_for(self, execution: Execution, item: HistoryEvent) -> list[str]:
        stamp = self._stamp(item.ns)
        if item.kind is EventKind.LOG:
            payload = item.details.get("payload")
            text = payload if isinstance(payload, str) else _dump(payload)
            return [f"{stamp} {item.details.get('severity', 'DEFAULT'):<7} {text}"]
        if item.kind is EventKind.CALLBACK_CREATED:
            method, url = str(item.details.get("method", "POST")), str(item.details.get("url", ""))
            auth = self.runtime.settings.callback_auth
            header = f" -H 'Authorization: Bearer {auth}'" if isinstance(auth, str) else ""
            answer = (f"    answer with: curl -X {method}{header} -H 'Content-Type: application/json' "
                      f"-d '{{}}' '{url}'" if method not in ("GET", "HEAD") else
                      f"    answer with: curl -X {method}{header} '{url}'")
            return [f"{stamp} callback {method} {url}", answer]
        if not self.announce_executions:
            return []
        if item.kind is EventKind.EXECUTION_STARTED:
            return [f"{stamp} execution {execution.name} started"]
        if item.kind is EventKind.EXECUTION_ENDED:
            return [f"{stamp} execution {execution.name} {execution.state.value}" + _outcome_suffix(execution)]
        return []

    # ------------------------------------------------------------------ driving
    def _awaiting(self) -> bool:
        return any(ep.waiters for e in self.runtime.executions if e._is_active() for ep in e._endpoints.values())

    def step(self) -> None:
        """One turn: run what can run, move the clock to the wall-clock instant (or jump, in virtual mode)."""
        runtime = self.runtime
        kernel = runtime._kernel
        clock = runtime.clock
        kernel.run_until_idle()
        target = self._base_ns + (time.monotonic_ns() - self._mono0)
        if self.mode == "virtual":
            with kernel.lock:
                idle = not kernel.runnable and not kernel.inflight and not self._awaiting()
                deadline = clock.next_deadline()
            if idle and deadline is not None and deadline > target:
                self._base_ns += deadline - target  # skip the wait: nothing but a timer can move
                target = deadline
        when = ns_to_datetime(target)
        if datetime_to_ns(when) > clock.now_ns:
            with clock.auto_advance_disabled():
                clock.advance_to(when)
        kernel.run_until_idle()
        self._report()

    def run_until(self, done: Callable[[], bool]) -> None:
        """Turn until ``done()``; sleeps ``_TICK`` of wall time between turns."""
        while True:
            self.step()
            if done():
                return
            time.sleep(_TICK)

    def close(self) -> None:
        """Clear the progress line."""
        if self._progress_shown:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self._progress_shown = False


def _dump(value: Any) -> str:
    try:
        return json_encode(value)
    except Exception:
        return json.dumps(value, default=repr)


def _outcome_suffix(execution: Execution) -> str:
    if execution.state is ExecutionState.SUCCEEDED:
        return f": {_dump(execution.value)}"
    if execution.state is ExecutionState.FAILED:
        return f": {_dump(execution.error)}"
    return ""


def _runtime_settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {"real_time_budget": float("inf")}
    if args.time == "real":
        settings["start_time"] = datetime.now(timezone.utc)
    if getattr(args, "auth", None):
        settings["callback_auth"] = args.auth
    if getattr(args, "project", None):
        settings["project"] = args.project
    if getattr(args, "location", None):
        settings["location"] = args.location
    if getattr(args, "seed", None) is not None:
        settings["seed"] = args.seed
    if getattr(args, "env", None):
        settings["env"] = dict(args.env)
    return settings


def _env_pair(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of ``--env`` (argparse turns the ArgumentTypeError into a usage error)."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip() or name != name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (e.g. --env API_URL=http://localhost:9000)")
    return name, value


def _port(text: str) -> int:
    """A TCP port, 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 0 to 65535 (0 picks a free one)")
    return port


#: What an unmocked http.* call means on the command line, where no test can add a mock.
_CLI_UNMOCKED = ("no mock answers {method} {url} ({detail}): wfcallbacks {command} sends no real HTTP requests and "
                 "has no mocks, so every http.* call fails this way; run the workflow under pytest and answer the "
                 "call with workflow_runtime.http.{verb}({bare!r}).respond(200, json=...), or let the workflow skip "
                 "the call here (e.g. a switch on sys.get_env(\"NAME\"), given with --env NAME=VALUE)")


class _Terminated(KeyboardInterrupt):
    """A second SIGTERM: unwound like Ctrl-C but ending with the conventional status 143."""


@contextlib.contextmanager
def _stop_signals() -> Iterator[list[int]]:
    """SIGTERM and Ctrl-C ask the driving loop to stop at its next turn; a second one stops at once.

    The handlers only note the signal: an exception raised at an arbitrary bytecode (inside the
    kernel's step loop, the clock, a lock) could leave the runtime half-updated, and the cancel
    that follows would then wait on it. The loop checks the list between turns (every ``_TICK``).
    Yields the signals received, in order; restores the previous handlers afterwards.
    """
    received: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:  # the loop did not stop (a long computation): stop now
            raise _Terminated if signum == signal.SIGTERM else KeyboardInterrupt

    previous: dict[int, Any] = {}
    try:
        for wanted in (signal.SIGTERM, signal.SIGINT):
            previous[wanted] = signal.signal(wanted, stop)
    except ValueError:  # not the main thread (called from a test's thread): Ctrl-C still raises
        pass
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _exit_status(received: list[int], stopped: BaseException | None = None) -> int:
    """128 + the signal's number: 143 for SIGTERM, 130 for Ctrl-C."""
    if isinstance(stopped, _Terminated) or (received and received[0] == signal.SIGTERM):
        return 143
    return 130


# --------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``wfcallbacks run FILE``: run one execution, stream logs and callback URLs, print the result."""
    try:
        argument = json_decode(args.argument) if args.argument is not None else None
    except (ValueError, WorkflowError) as exc:
        err.write(f"wfcallbacks run: --argument is not valid JSON: {api._reason(exc)}\n")
        return EXIT_DEPLOY
    try:
        server = WorkflowServer(port=args.port)
    except WfCallbacksError as exc:
        err.write(f"wfcallbacks run: {exc}\n")
        return EXIT_DEPLOY
    runtime = WorkflowRuntime(server=server, **_runtime_settings(args))
    runtime._http.unmocked_advice = _CLI_UNMOCKED.replace("{command}", "run")
    try:
        try:
            workflow = runtime.deploy(args.file)
        except WorkflowSyntaxError as exc:
            for problem in exc.problems:
                err.write(_problem(problem) + "\n")
            return EXIT_DEPLOY
        api.attach(runtime)
        driver = Driver(runtime, args.time, err)
        driver.say(f"wfcallbacks: running {workflow.name} from {args.file} ({args.time} time), "
                   f"serving {runtime.base_url}")
        try:
            execution = runtime.execute(workflow, argument)
        except WfCallbacksError as exc:
            err.write(f"wfcallbacks run: {exc}\n")
            return EXIT_DEPLOY
        stopped: KeyboardInterrupt | None = None
        with _stop_signals() as received:
            try:
                driver.run_until(lambda: bool(received) or not execution._is_active())
            except KeyboardInterrupt as interrupt:  # a second signal, or Ctrl-C off the main thread
                stopped = interrupt
        if stopped is not None or (received and execution._is_active()):
            execution.cancel()
            driver.close()
            err.write(f"wfcallbacks: execution {execution.id} cancelled\n")
            _write_report(args, execution, err)
            return _exit_status(received, stopped)
        driver.close()
        if not _write_report(args, execution, err):
            return EXIT_DEPLOY
        if execution.state is ExecutionState.SUCCEEDED:
            out.write(_dump(execution.value) + "\n")
            out.flush()
            return EXIT_OK
        err.write(f"wfcallbacks: execution {execution.id} {execution.state.value}"
                  + (f" in {execution._failure_where}" if execution._failure_where else "") + "\n")
        out.write(_dump(execution.error) + "\n")
        out.flush()
        return EXIT_FAILED
    finally:
        runtime.close()
        server.close()


def _write_report(args: argparse.Namespace, execution: Execution, err: TextIO) -> bool:
    """``--report OUT.html``: write the execution's HTML report; False (said on stderr) when it cannot."""
    if not getattr(args, "report", None):
        return True
    try:
        path = execution.save_report(args.report)
    except OSError as exc:
        err.write(f"wfcallbacks run: cannot write the report to {args.report}: {exc.strerror or exc}; "
                  "choose a writable path for --report\n")
        return False
    err.write(f"wfcallbacks: report written to {path}\n")
    return True


def cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO, *, stop: Callable[[], bool] | None = None) -> int:
    """``wfcallbacks serve [DIR]``: serve the APIs and callbacks until interrupted."""
    try:
        server = WorkflowServer(host=args.host, port=args.port)
    except (WfCallbacksError, ValueError) as exc:
        err.write(f"wfcallbacks serve: {exc}\n")
        return EXIT_DEPLOY
    runtime = WorkflowRuntime(server=server, **_runtime_settings(args))
    runtime._http.unmocked_advice = _CLI_UNMOCKED.replace("{command}", "serve")
    cleanup: list[Callable[[], None]] = []
    try:
        directory = Path(args.dir) if args.dir else None
        if directory is not None and not directory.is_dir():
            err.write(f"wfcallbacks serve: {directory} is not a directory\n")
            return EXIT_DEPLOY
        files = sorted(p for p in directory.iterdir() if p.suffix in _WORKFLOW_SUFFIXES) if directory else []
        problems = 0
        for path in files:
            try:
                runtime.deploy(path)
            except WorkflowSyntaxError as exc:
                for problem in exc.problems:
                    err.write(_problem(problem) + "\n")
                problems += 1
        if problems:
            err.write(f"wfcallbacks serve: {problems} workflow(s) failed to deploy; fix them and start again\n")
            return EXIT_DEPLOY
        api.attach(runtime)
        from .emulator import Emulator  # hot reload, clock control over HTTP, the web UI (issue 19)

        emulator = Emulator(runtime, server, mode=args.time, folder=directory, auto_advance=args.auto_advance)
        emulator.install()
        cleanup.append(emulator.close)
        settings = runtime.settings
        parent = f"projects/{settings.project}/locations/{settings.location}"
        if args.grpc_port is not None:
            try:
                from .grpc_api import serve_grpc
            except ImportError as exc:
                err.write(f"wfcallbacks serve: --grpc-port needs the grpc extra ({exc}); "
                          "pip install 'pytest-wfcallbacks[grpc]'\n")
                return EXIT_DEPLOY
            grpc_server = serve_grpc(server, args.grpc_port)
            cleanup.append(grpc_server.close)
        out.write(f"wfcallbacks serving {runtime.base_url}\n")
        if args.grpc_port is not None:
            out.write(f"wfcallbacks gRPC {grpc_server.target}\n")
        out.flush()
        driver = emulator.make_driver(err)
        driver.say(f"Workflows API:  {runtime.base_url}/v1/{parent}/workflows ({args.time} time)")
        for name in sorted(runtime.workflows):
            driver.say(f"  {name}: POST {runtime.base_url}/v1/{parent}/workflows/{name}/executions")
        driver.say("Ctrl-C stops the server")
        with contextlib.suppress(KeyboardInterrupt), _stop_signals() as received:
            driver.run_until(lambda: bool(received) or (stop is not None and stop()))
        driver.close()
        err.write("wfcallbacks: stopped\n")
        return EXIT_OK
    finally:
        for close in cleanup:
            close()
        runtime.close()
        server.close()


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``wfcallbacks validate FILE|DIR...``: deploy-time validation, ``file:line:column: message`` per problem.

    A folder stands for every workflow file (.yaml, .yml, .json) directly in it, in name order;
    every problem of each file is reported (`WorkflowSyntaxError.problems`, at most
    `MAX_PROBLEMS` per file) and the status is 1 when any file has one.
    """
    problems = 0
    registry = load_all()
    limits = make_settings().limits
    files: list[str] = []
    for given in args.files:
        path = Path(given)
        if path.is_dir():
            found = sorted(str(p) for p in path.iterdir() if p.suffix in _WORKFLOW_SUFFIXES and p.is_file())
            if not found:
                problems += 1
                out.write(f"{given}:0:0: no workflow files (.yaml, .yml, .json) in this folder\n")
            files.extend(found)
        else:
            files.append(given)
    for file in files:
        try:  # what WorkflowRuntime.deploy checks, without starting a server
            build_definition(load_source(Path(file)), registry, limits)
        except WorkflowSyntaxError as exc:
            problems += len(exc.problems)
            for problem in exc.problems:
                out.write(_problem(problem, file) + "\n")
        except RecursionError:
            problems += 1
            out.write(f"{file}:0:0: the file is nested too deeply to be read as a workflow\n")
    out.flush()
    if problems:
        err.write(f"wfcallbacks validate: {problems} problem(s) in {len(files)} file(s)\n")
        return 1
    err.write(f"wfcallbacks validate: {len(files)} file(s) ok\n")
    return 0


def _problem(exc: WorkflowSyntaxError, file: str | None = None) -> str:
    where = exc.file if exc.file not in ("", "<workflow>") else (file or exc.file)
    step = f" (step {exc.step})" if exc.step else ""
    return f"{where}:{exc.line}:{exc.column}: {exc.message}{step}"


# --------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    """The ``wfcallbacks`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="wfcallbacks",
        description="Run, serve and validate Google Cloud Workflows definitions locally (pytest-wfcallbacks).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a workflow; print its logs, callback URLs and result")
    run.add_argument("file", metavar="FILE", help="the workflow (.yaml, .yml or .json)")
    run.add_argument("--argument", metavar="JSON", help="the runtime argument, as JSON text")
    run.add_argument("--time", choices=("real", "virtual"), default="virtual",
                     help="virtual (default): sleeps take no time, awaits wait in real time; real: wall clock")
    run.add_argument("--auth", metavar="TOKEN", help="callback requests must carry Authorization: Bearer TOKEN")
    run.add_argument("--port", type=_port, default=0, help="port on 127.0.0.1 (default: any free port)")
    run.add_argument("--seed", type=int, default=None, help="id and scheduling seed")
    run.add_argument("--env", type=_env_pair, action="append", metavar="NAME=VALUE",
                     help="a sys.get_env value for the workflow (repeatable)")
    run.add_argument("--report", metavar="OUT.html", default=None,
                     help="write a self-contained HTML report of the execution (timeline, callbacks, logs)")

    serve = commands.add_parser("serve", help="serve the Workflows/Executions APIs and callbacks on loopback")
    serve.add_argument("dir", metavar="DIR", nargs="?", help="deploy every .yaml/.yml/.json here, named by file")
    serve.add_argument("--host", default="127.0.0.1", choices=("127.0.0.1", "localhost", "::1"),
                       help="loopback address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8080, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--grpc-port", type=_port, default=None, metavar="N",
                       help="also serve the Executions API over gRPC on 127.0.0.1:N (0: any; needs the grpc extra)")
    serve.add_argument("--time", choices=("real", "virtual"), default="real",
                       help="real (default): the clock follows the wall clock; virtual: sleeps take no time")
    serve.add_argument("--auto-advance", action="store_true",
                       help="with --time virtual: move the clock by itself (default: only the clock control API "
                            "and the web UI move it)")
    serve.add_argument("--auth", metavar="TOKEN", help="callback requests must carry Authorization: Bearer TOKEN")
    serve.add_argument("--project", default=None, help="project id in resource names (default test-project)")
    serve.add_argument("--location", default=None, help="location in resource names (default us-central1)")
    serve.add_argument("--seed", type=int, default=None, help="id and scheduling seed")
    serve.add_argument("--env", type=_env_pair, action="append", metavar="NAME=VALUE",
                       help="a sys.get_env value for every workflow (repeatable)")

    validate = commands.add_parser("validate", help="validate workflows like a deploy does")
    validate.add_argument("files", metavar="FILE|DIR", nargs="+",
                          help="workflow files, or folders whose .yaml/.yml/.json files are all validated")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wfcallbacks`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    if args.command == "run":
        return cmd_run(args, out, err)
    if args.command == "serve":
        return cmd_serve(args, out, err)
    return cmd_validate(args, out, err)


__all__ = ["Driver", "EXIT_DEPLOY", "EXIT_FAILED", "EXIT_OK", "build_parser", "cmd_run", "cmd_serve",
           "cmd_validate", "main"]
