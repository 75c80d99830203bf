"""Examples are tests: each file here is what a user would write for the workflow beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).parent / "workflows"


@pytest.fixture
def workflows() -> Path:
    """The folder holding the example workflow definitions."""
    return WORKFLOWS
