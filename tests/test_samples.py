"""The service's own samples: every one deploys, every accepted definition matches the official
JSON schema, and those that need no network give the results their comments promise.

The official samples are an external corpus (``--official-samples DIR``, see conftest.py);
the project's own example workflows are checked the same way in every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError
from pytest_wfcallbacks.source import load_source

from .conftest import ROOT, corpus_given, official_samples, official_schema

official = pytest.mark.official_samples
EXAMPLES = sorted(p for p in (ROOT / "examples" / "workflows").iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def _official_files() -> list[Path]:
    return sorted(p for p in official_samples().rglob("*") if p.suffix in (".yaml", ".json"))


SAMPLES = _official_files() if corpus_given() else []
OFFICIAL = official_samples() if corpus_given() else None


def _paths(*, needs_schema: bool = False) -> list[Any]:
    """The examples, then every official sample (or one stand-in, deselected, when the corpus is absent).

    With ``needs_schema`` the examples need the corpus too: the official schema is part of it.
    """
    marks = [official] if needs_schema else []
    params: list[Any] = [pytest.param(p, id=str(p.relative_to(ROOT)), marks=marks) for p in EXAMPLES]
    if OFFICIAL is None:
        return [*params, pytest.param(None, id="official-samples", marks=official)]
    return params + [pytest.param(p, id=str(p.relative_to(OFFICIAL)), marks=official) for p in SAMPLES]


def sample(name: str) -> Path:
    return official_samples() / name


@official
def test_samples_were_found() -> None:
    assert len(SAMPLES) >= 150, f"expected the official samples (YAML and JSON, with connectors/) in {OFFICIAL}"
    assert len(EXAMPLES) >= 5
    assert any(p.parent.name == "connectors" for p in SAMPLES)
    assert any(p.suffix == ".json" for p in SAMPLES)


@pytest.mark.parametrize("path", _paths())
def test_deploys(workflow_runtime: WorkflowRuntime, path: Path) -> None:
    workflow = workflow_runtime.deploy(path)
    assert workflow.source is not None


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(official_schema().read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@pytest.mark.parametrize("path", _paths(needs_schema=True))
def test_accepted_definitions_match_the_official_schema(
    workflow_runtime: WorkflowRuntime, schema_validator: jsonschema.Draft7Validator, path: Path
) -> None:
    workflow_runtime.deploy(path)  # accepted here ...
    errors = sorted(schema_validator.iter_errors(_plain(load_source(path).data)), key=lambda e: list(e.path))
    assert not errors, f"{path}: {errors[0].message} at {list(errors[0].absolute_path)}"  # ... and by the schema


@official
def test_schema_rejects_what_deploy_rejects(schema_validator: jsonschema.Draft7Validator) -> None:
    """A sanity check that the schema test can fail: an unknown step key is invalid for both."""
    assert list(schema_validator.iter_errors([{"a": {"asign": [{"x": 1}]}}]))


@official
def test_yaml_and_json_twins_give_the_same_definition() -> None:
    for yaml_path in official_samples().glob("*.workflows.yaml"):
        json_path = yaml_path.with_suffix(".json")
        if json_path.exists():
            assert _plain(load_source(yaml_path).data) == _plain(load_source(json_path).data), yaml_path.name


# --------------------------------------------------------------------------- runs without network

EXPECTED = {
    "array": {"concat_result": "foobar"},
    "dictionary": None,
    "expression": "Current temperature is 80.6 F",
    "iterate_for_range": 45,
    "iterate_list": 15,
    "iterate_map": 60,
    "list": None,
    "list_reverse": [3, 2, 1],
    "loop_scope": [8],
    "step_iterate": {"concat_result": "foobar"},
    "step_switch_embedded": "increase a to:8",
    "subworkflow": "Hello Kristof",
    "vars": None,
}


@official
@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_result(workflow_runtime: WorkflowRuntime, name: str, fmt: str) -> None:
    execution = workflow_runtime.run(sample(f"{name}.workflows.{fmt}"))
    assert execution.result() == EXPECTED[name]


@official
def test_args_sample(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(sample("args.workflows.yaml"), {"firstName": "Ada", "lastName": "Lovelace"})
    assert execution.result() == "Hello Ada Lovelace"


@official
def test_parallel_error_handling_sample(workflow_runtime: WorkflowRuntime) -> None:
    """Odd iterations raise; under continueAll (the only policy) every iteration runs, so the one
    UnhandledBranchError caught lists the three odd ones, as the service reports."""
    execution = workflow_runtime.run(sample("parallel_error_handling.workflows.yaml"))
    error = execution.result()
    assert error["tags"] == ["UnhandledBranchError"]
    assert error["message"].startswith("UnhandledBranchError: 3 branches")
    assert [branch["id"] for branch in error["branches"]] == ["1", "3", "5"]
    assert all(json.loads(branch["error"]["payload"]) == "how odd!" for branch in error["branches"])
    assert [entry.payload for entry in execution.logs] == [error]


def _uncomment(path: Path, marker: str) -> tuple[str, int]:
    """The sample's text with the commented line holding ``marker`` made live; and that line's number."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if marker in line and line.lstrip().startswith("# "):
            # Align with the list item above (the samples indent some of these comments less).
            above = next(x for x in reversed(lines[: number - 1]) if x.lstrip().startswith("- "))
            indent = above[: len(above) - len(above.lstrip())]
            lines[number - 1] = indent + line.lstrip()[2:]
            return "\n".join(lines) + "\n", number
    raise AssertionError(f"{marker!r} not found in {path}")


@official
@pytest.mark.parametrize("marker", ["- ${outerLoopScope}", "- ${innerLoopScope}", "- ${outerLoopValue}"])
def test_loop_scope_sample_lines_marked_not_allowed_are_rejected(workflow_runtime: WorkflowRuntime,
                                                                  marker: str) -> None:
    text, line = _uncomment(sample("loop_scope.workflows.yaml"), marker)
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(text)
    assert info.value.line == line
    assert info.value.step == "main/final"
    assert "is read but never assigned" in info.value.message


@official
@pytest.mark.parametrize(
    ("marker", "message"),
    [("- input: 5", "not listed in `shared`"), ("- temp: ${temp2}", "'temp2' is read but never assigned")],
)
def test_parallel_shared_variables_sample_deployment_errors(
    workflow_runtime: WorkflowRuntime, marker: str, message: str
) -> None:
    text, line = _uncomment(sample("parallel_shared_variables.workflows.yaml"), marker)
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(text)
    assert info.value.line == line
    assert message in info.value.message
