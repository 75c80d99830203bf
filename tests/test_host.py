"""The engine runs on any host: a hand-made `ExecutionHost`, no `WorkflowRuntime` (issue 14).

This is what the host interface is for: the interpreter can be driven, tested and read
without the facade. The test runs in a subprocess under a bare package object so that
nothing (not even the package's ``__init__``) loads runtime.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_wfcallbacks"

SCRIPT = textwrap.dedent('''
    import sys, types
    package = types.ModuleType("pytest_wfcallbacks")
    package.__path__ = [PACKAGE]
    sys.modules["pytest_wfcallbacks"] = package

    from pytest_wfcallbacks.clock import VirtualClock
    from pytest_wfcallbacks.definition import build_definition
    from pytest_wfcallbacks.history import EventKind
    from pytest_wfcallbacks.interpreter.engine import Engine
    from pytest_wfcallbacks.interpreter.scheduler import Kernel
    from pytest_wfcallbacks.interpreter.threads import MemoryMeter, Scope, WorkflowThread
    from pytest_wfcallbacks.record import ExecutionRecord, LogEntry
    from pytest_wfcallbacks.settings import make_settings
    from pytest_wfcallbacks.source import load_source
    from pytest_wfcallbacks.stdlib import load_all

    SOURCE = """
    main:
      params: [n]
      steps:
        - say:
            call: sys.log
            args: {text: ${"n is " + string(n)}}
        - nap:
            call: sys.sleep
            args: {seconds: 5}
        - done:
            return: ${n * 2}
    """

    class Host:
        """The smallest host: no callbacks, HTTP or connectors (the workflow asks for none)."""

        def __init__(self, settings, clock, definition, functions):
            self.id = "e1"
            self.facade = self
            self.runtime = None
            self.limits = settings.limits
            self.clock = clock
            self.record = ExecutionRecord()
            self.memory = MemoryMeter(settings.limits.memory_bytes)
            self.env = {}
            self.functions = functions
            self.endpoints = {}
            self.engine = Engine(definition, self)

        def is_active(self):
            return True

        def record_event(self, kind, th, **details):
            self.record.add(kind, self.clock.now_ns, th.branch_id if th else None, th.step_name() if th else None,
                            **details)

        def log(self, th, severity, payload):
            self.record.logs.append(LogEntry(severity, payload, self.clock.now_ns))

    settings = make_settings()
    clock = VirtualClock(settings.start_time)
    kernel = Kernel(settings, clock)
    clock._driver = kernel
    functions = load_all()
    definition = build_definition(load_source(SOURCE), functions, settings.limits)
    host = Host(settings, clock, definition, functions)
    ended = []
    kernel.on_thread_done = lambda thread, value, error: ended.append((value, error))
    main = WorkflowThread(kernel, host, label=None, branch_id=None, scope=Scope())
    kernel.start(main, host.engine.run_main(main, 21))
    kernel.drive(lambda: bool(ended), lambda: "state", what="the test")
    assert ended == [(42, None)], ended
    assert [entry.payload for entry in host.record.logs] == ["n is 21"]
    assert host.record.steps == 3
    assert clock.elapsed == 5
    assert EventKind.SLEEP in [item.kind for item in host.record.history]
    assert "pytest_wfcallbacks.runtime" not in sys.modules
    print("ok")
''')


def test_the_engine_runs_a_workflow_on_a_hand_made_host() -> None:
    done = subprocess.run([sys.executable, "-c", f"PACKAGE = {str(PACKAGE)!r}\n{SCRIPT}"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
