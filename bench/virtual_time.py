"""Wall time of long virtual waits: a 12-hour await_callback timeout and a one-year sys.sleep.

Run on demand: ``python bench/virtual_time.py``. Prints figures; target: each under 50 ms.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_wfcallbacks import WorkflowRuntime

AWAIT_12H = """
- create:
    call: events.create_callback_endpoint
    result: cb
- wait:
    try:
      call: events.await_callback
      args: {callback: ${cb}, timeout: 43200}
    except:
      as: e
      steps:
        - out:
            return: ${e.tags}
"""
SLEEP_1Y = "- nap:\n    call: sys.sleep\n    args: {seconds: 31536000}\n- out:\n    return: ${sys.now()}\n"
RETRY_LOOP = Path(__file__).resolve().parent.parent / "examples" / "workflows" / "callback_retry_loop.yaml"


def measure(source: object, rounds: int = 30) -> tuple[float, float, float]:
    """Median and max wall milliseconds of execute+result, and the virtual seconds covered."""
    samples = []
    virtual = 0.0
    with WorkflowRuntime() as runtime:
        workflow = runtime.deploy(source)
        for _ in range(rounds):
            started = time.perf_counter()
            execution = workflow.execute()
            execution.wait()
            samples.append((time.perf_counter() - started) * 1000)
            virtual = execution.duration or 0.0
    return statistics.median(samples), max(samples), virtual


def main() -> None:
    print(f"{'workflow':<28} {'virtual s':>12} {'median ms':>10} {'max ms':>8}  target < 50 ms")
    for name, source in (("12-hour await_callback", AWAIT_12H), ("one-year sys.sleep", SLEEP_1Y),
                         ("retry loop (6 waits)", RETRY_LOOP)):
        median, worst, virtual = measure(source)
        verdict = "ok" if worst < 50 else "SLOW"
        print(f"{name:<28} {virtual:>12,.0f} {median:>10.2f} {worst:>8.2f}  {verdict}")


if __name__ == "__main__":
    main()
