"""The docs that ship with the project hold together: every decision names tests that exist,
local links resolve, and nothing points at files a user of the package does not have."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

DOCS = ROOT / "docs"
DECISIONS = (DOCS / "decisions.md").read_text(encoding="utf-8")
#: What a clone or an sdist holds, besides the CI script (which may name the CI's spec folder).
SHIPPED = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "pyproject.toml", ROOT / "MANIFEST.in",
           *(p for folder in ("pytest_wfcallbacks", "tests", "examples", "bench", "docs")
             for p in sorted((ROOT / folder).rglob("*")) if p.suffix in (".py", ".md", ".yaml", ".json", ".toml"))]


def _decision_sections() -> dict[int, str]:
    parts = re.split(r'^<a id="(\d+)"></a>$', DECISIONS, flags=re.MULTILINE)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2], strict=True)}


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def _case_names(path: Path) -> set[str]:
    return {case["name"] for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]}


def test_every_decision_is_listed_with_the_tests_that_pin_it() -> None:
    sections = _decision_sections()
    assert sorted(sections) == list(range(1, len(sections) + 1))
    assert len(sections) >= 32
    for number, body in sections.items():
        pins = re.findall(r"^- \[`tests/([^`]+)`\]\(\.\./tests/\1\)(?: `(\w+)`|, case \"([^\"]+)\"| \(the whole file\))$",
                          body, flags=re.MULTILINE)
        assert pins, f"decision {number} lists no test"
        for file, function, case in pins:
            path = ROOT / "tests" / file
            assert path.is_file(), f"decision {number}: tests/{file} does not exist"
            if function:
                assert function in _test_names(path), f"decision {number}: no {function} in tests/{file}"
            if case:
                assert case in _case_names(path), f"decision {number}: no case {case!r} in tests/{file}"


def test_decision_links_from_the_semantics_have_an_entry() -> None:
    semantics = (DOCS / "semantics.md").read_text(encoding="utf-8")
    linked = {int(n) for n in re.findall(r"\(decisions\.md#(\d+)\)", semantics)}
    assert linked, "semantics.md links no decision"
    assert linked <= set(_decision_sections())


@pytest.mark.parametrize("doc", ["README.md", "CHANGELOG.md", "docs/semantics.md", "docs/decisions.md",
                                 "tests/conformance/README.md"])
def test_local_links_resolve(doc: str) -> None:
    path = ROOT / doc
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), f"{doc} links {target}, which does not exist"


def test_nothing_shipped_points_outside_the_project() -> None:
    outside = "../" + "shared"
    spec_names = re.compile(r"(?<!docs/)\b(?:DECISIONS|LANGUAGE|DESIGN)\.md")
    for path in SHIPPED:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        if outside in text:
            # Only the help of the suite's own --official-samples option may name the CI's folder.
            assert where == Path("tests/conftest.py"), f"{where} mentions {outside}"
            assert text.count(outside) == 1, f"{where} mentions {outside} more than once"
        assert not spec_names.search(text), f"{where} cites {spec_names.search(text)}: cite docs/ instead"
