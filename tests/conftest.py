"""Shared helpers for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """The shared/ folder beside the repository (conformance cases, official samples)."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the suite needs ../shared beside the repository")
    return SHARED
