"""Shared helpers for the test suite, and the optional external corpus of official samples.

The service's official sample workflows (GoogleCloudPlatform/workflows-samples) are
Google's code under its licence, so the repository does not carry them. The tests
that run them are marked ``official_samples`` and run only when
``--official-samples DIR`` points at a checkout of them; otherwise they are
deselected, and the session says in one line how to run them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Property tests are proofs the suite keeps, not a search that differs per run: the same
# examples every run (derandomize), no example database written beside the repository,
# no per-example deadline (a loaded CI machine is not a failure). Each test bounds its own
# example count so the properties run in seconds.
settings.register_profile("wfcallbacks", derandomize=True, database=None, deadline=None)
settings.load_profile("wfcallbacks")

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "tests" / "conformance"

_MARK = "official_samples"
_HOW = ("{what} of the official samples deselected: run them with --official-samples=DIR "
        "(the folder of a GoogleCloudPlatform/workflows-samples checkout holding *.workflows.yaml)")


class _Corpus:
    """Where the official samples and their JSON schema are, once the session is configured."""

    samples: Path | None = None
    schema: Path | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("official samples", "the service's official samples, an optional external corpus")
    group.addoption(
        "--official-samples", metavar="DIR", default=None,
        help="run the tests marked official_samples against the sample workflows in DIR (the folder "
             "holding *.workflows.yaml and connectors/ of GoogleCloudPlatform/workflows-samples; "
             "CI passes ../shared/samples/official). Write it --official-samples=DIR: pytest reads a "
             "separate DIR as a test path before this suite's options are known. Without it those "
             "tests are deselected.")
    group.addoption(
        "--official-schema", metavar="FILE", default=None,
        help="the service's JSON schema for workflow definitions (workflows.json of workflows-samples' "
             "jsonschema/ folder); default: workflows.schema.json or workflows.json in DIR or beside it")


def _find_schema(samples: Path) -> Path | None:
    for folder in (samples, samples.parent, samples.parent / "jsonschema"):
        for name in ("workflows.schema.json", "workflows.json"):
            if (folder / name).is_file():
                return folder / name
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{_MARK}: needs the official sample workflows (--official-samples DIR); deselected without it")
    value = config.getoption("official_samples")
    if value is None:
        return
    samples = Path(value).expanduser().resolve()
    if not samples.is_dir() or not any(samples.glob("*.workflows.yaml")):
        raise pytest.UsageError(f"--official-samples {value}: no *.workflows.yaml files in that folder; "
                                "give the folder of GoogleCloudPlatform/workflows-samples that holds them")
    schema_option = config.getoption("official_schema")
    schema = Path(schema_option).expanduser().resolve() if schema_option else _find_schema(samples)
    if schema is None or not schema.is_file():
        raise pytest.UsageError(f"the JSON schema of the official samples was not found ({schema_option or samples}): "
                                "give it with --official-schema FILE")
    _Corpus.samples, _Corpus.schema = samples, schema


def official_samples() -> Path:
    """The folder of official samples; only tests marked ``official_samples`` call this."""
    assert _Corpus.samples is not None, "a test that reads the official samples needs @pytest.mark.official_samples"
    return _Corpus.samples


def official_schema() -> Path:
    """The official JSON schema; only tests marked ``official_samples`` call this."""
    assert _Corpus.schema is not None, "a test that reads the official schema needs @pytest.mark.official_samples"
    return _Corpus.schema


def corpus_given() -> bool:
    """True when the session was started with --official-samples (used at collection)."""
    return _Corpus.samples is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if corpus_given():
        return
    deselected = [item for item in items if item.get_closest_marker(_MARK) is not None]
    if deselected:
        items[:] = [item for item in items if item.get_closest_marker(_MARK) is None]
        config.hook.pytest_deselected(items=deselected)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if corpus_given():
        return
    ours = [r for r in terminalreporter.stats.get("deselected", []) if _MARK in getattr(r, "keywords", {})]
    if ours:
        terminalreporter.write_line(_HOW.format(what=f"{len(ours)} test(s)"))
    elif config.pluginmanager.hasplugin("dsession"):
        # Under pytest-xdist the workers collect and deselect; the controller only knows they did.
        terminalreporter.write_line(_HOW.format(what="the tests"))


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """pytester, with the event-loop scope this suite's ini sets, in the file of lowest precedence.

    A session pytester starts has no ini file of ours, and pytest-asyncio 1.x warns in each
    one that ``asyncio_default_fixture_loop_scope`` is unset: noise in this suite's summary,
    not a finding. ``setup.cfg`` is read only when a test writes no ``pytest.ini``,
    ``pyproject.toml`` or ``tox.ini`` of its own, so a test's own ini still decides.
    """
    pytester.makefile(".cfg", setup="[tool:pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester
