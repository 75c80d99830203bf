"""Every deploy-error test again, with the pure-Python YAML loader forced (issue 15: both paths)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_wfcallbacks import deploy_cache, source
from tests.test_deploy_errors import *  # noqa: F403  (the same tests, collected here a second time)


@pytest.fixture(autouse=True)
def _pure_yaml(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(source, "FAST_YAML", False)
    deploy_cache.CACHE.clear()  # nothing read by the other path may answer here
    yield
    deploy_cache.CACHE.clear()
