"""Reading workflow text: libyaml and pure-Python paths agree, and no text crashes a deploy (issues 13, 15)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError, source
from pytest_wfcallbacks.source import MAX_NESTING, MarkedDict, MarkedList

ROOT = Path(__file__).resolve().parent.parent
# The project's own workflow files (the official samples are compared too when the suite is given
# them: see test_libyaml_reads_every_official_sample_like_the_pure_loader).
WORKFLOW_FILES = sorted([*(ROOT / "examples").rglob("*.yaml"), *(ROOT / "examples").rglob("*.json"),
                         *(ROOT / "bench").rglob("*.yaml")])
PARENT = "/v1/projects/test-project/locations/us-central1"


@pytest.fixture(params=["libyaml", "pure"])
def yaml_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with the C-accelerated reader and once with the pure-Python one."""
    if request.param == "libyaml" and not source.FAST_YAML:
        pytest.fail("PyYAML here has no libyaml: the fast path cannot be tested")
    monkeypatch.setattr(source, "FAST_YAML", request.param == "libyaml")
    return str(request.param)


def same_marks(a: Any, b: Any, where: str = "") -> None:
    assert type(a) is type(b), where
    if isinstance(a, MarkedDict):
        assert a.start == b.start, where
        assert a.key_marks == b.key_marks, where
        assert a.value_marks == b.value_marks, where
        for key in a:
            same_marks(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, MarkedList):
        assert a.start == b.start, where
        assert a.item_marks == b.item_marks, where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            same_marks(x, y, f"{where}/{index}")
    else:
        assert a == b, where


def test_there_are_workflow_files_to_compare() -> None:
    assert len(WORKFLOW_FILES) >= 9


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_libyaml_reads_every_sample_like_the_pure_loader(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast = source._parse_fast(text, str(path))
    assert fast is not source._FALLBACK, "the C reader should read every sample itself"
    pure = source._parse_pure(text, str(path))
    assert fast == pure
    same_marks(fast, pure)


def test_loader_rules_hold_on_the_fast_path() -> None:
    text = 'a: yes\nb: on\nc: True\nd: 2026-01-01\ne: 0x1F\nf: null\n"1": x\n'
    data = source._parse_fast(text, "<t>")
    assert data == {"a": "yes", "b": "on", "c": True, "d": "2026-01-01", "e": 31, "f": None, "1": "x"}
    assert data.value_marks["b"] == (2, 4)
    # `${...}` with braces and commas inside a flow map: only the pure loader reads it, and does.
    flow = "- c:\n    call: f\n    args: {n: ${n - 1}, m: ${a[\"k\"]}}\n"
    assert source._parse_fast(flow, "<t>") is source._FALLBACK
    assert source.parse_text(flow)[0]["c"]["args"] == {"n": "${n - 1}", "m": '${a["k"]}'}


def deploy_error(text: str, file: str | None = None, tmp_path: Path | None = None) -> WorkflowSyntaxError:
    with WorkflowRuntime() as runtime:
        target: Any = text
        if file is not None and tmp_path is not None:
            target = tmp_path / file
            target.write_text(text, encoding="utf-8")
        with pytest.raises(WorkflowSyntaxError) as info:
            runtime.deploy(target)
    return info.value


def test_duplicate_keys_are_rejected_on_both_paths(yaml_path: str) -> None:
    error = deploy_error("- a:\n    return: 1\n    return: 2\n")
    assert "duplicate key 'return'" in error.message
    assert (error.line, error.column) == (3, 5)


def test_deep_block_nesting_is_a_located_deploy_error(yaml_path: str) -> None:
    text = "- a:\n    return:\n" + "".join("  " * (i + 3) + f"k{i}:\n" for i in range(500)) + "  " * 503 + "1\n"
    error = deploy_error(text)
    assert f"more than {MAX_NESTING} levels deep" in error.message
    assert error.line > 90
    assert error.column > 1


def test_deep_flow_nesting_is_a_located_deploy_error(yaml_path: str) -> None:
    error = deploy_error("- a:\n    return: " + "[" * 500 + "]" * 500 + "\n")
    assert "levels deep" in error.message
    assert error.line == 2


def test_deep_json_file_is_a_deploy_error(yaml_path: str, tmp_path: Path) -> None:
    error = deploy_error('{"main": {"steps": [{"a": {"return": ' + "[" * 5000 + "]" * 5000 + "}}]}}",
                         "deep.json", tmp_path)
    assert "levels deep" in error.message


def test_nesting_below_the_bound_still_deploys(yaml_path: str) -> None:
    depth = MAX_NESTING - 10
    with WorkflowRuntime() as runtime:
        value = runtime.run("- a:\n    return: " + "[" * depth + "1" + "]" * depth + "\n").value
    for _ in range(depth):
        value = value[0]
    assert value == 1


def test_deeply_nested_expression_is_a_deploy_error() -> None:
    error = deploy_error("- a:\n    return: ${" + "(" * 3000 + "1" + ")" * 3000 + "}\n")
    assert "nest" in error.message


@pytest.mark.parametrize("char", ["\x07", "\x00", "\x1b", "\ufffe"])
def test_control_characters_are_located(yaml_path: str, char: str) -> None:
    error = deploy_error(f"- a:\n    return: ab{char}c\n")
    assert f"U+{ord(char):04X}" in error.message
    assert "double-quoted" in error.message
    assert (error.line, error.column) == (2, 15)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))


def test_alias_bomb_is_rejected(yaml_path: str) -> None:
    assert len(BOMB) < 500
    error = deploy_error(BOMB)
    assert "aliases make this value expand past the service's source size limit of 128 KB" in error.message
    assert error.line in range(4, 10)


def test_alias_bomb_through_rest_cli_validate_and_run(tmp_path: Path, workflow_runtime: WorkflowRuntime) -> None:
    with httpx.Client(base_url=workflow_runtime.base_url, trust_env=False) as client:
        answer = client.post(f"{PARENT}/workflows", params={"workflowId": "bomb"}, json={"sourceContents": BOMB})
        assert answer.status_code == 400
        assert "source size limit" in answer.json()["error"]["message"]
        deep = "main:\n  steps:\n    - a:\n        return: " + "[" * 600 + "]" * 600 + "\n"
        answer = client.post(f"{PARENT}/workflows", params={"workflowId": "deep"}, json={"sourceContents": deep})
        assert answer.status_code == 400
        assert "levels deep" in answer.json()["error"]["message"]
    bomb_file = tmp_path / "bomb.yaml"
    bomb_file.write_text(BOMB, encoding="utf-8")
    control = tmp_path / "control.yaml"
    control.write_text("main:\n  steps:\n    - a:\n        return: \x07\n", encoding="utf-8")
    runs = [("validate", bomb_file, control), ("run", bomb_file), ("run", control)]
    for command, *paths in runs:
        done = subprocess.run([sys.executable, "-m", "pytest_wfcallbacks", command, *map(str, paths)], check=False,
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        output = done.stdout + done.stderr
        assert done.returncode != 0
        assert "Traceback" not in output
        for path in paths:
            expected = "source size limit" if path == bomb_file else "U+0007"
            located = [line for line in output.splitlines() if line.startswith(f"{path}:") or f" {path}:" in line]
            assert located, output
            assert any(expected in line for line in located), output


def test_alias_to_itself_is_rejected(yaml_path: str) -> None:
    error = deploy_error("- a:\n    return: &x [1, *x]\n")
    assert "refers to its own anchor" in error.message


def test_small_aliases_still_work(yaml_path: str) -> None:
    text = "- a:\n    assign:\n      - base: &b {x: 1}\n      - copy: *b\n- r:\n    return: ${copy.x}\n"
    with WorkflowRuntime() as runtime:
        assert runtime.run(text).value == 1


@pytest.mark.parametrize(("text", "wording", "where"), [
    ("main:\n  steps:\n    - a:\n        return: 1\n      b: 2\n   c: 3\n", "indentation does not line up", (6, 4)),
    ("main:\n  steps:\n    - a:\n        return: 'abc\n", "is never closed", (5, 1)),
    ("- a:\n    return: *nothing\n", "must come after its anchor", (2, 13)),
    ("- a:\n    return: \"\\q\"\n", "unknown escape sequence", (2, 15)),
    ("- a:\n    return: [1, 2\n- b: 1\n", "missing a ',' or its closing ']'", (3, 4)),
    ("- a:\n    return: 1\n---\n- b:\n    return: 2\n", "more than one YAML document", (3, 1)),
    ("- a:\n    return: 1\n  x\n", "is not 'key: value'", (3, 3)),
])
def test_pyyaml_wording_is_translated(yaml_path: str, text: str, wording: str, where: tuple[int, int]) -> None:
    error = deploy_error(text)
    assert error.message.startswith("YAML/JSON syntax error: ")
    assert wording in error.message
    assert (error.line, error.column) == where


@pytest.mark.parametrize("tag", ["!!set {a}", "!!binary aGk=", "!!timestamp 2026-01-01", "!!omap [a: 1]"])
def test_tags_without_a_workflows_value_are_refused(yaml_path: str, tag: str) -> None:
    error = deploy_error(f"- a:\n    return: {tag}\n")
    assert "has no Workflows value" in error.message
    assert (error.line, error.column) == (2, 13)


@pytest.mark.parametrize("tag", ["!!int abc", "!!float x"])
def test_badly_tagged_values_are_deploy_errors(yaml_path: str, tag: str) -> None:
    assert "tag" in deploy_error(f"- a:\n    return: {tag}\n").message


def test_bytes_that_are_not_utf8() -> None:
    with WorkflowRuntime() as runtime, pytest.raises(WorkflowSyntaxError, match="not UTF-8"):
        runtime.deploy(b"- a:\n    return: \xff\n")


YAMLISH = st.lists(st.sampled_from([*"ab1 :-\n\t[]{},&*!|>'\"#%@`$\\\x00\x07\u00e9", "${", "  ", "- ", "\n  "]),
                   max_size=40).map("".join)


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(text=st.one_of(YAMLISH, st.text(max_size=60)), nest=st.integers(0, 3))
def test_any_text_deploys_or_raises_workflow_syntax_error(workflow_runtime: WorkflowRuntime, text: str,
                                                          nest: int) -> None:
    candidates = [text, "- a:\n    return: " + text, "main:\n  steps:\n" + "  " * nest + "    - s:\n        " + text]
    for candidate in candidates:
        # Deploys, or says why with a WorkflowSyntaxError; anything else fails the test.
        with contextlib.suppress(WorkflowSyntaxError):
            workflow_runtime.deploy(candidate)


@pytest.mark.parametrize("style", ["flow", "block"])
def test_both_paths_draw_the_nesting_bound_at_the_same_place(yaml_path: str, style: str) -> None:
    def nested(lists: int) -> str:  # a tree `lists + 1` high: the lists and the scalar inside
        if style == "flow":
            return "[" * lists + "1" + "]" * lists
        return "".join("  " * i + "-\n" for i in range(lists - 1)) + "  " * (lists - 1) + "- 1\n"

    assert source.parse_text(nested(MAX_NESTING - 1)) is not None
    with pytest.raises(WorkflowSyntaxError, match="levels deep"):
        source.parse_text(nested(MAX_NESTING))


@pytest.mark.official_samples
def test_libyaml_reads_every_official_sample_like_the_pure_loader() -> None:
    from .conftest import official_samples

    paths = sorted([*official_samples().glob("*.yaml"), *official_samples().glob("*.json")])
    assert len(paths) > 100
    for path in paths:
        test_libyaml_reads_every_sample_like_the_pure_loader(path)
