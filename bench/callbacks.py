"""Callback server benchmark: ``python bench/callbacks.py`` (on demand, not part of the test suite).

Measures, for the plugin's callback server and for a bare werkzeug
``make_server(threaded=True)`` app answering ``{}`` (the baseline):

* the round trip of a single sender (median and p99), with a new connection per
  request and with one keep-alive connection;
* callbacks per second from 8 concurrent senders in a separate process, spread over
  100 executions, with the number of accepted callbacks (200) that the workflows
  never received ("lost") or received twice (must both be 0).

Each round runs the baseline and then the plugin back to back (``--rounds``, default
3); the figures printed at the end are medians over rounds, and a ``VERDICT`` line
per target says whether it is met.

Senders run in a child process (this file with ``--sender``) so that their CPU
time does not compete for this process's GIL. Everything talks to 127.0.0.1 only
and is bounded by request counts.

For the plugin, every execution runs a loop that awaits a callback, appends its
body to a list and awaits again until it receives ``"stop"``; the main thread
drives the runtime while the senders send (as a test does while a service sends).
A 429 means the slot was full: the sender keeps that body and moves to another
execution, coming back to it later, as a real sender retries.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOOP_WORKFLOW = """
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        args:
          http_callback_method: "POST"
        result: cb
    - init:
        assign:
          - received: []
    - wait:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 31536000
        result: request
    - check:
        switch:
          - condition: ${request.http_request.body == "stop"}
            return: ${received}
    - add:
        assign:
          - received: ${list.concat(received, request.http_request.body)}
        next: wait
"""

EXECUTIONS = 100
SENDERS = 8
PER_EXECUTION = 30  # accepted callbacks per execution in the throughput run
LATENCY_REQUESTS = 400


# ---------------------------------------------------------------------- sender side (child process)
def _post(conn: http.client.HTTPConnection, path: str, body: bytes, keep_alive: bool) -> int:
    headers = {"Content-Type": "application/json"}
    if not keep_alive:
        headers["Connection"] = "close"
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if not keep_alive:
        conn.close()
    return response.status


def _latency(url: str, count: int, keep_alive: bool) -> dict[str, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    timings: list[float] = []
    statuses: Counter[int] = Counter()
    accepted: list[str] = []
    for index in range(count):
        body = json.dumps(f"lat-{keep_alive}-{index}").encode()
        started = time.perf_counter()
        status = _post(conn, parts.path, body, keep_alive)
        timings.append(time.perf_counter() - started)
        statuses[status] += 1
        if status == 200:
            accepted.append(f"lat-{keep_alive}-{index}")
    conn.close()
    return {"timings": timings, "statuses": dict(statuses), "accepted": accepted}


def _throughput(urls: list[str], senders: int, per_url: int) -> dict[str, Any]:
    """Each sender owns a share of the URLs and sends ``per_url`` accepted bodies to each, then "stop"."""
    shares = [urls[i::senders] for i in range(senders)]
    results: list[dict[str, Any]] = [{} for _ in range(senders)]
    barrier = threading.Barrier(senders + 1)

    def run(index: int) -> None:
        share = shares[index]
        parts = [urlsplit(u) for u in share]
        conn = http.client.HTTPConnection(parts[0].hostname or "127.0.0.1", parts[0].port, timeout=30)
        sent = [0] * len(share)  # accepted bodies so far, per URL
        stopped = [False] * len(share)
        accepted: dict[str, list[str]] = {u: [] for u in share}
        statuses: Counter[int] = Counter()
        barrier.wait()
        while not all(stopped):
            progressed = False
            for k, part in enumerate(parts):
                if stopped[k]:
                    continue
                text = "stop" if sent[k] >= per_url else f"{index}-{k}-{sent[k]}"
                status = _post(conn, part.path, json.dumps(text).encode(), True)
                statuses[status] += 1
                if status == 200:
                    progressed = True
                    if text == "stop":
                        stopped[k] = True
                    else:
                        sent[k] += 1
                        accepted[share[k]].append(text)
            if not progressed:
                time.sleep(0.0005)
        conn.close()
        results[index] = {"accepted": accepted, "statuses": dict(statuses)}

    threads = [threading.Thread(target=run, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    accepted_all: dict[str, list[str]] = {}
    statuses_all: Counter[int] = Counter()
    for result in results:
        accepted_all.update(result["accepted"])
        statuses_all.update({int(k): v for k, v in result["statuses"].items()})
    return {"elapsed": elapsed, "accepted": accepted_all, "statuses": dict(statuses_all)}


def sender_main() -> None:
    job = json.loads(sys.stdin.read())
    if job["kind"] == "latency":
        out = {"close": _latency(job["url"], job["count"], False), "keep": _latency(job["url"], job["count"], True)}
    else:
        out = _throughput(job["urls"], job["senders"], job["per_url"])
    json.dump(out, sys.stdout)


def run_sender(job: dict[str, Any]) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, __file__, "--sender"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    assert process.stdin is not None
    process.stdin.write(json.dumps(job))
    process.stdin.close()
    return process


def collect(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    out = process.stdout.read()
    if process.wait() != 0:
        raise SystemExit("sender process failed")
    result: dict[str, Any] = json.loads(out)
    return result


# ---------------------------------------------------------------------- servers
def baseline_server() -> tuple[Any, str]:
    """Bare werkzeug ``make_server(threaded=True)`` app answering ``{}``."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"].read(length)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def drive_until(runtime: Any, done: threading.Event) -> None:
    """Run the runtime's threads whenever a callback wakes one, until ``done`` is set (never moves the clock)."""
    kernel = runtime._kernel  # the bench waits on the kernel's condition instead of polling
    while not done.is_set():
        kernel.run_until_idle()
        with kernel.lock:
            if not kernel.runnable:
                kernel.changed.wait(0.01)
    kernel.run_until_idle()


def collect_then_set(process: subprocess.Popen[str], done: threading.Event, out: list[dict[str, Any]]) -> None:
    """Read the sender's report (reading while it runs, so a large report never fills the pipe), then stop."""
    try:
        out.append(collect(process))
    finally:
        done.set()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bench_plugin() -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    from pytest_wfcallbacks import WorkflowRuntime

    with WorkflowRuntime(limits={"steps": 1_000_000}) as runtime:
        workflow = runtime.deploy(LOOP_WORKFLOW, name="bench")
        # single sender
        execution = workflow.execute()
        callback = execution.wait_for_callback()
        done = threading.Event()
        process = run_sender({"kind": "latency", "url": callback.url, "count": LATENCY_REQUESTS})
        reports: list[dict[str, Any]] = []
        threading.Thread(target=collect_then_set, args=(process, done, reports)).start()
        drive_until(runtime, done)
        latency = reports[0]
        execution.cancel()
        # throughput
        executions = [workflow.execute() for _ in range(EXECUTIONS)]
        urls = [ex.wait_for_callback().url for ex in executions]
        done = threading.Event()
        process = run_sender({"kind": "throughput", "urls": urls, "senders": SENDERS, "per_url": PER_EXECUTION})
        reports = []
        threading.Thread(target=collect_then_set, args=(process, done, reports)).start()
        drive_until(runtime, done)
        throughput = reports[0]
        lost = duplicated = unfinished = 0
        for ex, url in zip(executions, urls, strict=True):
            ex.run_until_idle()
            if ex.state != "SUCCEEDED":
                unfinished += 1
                continue
            received = Counter(ex.value)
            for body in throughput["accepted"][url]:
                if received[body] == 0:
                    lost += 1
                elif received[body] > 1:
                    duplicated += 1
            extra = set(received) - set(throughput["accepted"][url])
            duplicated += len(extra)  # received but never accepted would be a phantom delivery
        return latency, throughput, {"lost": lost, "duplicated": duplicated, "unfinished": unfinished}


def bench_baseline() -> tuple[dict[str, Any], dict[str, Any]]:
    server, base = baseline_server()
    try:
        url = f"{base}/v1/projects/p/locations/l/workflows/w/executions/e/callbacks/c"
        latency = collect(run_sender({"kind": "latency", "url": url, "count": LATENCY_REQUESTS}))
        urls = [f"{base}/v1/projects/p/locations/l/workflows/w/executions/e{i}/callbacks/c" for i in range(EXECUTIONS)]
        throughput = collect(run_sender({"kind": "throughput", "urls": urls, "senders": SENDERS,
                                         "per_url": PER_EXECUTION}))
        return latency, throughput
    finally:
        server.shutdown()
        server.server_close()


def run_round() -> dict[str, Any]:
    """One baseline run then one plugin run, back to back (so both see the same machine load)."""
    base_latency, base_throughput = bench_baseline()
    latency, throughput, integrity = bench_plugin()
    accepted = sum(len(v) for v in throughput["accepted"].values())
    base_accepted = sum(len(v) for v in base_throughput["accepted"].values())
    out: dict[str, Any] = {"integrity": integrity,
                           "base_rate": base_accepted / base_throughput["elapsed"],
                           "rate": accepted / throughput["elapsed"],
                           "requests_rate": sum(throughput["statuses"].values()) / throughput["elapsed"],
                           "base_statuses": base_throughput["statuses"], "statuses": throughput["statuses"]}
    for name, result in (("base", base_latency), ("plugin", latency)):
        for mode in ("close", "keep"):
            timings = [t * 1000 for t in result[mode]["timings"][20:]]  # first requests warm up
            out[f"{name}_{mode}_median"] = statistics.median(timings)
            out[f"{name}_{mode}_p99"] = percentile(timings, 0.99)
            out[f"{name}_{mode}_statuses"] = result[mode]["statuses"]
    return out


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sender", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3,
                        help="baseline+plugin rounds; figures and verdicts use the median over rounds (default 3)")
    args = parser.parse_args()
    if args.sender:
        sender_main()
        return
    rounds: list[dict[str, Any]] = []
    for number in range(1, args.rounds + 1):
        result = run_round()
        rounds.append(result)
        print(f"round {number}: latency median ms (baseline/plugin) new connection "
              f"{result['base_close_median']:.3f}/{result['plugin_close_median']:.3f}, keep-alive "
              f"{result['base_keep_median']:.3f}/{result['plugin_keep_median']:.3f}; throughput "
              f"{result['base_rate']:.0f}/{result['rate']:.0f} callbacks/s "
              f"({result['rate'] / result['base_rate']:.2f}x); plugin statuses {result['statuses']}", flush=True)

    def med(key: str) -> float:
        return float(statistics.median(r[key] for r in rounds))

    print(f"\nmedians over {len(rounds)} round(s); single sender, {LATENCY_REQUESTS} sequential POSTs "
          "(first 20 not counted):")
    for name, label in (("base", "baseline"), ("plugin", "plugin")):
        for mode, mode_label in (("close", "new connection"), ("keep", "keep-alive")):
            print(f"  {label:<9} {mode_label:<15} median {med(f'{name}_{mode}_median'):6.3f} ms   "
                  f"p99 {med(f'{name}_{mode}_p99'):6.3f} ms")
    ratio = statistics.median(r["rate"] / r["base_rate"] for r in rounds)
    print(f"{SENDERS} concurrent senders (separate process), {EXECUTIONS} executions x {PER_EXECUTION} callbacks:")
    print(f"  baseline  {med('base_rate'):8.0f} callbacks/s")
    print(f"  plugin    {med('rate'):8.0f} callbacks/s  ({med('requests_rate'):.0f} requests/s incl. 429s)")
    print(f"  ratio     {ratio:8.2f}x baseline (median of per-round ratios)")
    lost = sum(r["integrity"]["lost"] for r in rounds)
    duplicated = sum(r["integrity"]["duplicated"] for r in rounds)
    unfinished = sum(r["integrity"]["unfinished"] for r in rounds)
    print(f"  accepted callbacks lost: {lost}, delivered twice: {duplicated}, executions not finished: {unfinished} "
          "(all rounds)")
    print()
    for mode, label in (("close", "new connection"), ("keep", "keep-alive")):
        plugin, base = med(f"plugin_{mode}_median"), med(f"base_{mode}_median")
        print(f"VERDICT single sender, {label}: plugin median {plugin:.3f} ms vs baseline {base:.3f} ms "
              f"(target: no worse) -> {verdict(plugin <= base)}")
    print(f"VERDICT throughput, {SENDERS} senders x {EXECUTIONS} executions: {ratio:.2f}x baseline "
          f"(target: >= 2x) -> {verdict(ratio >= 2.0)}")
    print(f"VERDICT integrity: {lost} lost, {duplicated} delivered twice, {unfinished} unfinished "
          f"(target: 0, 0, 0) -> {verdict(lost == 0 and duplicated == 0 and unfinished == 0)}")


if __name__ == "__main__":
    main()
