"""Peak memory of a long execution (run on demand; not part of the test suite).

Runs a loop of 1,000,000 steps (the step limit raised) and prints the peak
resident memory of the process and the size of the execution's history. The
target (issue 13): no more than about 150 MB, whatever the step count: history
past the ``record_entries`` limit is dropped behind one ``record truncated``
event. ``--record-entries N`` shows the effect of the limit.

Usage::

    python bench/memory.py [--steps N] [--record-entries N]
"""

from __future__ import annotations

import argparse
import resource
import time

from pytest_wfcallbacks import EventKind, WorkflowRuntime

LOOP = """
main:
  params: [args]
  steps:
    - init:
        assign:
          - i: 0
    - loop:
        assign:
          - i: ${i + 1}
    - again:
        switch:
          - condition: ${i < args.n}
            next: loop
    - done:
        return: ${i}
"""


def peak_mb() -> float:
    """Peak resident set size of this process, in MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--record-entries", type=int, default=None)
    args = parser.parse_args()
    limits = {"steps": args.steps * 2 + 100}
    if args.record_entries is not None:
        limits["record_entries"] = args.record_entries
    before = peak_mb()
    with WorkflowRuntime(limits=limits, real_time_budget=3600) as runtime:
        started = time.perf_counter()
        execution = runtime.run(LOOP, {"n": args.steps // 2})
        elapsed = time.perf_counter() - started
        history = execution.history
        markers = [item for item in history if item.kind is EventKind.RECORD_TRUNCATED]
        dropped = markers[0].details["dropped"] if markers else 0
        print(f"steps run:        {execution.steps_executed:,} in {elapsed:.1f} s "
              f"({execution.steps_executed / elapsed:,.0f} steps/s)")
        print(f"history kept:     {len(history):,} events; dropped {dropped:,} behind one marker")
        print(f"peak RSS:         {peak_mb():.0f} MB (before the run: {before:.0f} MB)")


if __name__ == "__main__":
    main()
