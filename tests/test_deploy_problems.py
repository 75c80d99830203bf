"""Deploy reports every problem of a file, not only the first (issue #13).

A file with four mistakes gets one `WorkflowSyntaxError` whose ``problems`` list all four, each
with its own file:line:column and step; the message shows them all, and ``wfcallbacks validate``
prints one line per problem. A problem that hides others' context (a broken step assigns nothing)
does not add invented ones: reads after a broken step are not judged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError
from pytest_wfcallbacks.cli import main
from pytest_wfcallbacks.validator_base import MAX_PROBLEMS

FOUR_PROBLEMS = """\
main:
  steps:
    - first:
        assgn:
          - x: 1
    - second:
        call: nosuch.function
    - third:
        assign:
          - y: ${1 +}
    - fourth:
        next: nowhere
    - fine:
        return: 1
"""

#: (line, column, step, words of the message) of each problem, in file order.
EXPECTED = [
    (4, 9, "main/first", "unknown key 'assgn'"),
    (7, 15, "main/second", "unknown function or subworkflow 'nosuch.function'"),
    (10, 21, "main/third", "invalid expression ${1 +}"),
    (12, 15, "main/fourth", "jumps to 'nowhere'"),
]


def problems_of(runtime: WorkflowRuntime, source: str) -> WorkflowSyntaxError:
    with pytest.raises(WorkflowSyntaxError) as caught:
        runtime.deploy(source)
    return caught.value


def test_every_problem_is_listed_with_its_location(workflow_runtime: WorkflowRuntime) -> None:
    error = problems_of(workflow_runtime, FOUR_PROBLEMS)
    found = [(p.line, p.column, p.step) for p in error.problems]
    assert found == [(line, column, step) for line, column, step, _ in EXPECTED]
    for problem, (*_, words) in zip(error.problems, EXPECTED, strict=True):
        assert words in problem.message
    # The error itself is the first problem, as before; the message lists the others after it.
    assert (error.line, error.column, error.message) == (4, 9, error.problems[0].message)
    text = str(error)
    assert text.splitlines()[0].startswith("<workflow>:4:9 (step main/first): unknown key 'assgn'")
    assert "3 more problem(s) in this source:" in text
    assert all(f"<workflow>:{line}:{column} (step {step}): " in text for line, column, step, _ in EXPECTED)


def test_one_problem_is_its_own_list(workflow_runtime: WorkflowRuntime) -> None:
    first_step_only = FOUR_PROBLEMS.split("    - second:", maxsplit=1)[0]
    error = problems_of(workflow_runtime, first_step_only + "    - done:\n        return: 1\n")
    assert error.problems == (error,)
    assert "more problem" not in str(error)


def test_a_broken_step_invents_no_unassigned_reads(workflow_runtime: WorkflowRuntime) -> None:
    # `x` is assigned by the step with a typo: reporting the read of `x` would be noise.
    source = """\
main:
  steps:
    - set:
        assign:
          - x: 1
        nxt: use
    - use:
        return: ${x}
"""
    error = problems_of(workflow_runtime, source)
    assert [p.line for p in error.problems] == [6]


def test_problems_stop_at_the_cap(workflow_runtime: WorkflowRuntime) -> None:
    steps = "".join(f"    - s{i}:\n        call: no.such{i}\n" for i in range(MAX_PROBLEMS + 20))
    error = problems_of(workflow_runtime, "main:\n  steps:\n" + steps)
    assert len(error.problems) == MAX_PROBLEMS
    assert f"(stopped after {MAX_PROBLEMS} problems)" in str(error)


def test_validate_prints_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(FOUR_PROBLEMS)
    assert main(["validate", str(bad)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{bad}:{line}:{column}" for line, column, _, _ in EXPECTED]
    assert all(line.endswith(f"(step {step})") for line, (_, _, step, _) in zip(lines, EXPECTED, strict=True))
    assert "4 problem(s) in 1 file(s)" in captured.err
