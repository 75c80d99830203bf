"""Hot reload of the served folder (`pytest_wfcallbacks.emulator.watch`), polled by hand: no timing involved."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_wfcallbacks import WorkflowRuntime
from pytest_wfcallbacks.api import execution_json, workflow_json
from pytest_wfcallbacks.emulator.watch import FolderWatcher, workflow_name


def greeting(word: str) -> str:
    return ("main:\n  steps:\n"
            "    - make:\n        call: events.create_callback_endpoint\n        result: cb\n"
            "    - wait:\n        call: events.await_callback\n        args: {callback: ${cb}, timeout: 60}\n"
            f"    - done:\n        return: {word}\n")


BROKEN = "main:\n  steps:\n    - first:\n        call: no.such.function\n"


@pytest.fixture
def runtime(workflow_server):
    with WorkflowRuntime(server=workflow_server) as rt:
        yield rt


def watch(runtime: WorkflowRuntime, folder: Path) -> tuple[FolderWatcher, list[tuple[str, str, str]]]:
    changes: list[tuple[str, str, str]] = []
    return FolderWatcher(runtime, folder, on_change=changes.append), changes


def revision(runtime: WorkflowRuntime, name: str) -> str:
    return str(workflow_json(runtime, runtime.workflows[name])["revisionId"])


def test_a_changed_file_is_a_new_revision_and_running_executions_keep_theirs(runtime, tmp_path):
    path = tmp_path / "greet.yaml"
    path.write_text(greeting("hello"))
    watcher, changes = watch(runtime, tmp_path)
    watcher.poll()
    first = revision(runtime, "greet")
    assert changes == [("deployed", "greet", first)]
    running = runtime.execute(runtime.workflows["greet"])
    path.write_text(greeting("goodbye"))
    assert [kind for kind, _, _ in watcher.poll()] == ["deployed"]
    second = revision(runtime, "greet")
    assert second != first
    assert second.startswith("000002-")
    later = runtime.execute(runtime.workflows["greet"])
    for execution in (running, later):
        execution.wait_for_callback().send({})
    assert running.result() == "hello"  # started on the first revision, finished on it
    assert later.result() == "goodbye"
    assert execution_json(running)["workflowRevisionId"] == first
    assert execution_json(later)["workflowRevisionId"] == second


def test_a_file_replaced_by_rename_is_seen_even_with_the_same_size_and_times(runtime, tmp_path):
    path = tmp_path / "greet.yaml"
    path.write_text(greeting("hello"))
    watcher, _ = watch(runtime, tmp_path)
    watcher.poll()
    before = os.stat(path)
    replacement = tmp_path / ".greet.yaml.tmp"  # how editors save: write beside, rename over
    replacement.write_text(greeting("howdy"))  # same length as "hello"
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    assert os.stat(path).st_size == before.st_size
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert [kind for kind, _, _ in watcher.poll()] == ["deployed"]
    execution = runtime.execute(runtime.workflows["greet"])
    execution.wait_for_callback().send({})
    assert execution.result() == "howdy"


def test_rewriting_the_same_text_is_not_a_new_revision(runtime, tmp_path):
    path = tmp_path / "greet.yaml"
    path.write_text(greeting("hello"))
    watcher, _ = watch(runtime, tmp_path)
    watcher.poll()
    first = revision(runtime, "greet")
    path.write_text(greeting("hello"))
    os.utime(path, ns=(1, 1))
    assert watcher.poll() == []
    assert revision(runtime, "greet") == first


def test_a_file_that_no_longer_deploys_keeps_the_last_good_revision_and_its_error(runtime, tmp_path):
    path = tmp_path / "greet.yaml"
    path.write_text(greeting("hello"))
    watcher, _ = watch(runtime, tmp_path)
    watcher.poll()
    good = runtime.workflows["greet"]
    path.write_text(BROKEN)
    ((kind, name, error),) = watcher.poll()
    assert (kind, name) == ("failed", "greet")
    assert error.startswith(f"{path}:4:15: ")
    assert "no.such.function" in error
    assert "(step main/first)" in error
    assert runtime.workflows["greet"] is good  # still serving
    assert watcher.errors() == {"greet": error}
    path.write_text(greeting("fixed"))
    assert [kind for kind, _, _ in watcher.poll()] == ["deployed"]
    assert watcher.errors() == {}
    assert runtime.workflows["greet"] is not good


def test_new_and_removed_files(runtime, tmp_path):
    watcher, _ = watch(runtime, tmp_path)
    assert watcher.poll() == []
    (tmp_path / "order_flow.json").write_text('{"main": {"steps": [{"done": {"return": 1}}]}}')
    (tmp_path / "notes.txt").write_text("not a workflow")
    (tmp_path / ".swap.yaml").write_text(BROKEN)  # editors' hidden files are not workflows
    assert [(kind, name) for kind, name, _ in watcher.poll()] == [("deployed", "order-flow")]
    assert set(runtime.workflows) == {"order-flow"}
    (tmp_path / "order_flow.json").unlink()
    assert watcher.poll() == [("removed", "order-flow", "")]
    assert runtime.workflows == {}


def test_a_missing_folder_removes_its_workflows_instead_of_failing(runtime, tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "a.yaml").write_text(greeting("a"))
    watcher, _ = watch(runtime, folder)
    watcher.poll()
    (folder / "a.yaml").unlink()
    folder.rmdir()
    assert watcher.poll() == [("removed", "a", "")]


def test_poll_if_due_polls_at_most_once_per_interval(runtime, tmp_path):
    now = [100.0]
    watcher = FolderWatcher(runtime, tmp_path, interval=0.5, monotonic=lambda: now[0])
    watcher.poll_if_due()
    (tmp_path / "a.yaml").write_text(greeting("a"))
    assert watcher.poll_if_due() == []  # not due yet: the folder is not even listed
    now[0] += 0.5
    assert [kind for kind, _, _ in watcher.poll_if_due()] == ["deployed"]


def test_names_follow_deploy():
    assert workflow_name(Path("x/order_flow.workflows.yaml")) == "order-flow"
    assert workflow_name(Path("a.b.yml")) == "a-b"
