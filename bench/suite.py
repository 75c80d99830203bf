"""What a user's suite pays per test: ``python bench/suite.py`` (on demand, not part of the test suite).

Generates test files and runs each in its own ``pytest`` process (no xdist), side by
side, ``--rounds`` times (median kept):

1. ``bare``       -- N empty tests (the floor: pytest and the plugins loading);
2. ``fixture``    -- N tests that only take the ``workflow_runtime`` fixture;
3. ``callback``   -- N callback round trips: ``execute`` + ``wait_for_callback`` +
   ``callback.send(json=...)`` + ``result()``;
4. ``workflow``   -- N tests that each deploy the largest example (order_fulfilment.yaml,
   with its child charge_payment.yaml) and run it to the end, connectors faked and
   the payment provider's HTTP mocked on ``workflow_runtime.http``;
5. ``httpserver`` -- N tests with pytest-httpserver's ``httpserver`` fixture answering
   one request sent through a shared ``httpx.Client`` (the anchor: a well-liked
   loopback test-server fixture; ``pip install pytest-wfcallbacks[bench]``).

For each it prints the marginal cost per test over the floor. In this process it then
measures cold deploy throughput (KiB/s over the official samples given by
``--samples DIR``, else over the examples; the deploy cache, when there is one, is
emptied before each pass) and the time of deploying an unchanged file again.

Usage::

    python bench/suite.py [--count 300] [--rounds 3] [--samples DIR-OF-workflows-samples]

Targets (issue 15): callback marginal cost <= 3 ms and <= the httpserver test's;
fixture within 0.5 ms of the floor; cold deploy >= 5x 0.1's ~300 KiB/s (1,500 KiB/s);
repeated deploy < 0.1 ms. Everything talks to 127.0.0.1 only and is bounded by counts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "workflows"

CALLBACK_WORKFLOW = """\
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        args:
          http_callback_method: POST
        result: cb
    - wait:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 3600
        result: request
    - done:
        return: ${request.http_request.body}
"""

HEADER = f"""\
from pathlib import Path
EXAMPLES = Path({str(EXAMPLES)!r})
HERE = Path(__file__).parent
"""

BODIES = {
    "bare": ("", "def test_{i}():\n    pass\n"),
    "fixture": ("", "def test_{i}(workflow_runtime):\n    pass\n"),
    "callback": ("", """\
def test_{i}(workflow_runtime):
    execution = workflow_runtime.execute(HERE / "callback.yaml")
    callback = execution.wait_for_callback()
    assert callback.send(json={{"n": {i}}}).status_code == 200
    assert execution.result() == {{"n": {i}}}
"""),
    "workflow": ("""\
from pytest_wfcallbacks import respond_after

ORDER = {"id": "o-17", "sku": "mug", "quantity": 2, "amount": 1800}
STOCK = {"name": "projects/test-project/databases/(default)/documents/stock/mug",
         "fields": {"quantity": {"integerValue": "5"}}}
""", """\
def test_{i}(workflow_runtime):
    workflow_runtime.connectors.fake("googleapis.firestore.v1.projects.databases.documents.get", returns=STOCK)
    workflow_runtime.connectors.fake("googleapis.pubsub.v1.projects.topics.publish", returns={{"messageIds": ["m"]}})
    workflow_runtime.http.post("https://payments.example.com/v1/charges").mock(
        return_value=respond_after(3, 200, json={{"id": "ch_1", "status": "succeeded"}}))
    workflow_runtime.deploy(EXAMPLES / "charge_payment.yaml", name="charge-payment")
    execution = workflow_runtime.deploy(EXAMPLES / "order_fulfilment.yaml").run(ORDER)
    assert execution.result() == {{"status": "accepted", "payment": "ch_1", "message": "m"}}
"""),
    "httpserver": ("""\
import httpx

CLIENT = httpx.Client(trust_env=False)
""", """\
def test_{i}(httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_json({{}})
    assert CLIENT.post(httpserver.url_for("/hook"), json={{"n": {i}}}).status_code == 200
"""),
}


def write_files(folder: Path, count: int) -> dict[str, Path]:
    (folder / "callback.yaml").write_text(CALLBACK_WORKFLOW, encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8")
    files = {}
    for name, (prelude, body) in BODIES.items():
        path = folder / f"test_{name}.py"
        path.write_text(HEADER + prelude + "\n\n" + "\n\n".join(body.format(i=i) for i in range(count)),
                        encoding="utf-8")
        files[name] = path
    return files


def run_pytest(path: Path) -> tuple[float, str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
               "-p", "no:randomly", str(path)]
    started = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=path.parent, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"{path.name}: pytest failed: {summary}")
    return elapsed, summary


def bench_suites(count: int, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in BODIES}
    with tempfile.TemporaryDirectory(prefix="wf-suite-bench-") as tmp:
        files = write_files(Path(tmp), count)
        for round_number in range(rounds):
            for name, path in files.items():  # interleaved, so drifts in machine load hit all alike
                elapsed, summary = run_pytest(path)
                times[name].append(elapsed)
                print(f"  round {round_number + 1}  {name:<10} {elapsed:7.2f} s  ({summary})", flush=True)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_deploy(samples: Path | None, rounds: int) -> tuple[str, float, float, float]:
    from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError

    try:
        from pytest_wfcallbacks import deploy_cache
    except ImportError:  # 0.1 has no deploy cache
        deploy_cache = None  # type: ignore[assignment]
    folder = samples if samples is not None else EXAMPLES
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    size = sum(p.stat().st_size for p in files)
    best = float("inf")
    with WorkflowRuntime() as runtime:
        for _ in range(rounds):
            if deploy_cache is not None:
                deploy_cache.CACHE.clear()
            started = time.perf_counter()
            for path in files:
                # A sample may be meant to fail; reading it is still the work measured.
                with contextlib.suppress(WorkflowSyntaxError):
                    runtime.deploy(path)
            best = min(best, time.perf_counter() - started)
        repeat_path = max(files, key=lambda p: p.stat().st_size)
        runtime.deploy(repeat_path)
        repeats = 2000
        per_round = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(repeats):
                runtime.deploy(repeat_path)
            per_round.append((time.perf_counter() - started) / repeats)
    label = f"{len(files)} files, {size / 1024:.0f} KiB from {folder}"
    return label, size / 1024 / best, best, statistics.median(per_round)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="tests per generated file (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each file; the median is kept")
    parser.add_argument("--samples", type=Path, default=None,
                        help="a folder of workflow files for the cold deploy figure (default: the examples)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.count} tests per file, {args.rounds} round(s); "
          f"pytest_wfcallbacks from {os.environ.get('PYTHONPATH') or 'the installed package'}")
    medians = bench_suites(args.count, args.rounds)
    floor = medians["bare"]
    marginal = {name: (value - floor) / args.count * 1000 for name, value in medians.items()}
    print("\nmarginal cost per test over the floor (median of rounds):")
    print(f"  {'bare':<10} {floor:7.2f} s for {args.count} tests (the floor)")
    for name in ("fixture", "callback", "workflow", "httpserver"):
        print(f"  {name:<10} {marginal[name]:7.2f} ms per test   ({medians[name]:.2f} s)")
    label, throughput, cold, repeat = bench_deploy(args.samples, args.rounds)
    print(f"\ncold deploy: {throughput:,.0f} KiB/s ({cold * 1000:.0f} ms for {label})")
    print(f"repeated deploy of an unchanged file: {repeat * 1000:.4f} ms")

    def verdict(text: str, met: bool) -> None:
        print(f"VERDICT {text} -> {'MET' if met else 'NOT MET'}")

    print()
    verdict(f"callback marginal {marginal['callback']:.2f} ms (target <= 3 ms)", marginal["callback"] <= 3)
    verdict(f"callback marginal {marginal['callback']:.2f} ms vs httpserver {marginal['httpserver']:.2f} ms "
            "(target: no more)", marginal["callback"] <= marginal["httpserver"])
    verdict(f"fixture marginal {marginal['fixture']:.2f} ms (target <= 0.5 ms)", marginal["fixture"] <= 0.5)
    verdict(f"cold deploy {throughput:,.0f} KiB/s (target >= 1,500 KiB/s, 5x 0.1's ~300)", throughput >= 1500)
    verdict(f"repeated deploy {repeat * 1000:.4f} ms (target < 0.1 ms)", repeat < 0.0001)


if __name__ == "__main__":
    main()
