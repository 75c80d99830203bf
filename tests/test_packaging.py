"""The package metadata says what the repository holds: one version, the licence it ships,
the Python versions it claims, and an sdist that carries what its own suite needs."""

from __future__ import annotations

import re

import tomllib

import pytest_wfcallbacks

from .conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_the_version_is_written_once_in_the_package() -> None:
    assert "version" not in PROJECT
    assert "version" in PROJECT["dynamic"]
    assert SETUPTOOLS["dynamic"]["version"] == {"attr": "pytest_wfcallbacks.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", pytest_wfcallbacks.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {pytest_wfcallbacks.__version__}" in changelog, "CHANGELOG.md has no entry for this version"


def test_the_licence_declared_is_the_licence_shipped() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    # PEP 639: the SPDX expression replaces licence classifiers.
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]


def test_each_python_version_claimed_has_a_classifier() -> None:
    minimum = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"])
    assert minimum is not None
    claimed = sorted(int(m.group(1)) for c in PROJECT["classifiers"]
                     if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c)))
    assert claimed
    assert claimed[0] == int(minimum.group(1))
    assert any(c.startswith("Development Status ::") for c in PROJECT["classifiers"])


def test_the_sdist_carries_the_suite_and_the_wheel_only_the_package() -> None:
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    for line in ("recursive-include tests *.py *.yaml *.md", "recursive-include docs *.md",
                 "recursive-include examples *.py *.yaml *.json", "include .ci/run"):
        assert line in manifest
    assert SETUPTOOLS["include-package-data"] is False
    assert SETUPTOOLS["package-data"] == {"pytest_wfcallbacks": ["py.typed"]}
    assert SETUPTOOLS["packages"]["find"]["include"] == ["pytest_wfcallbacks*"]
