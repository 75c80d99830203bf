"""What a runtime costs outside pytest: ``python bench/lifecycle.py`` (on demand, not part of the suite).

A standalone ``WorkflowRuntime()`` (a script, a notebook, ``wfcallbacks run``) starts its
own loopback `WorkflowServer` and closes it on exit, so ``with WorkflowRuntime(): ...``
pays a server start and stop. Prints the median of ``--count`` rounds for:

1. ``server``  -- ``WorkflowServer()`` then ``close()``;
2. ``runtime`` -- ``with WorkflowRuntime(): pass`` (its own server);
3. ``close``   -- ``close()`` alone of a server that is serving.

Target (issue 13): close wakes the serving thread at once instead of waiting for a poll
interval, so ``close`` is well under a millisecond. Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from pytest_wfcallbacks import WorkflowRuntime
from pytest_wfcallbacks.server import WorkflowServer


def median_ms(action: Callable[[], float | None], count: int) -> float:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        measured = action()
        samples.append(measured if measured is not None else time.perf_counter() - start)
    return statistics.median(samples) * 1000


def server_round() -> None:
    WorkflowServer().close()


def runtime_round() -> None:
    with WorkflowRuntime():
        pass


def close_only() -> float:
    server = WorkflowServer()
    start = time.perf_counter()
    server.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    count = parser.parse_args().count
    runtime_round()  # warm imports
    for name, action in (("server", server_round), ("runtime", runtime_round), ("close", close_only)):
        print(f"{name:8} {median_ms(action, count):8.2f} ms  (median of {count})")


if __name__ == "__main__":
    main()
