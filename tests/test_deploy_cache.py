"""The deploy cache: the same text gives the same frozen definition across runtimes; a change is parsed again."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError, deploy_cache
from pytest_wfcallbacks.deploy_cache import DeployCache
from pytest_wfcallbacks.settings import Limits
from pytest_wfcallbacks.stdlib import load_all

TEXT = "- a:\n    return: 1\n"


def test_same_text_across_runtimes_is_one_definition(workflow_runtime: WorkflowRuntime) -> None:
    first = workflow_runtime.deploy(TEXT)
    with WorkflowRuntime() as other:
        second = other.deploy(TEXT)
        assert second.definition is first.definition
        assert second.run().value == 1
    assert first.run().value == 1


def test_a_changed_file_is_parsed_again(tmp_path: Path, workflow_runtime: WorkflowRuntime) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(TEXT, encoding="utf-8")
    first = workflow_runtime.deploy(path)
    assert workflow_runtime.deploy(path).definition is first.definition
    path.write_text("- a:\n    return: 2\n", encoding="utf-8")
    changed = workflow_runtime.deploy(path)
    assert changed.definition is not first.definition
    assert changed.run().value == 2
    assert changed.definition.source.file == str(path)


def test_file_name_and_limits_are_part_of_the_key(tmp_path: Path) -> None:
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text(TEXT, encoding="utf-8")
    two.write_text(TEXT, encoding="utf-8")
    with WorkflowRuntime() as runtime, WorkflowRuntime(limits={"assign_items": 1}) as strict:
        assert runtime.deploy(one).definition is not runtime.deploy(two).definition
        assert strict.deploy(one).definition is not runtime.deploy(one).definition
        source = "- a:\n    assign:\n      - x: 1\n      - y: 2\n"
        runtime.deploy(source)
        with pytest.raises(WorkflowSyntaxError, match="assign"):
            strict.deploy(source)  # a cached definition for the lenient limits is not reused


def test_errors_are_reported_on_every_deploy(workflow_runtime: WorkflowRuntime) -> None:
    for _ in range(2):
        with pytest.raises(WorkflowSyntaxError, match="unknown key"):
            workflow_runtime.deploy("- a:\n    retrun: 1\n")


def test_parsed_data_is_never_cached(workflow_runtime: WorkflowRuntime) -> None:
    data = [{"a": {"return": 1}}]
    first = workflow_runtime.deploy(data)
    data[0]["a"]["return"] = 2
    assert workflow_runtime.deploy(data).run().value == 2
    assert first.run().value == 1


def test_memory_is_bounded() -> None:
    cache = DeployCache(max_entries=3, max_total_chars=10_000)
    registry, limits = load_all(), Limits()
    texts = [f"- a:\n    return: {n}\n" for n in range(5)]
    kept = [cache.definition(text, registry, limits) for text in texts]
    assert len(cache) == 3
    assert cache.definition(texts[4], registry, limits) is kept[4]
    assert cache.definition(texts[0], registry, limits) is not kept[0]  # evicted, parsed again
    big = "- a:\n    return: " + "x" * 6000 + "\n"
    cache.definition(big, registry, limits)
    cache.definition(big.replace("x", "y"), registry, limits)
    assert sum(len(key[1]) for key in cache._entries) <= 10_000
    assert cache.misses == 8


def test_the_process_cache_counts_hits() -> None:
    before = deploy_cache.CACHE.hits
    with WorkflowRuntime() as runtime:
        runtime.deploy(TEXT)
        runtime.deploy(TEXT)
    assert deploy_cache.CACHE.hits >= before + 1
