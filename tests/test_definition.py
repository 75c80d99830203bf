"""The definition tree: shapes, step paths, templates, connectors and source loading details."""

from __future__ import annotations

import textwrap

import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError
from pytest_wfcallbacks.definition import (
    AssignStep,
    CallStep,
    Definition,
    ForStep,
    ParallelStep,
    StepsStep,
    SwitchStep,
    TryStep,
    build_definition,
)
from pytest_wfcallbacks.settings import Limits
from pytest_wfcallbacks.source import load_source
from pytest_wfcallbacks.stdlib import REGISTRY, load_all

SOURCE = textwrap.dedent("""
    main:
      params: [args]
      steps:
        - init:
            assign:
              - x: 1
        - loop:
            for:
              value: v
              in: [1]
              steps:
                - nested:
                    steps:
                      - inner:
                          assign:
                            - y: ${v}
        - choose:
            switch:
              - condition: true
                call: sub
                args: {a: 1}
        - guarded:
            try:
              call: sub
              args: [2]
            except:
              steps:
                - handler:
                    assign:
                      - z: 1
        - par:
            parallel:
              branches:
                - one:
                    steps:
                      - b1:
                          assign:
                            - q: 1
                - two:
                    steps:
                      - b2:
                          assign:
                            - q: 2
    sub:
      params: [a, b: "dflt"]
      steps:
        - r:
            return: ${a}
    """)


def _definition() -> Definition:
    load_all()
    return build_definition(load_source(SOURCE), REGISTRY, Limits())


def test_steps_are_typed_and_carry_paths_and_locations() -> None:
    definition = _definition()
    by_path = {step.path: step for step in definition.steps()}
    assert isinstance(by_path["main/init"], AssignStep)
    assert isinstance(by_path["main/loop"], ForStep)
    assert isinstance(by_path["main/loop/nested"], StepsStep)
    assert isinstance(by_path["main/loop/nested/inner"], AssignStep)
    assert isinstance(by_path["main/choose"], SwitchStep)
    assert isinstance(by_path["main/choose/condition[0]"], CallStep)
    assert isinstance(by_path["main/guarded"], TryStep)
    assert isinstance(by_path["main/guarded/except/handler"], AssignStep)
    assert isinstance(by_path["main/par"], ParallelStep)
    assert {"main/par/one/b1", "main/par/two/b2", "sub/r"} <= set(by_path)
    inner = by_path["main/loop/nested/inner"]
    assert (inner.loc.line, inner.loc.column, inner.routine) == (15, 21, "main")


def test_params_and_defaults() -> None:
    definition = _definition()
    sub = definition.routines["sub"]
    assert [p.name for p in sub.params] == ["a", "b"]
    assert sub.params[0].default is None
    assert sub.params[1].default is not None
    assert sub.params[1].default.value == "dflt"
    assert [p.name for p in definition.main.params] == ["args"]


def test_bare_list_is_main_without_params(workflow_runtime: WorkflowRuntime) -> None:
    workflow = workflow_runtime.deploy("- a:\n    return: 1\n")
    assert workflow.run().result() == 1


def test_data_sources_deploy_without_positions(workflow_runtime: WorkflowRuntime) -> None:
    workflow = workflow_runtime.deploy({"main": {"steps": [{"r": {"return": "${1 + 1}"}}]}})
    assert workflow.run().result() == 2
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy([{"r": {"retrun": 1}}])
    assert "unknown key 'retrun'" in info.value.message
    assert info.value.step == "main/r"


@pytest.mark.parametrize(("source", "words"), [
    ("", "the workflow is empty"),
    ("{}", "the workflow is empty"),
    ("sub:\n  steps:\n    - a:\n        return: 1\n", "no `main` routine"),
    ("main:\n  params: [x]\n", "has no `steps`"),
    ("main:\n  steps: []\n", "at least one step"),
    ("42", "a list of steps or a map of routines"),
    ("main:\n  params: [{x: 1}]\n  steps:\n    - a:\n        return: 1\n", "`main`'s parameter cannot have a default"),
    ("main:\n  steps:\n    - a:\n        return: 1\nsub:\n  params: [a, a]\n  steps:\n    - a:\n        return: 1\n",
     "declares the parameter 'a' twice"),
])
def test_workflow_shapes_rejected(workflow_runtime: WorkflowRuntime, source: str, words: str) -> None:
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy(source)
    assert words in info.value.message


def test_yaml_booleans_follow_workflows(workflow_runtime: WorkflowRuntime) -> None:
    """docs/decisions.md #27: yes/no/on/off stay strings; True/FALSE are booleans."""
    value = workflow_runtime.run("- r:\n    return: [yes, no, on, off, True, FALSE, 2024-01-01]\n").result()
    assert value == ["yes", "no", "on", "off", True, False, "2024-01-01"]


def test_interpolation_is_not_an_expression(workflow_runtime: WorkflowRuntime) -> None:
    source = '- a:\n    assign:\n      - name: "x"\n- r:\n    return: ["Hello ${name}", "${name}"]\n'
    assert workflow_runtime.run(source).result() == ["Hello ${name}", "x"]


def test_expression_map_keys(workflow_runtime: WorkflowRuntime) -> None:
    source = '- a:\n    assign:\n      - k: "dyn"\n- r:\n    return:\n      ${k}: 1\n      plain: 2\n'
    assert workflow_runtime.run(source).result() == {"dyn": 1, "plain": 2}


@pytest.mark.workflow_runtime(check_at_teardown=False)  # the unfaked call is reported at teardown on purpose
def test_connectors_deploy_and_fail_clearly_at_run_time(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(textwrap.dedent("""
        - a:
            call: gke.request
            args: {project: p}
            result: r
        """))
    assert execution.error["tags"] == ["SystemError"]
    assert "no connector fake answers" in execution.error["message"]
    assert "connectors.fake('gke.request'" in execution.error["message"]


def test_connector_helper_allowed_in_expressions(workflow_runtime: WorkflowRuntime) -> None:
    """The official connector_secretmanager sample calls accessString inside an expression."""
    name = "googleapis.secretmanager.v1.projects.secrets.versions.accessString"
    fake = workflow_runtime.connectors.fake(name, returns="s3cr3t")
    execution = workflow_runtime.run(textwrap.dedent("""
        - a:
            assign:
              - s: ${googleapis.secretmanager.v1.projects.secrets.versions.accessString("id", "1", "p")}
        - r:
            return: ${s}
        """))
    assert execution.value == "s3cr3t"
    assert fake.calls[0].args == {"secret_id": "id", "version": "1", "project_id": "p"}
    with pytest.raises(WorkflowSyntaxError) as info:
        workflow_runtime.deploy("- a:\n    return: ${googleapis.storage.v1.objects.get(1)}\n")
    assert "unknown function" in info.value.message
