"""The README is tested: its Python snippets run as tests, and CI runs its set-up commands."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_snippets_run_as_tests(pytester: pytest.Pytester) -> None:
    snippets = [block for block in _blocks("python") if "def test_" in block]
    assert len(snippets) >= 2
    shutil.copytree(ROOT / "examples" / "workflows", pytester.path / "examples" / "workflows")
    for index, snippet in enumerate(snippets):
        pytester.makepyfile(**{f"test_readme_{index}": snippet})
    # In a process of its own: the snippets import API clients (googleapiclient, google.cloud.workflows
    # with its protos, grpc) that cannot be imported twice in one process, and pytester's in-process
    # run would drop them afterwards, breaking the API-client tests that run later in this process.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    tests = sum(snippet.count("def test_") for snippet in snippets)
    result.assert_outcomes(passed=tests)


def test_ci_runs_the_readme_set_up_commands() -> None:
    setup = _blocks("bash")[0]
    commands = [line.split("#")[0].strip() for line in setup.splitlines() if line.strip()]
    install_and_examples, tests = commands
    install, examples = (part.strip() for part in install_and_examples.split("&&"))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install.replace("pip install", "") in ci, "CI must install exactly as the README says"
    assert examples in ci
    assert tests in ci
