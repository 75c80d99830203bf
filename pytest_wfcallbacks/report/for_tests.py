"""``pytest --wf-report=DIR``: one HTML report per failed test, named after its test id.

Each file holds every execution of the test's runtime. The name depends only on the
test id, so pytest-xdist workers never write the same file (a test runs on one worker).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .html import render_document

if TYPE_CHECKING:
    from ..runtime import Execution

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]]+")
#: Longest file name kept before a hash stands in for the rest (file systems stop at 255 bytes).
_MAX_NAME = 150


def report_name(nodeid: str) -> str:
    """``tests_test_flow.py__test_it[a].html`` for ``tests/test_flow.py::test_it[a]``.

    Characters a file name cannot hold become ``_``; when that loses information (two ids
    could meet) or the name is long, a short hash of the full id keeps it unique.
    """
    readable = nodeid.replace("::", "__").replace("/", "_")
    cleaned = _UNSAFE.sub("_", readable)
    if cleaned != readable or len(cleaned) > _MAX_NAME:
        digest = hashlib.sha1(nodeid.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned[:_MAX_NAME]}-{digest}"
    return cleaned + ".html"


def write_test_report(directory: str | Path, nodeid: str, executions: list[Execution]) -> Path | None:
    """Write the report of a failed test's executions; None when it started none."""
    if not executions:
        return None
    target = Path(directory) / report_name(nodeid)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_document(executions, nodeid), encoding="utf-8")
    return target
