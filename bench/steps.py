"""Steps-per-second benchmark of the interpreter (run on demand; not part of the test suite).

Runs ``bench/workflows/sum_loop.yaml`` (a ``for`` over ``range: [1, 20000]``
adding to a total, then a few text, list and map calls) without and with a
2,000-element list in scope (passed as the execution argument and assigned to a
variable: once 2,000 integers, once 2,000 two-key maps), and prints steps per
second for each. The list variants include the one-off cost of checking,
copying and recording the argument, so they measure what a user would see. The wall
time is measured here, in the bench script only; the interpreter itself never
reads real time.

Usage::

    python bench/steps.py [--repeat N]

Targets (issue 4): at least 100,000 steps/s on one core, and the run with the
big list in scope no more than 10% slower than the plain run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from pytest_wfcallbacks import WorkflowRuntime

WORKFLOW = Path(__file__).resolve().parent / "workflows" / "sum_loop.yaml"
EXPECTED_TOTAL = 20000 * 20001 // 2


def measure(runtime: WorkflowRuntime, argument: Any, repeat: int) -> tuple[float, int]:
    """Best steps/second over ``repeat`` runs, and the steps one run executes."""
    workflow = runtime.deploy(WORKFLOW)
    rates: list[float] = []
    steps = 0
    for _ in range(repeat):
        started = time.perf_counter()
        execution = workflow.run(argument)
        elapsed = time.perf_counter() - started
        if execution.state != "SUCCEEDED":
            raise SystemExit(f"benchmark workflow failed: {execution.error!r}")
        if execution.value["total"] != EXPECTED_TOTAL:
            raise SystemExit(f"wrong total {execution.value['total']} (expected {EXPECTED_TOTAL})")
        steps = execution.steps_executed
        rates.append(steps / elapsed)
    return max(rates), steps


def main() -> None:
    """Run both variants and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant; the best is reported")
    options = parser.parse_args()
    numbers = {"big": list(range(2000))}
    records = {"big": [{"id": i, "name": f"item-{i}"} for i in range(2000)]}
    with WorkflowRuntime() as runtime:
        measure(runtime, None, 1)  # warm-up: imports, regex cache, first deploy
        plain, steps = measure(runtime, None, options.repeat)
        loaded, _ = measure(runtime, numbers, options.repeat)
        heavy, _ = measure(runtime, records, options.repeat)
    print(f"sum_loop: {steps} steps per run, best of {options.repeat}")
    print(f"  plain                        : {plain:>10,.0f} steps/s  (target >= 100,000)")
    for label, rate in (("2,000 integers in scope", loaded), ("2,000 small maps in scope", heavy)):
        slowdown = (plain - rate) / plain * 100
        print(f"  {label:<29}: {rate:>10,.0f} steps/s  ({slowdown:+.1f}% vs plain; limit +10%)")


if __name__ == "__main__":
    main()
