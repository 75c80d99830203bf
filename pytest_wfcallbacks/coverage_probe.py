"""The frame coverage.py's tracer sees for a workflow line (see ``coverage.py``).

`visit_lines` runs one frame that "executes" workflow lines: coverage.py's C
tracer asks the plugin's file tracer which file this frame is in (the
``file`` argument) and which line each ``pass`` is (the loop variable), and
records them as it records Python lines, into the running measurement, its
context and its data file. Nothing else lives in this module: every frame of
it is claimed by the plugin's tracer.
"""

from __future__ import annotations

from collections.abc import Sequence


def visit_lines(file: str, lines: Sequence[int]) -> None:
    """One frame whose ``pass`` events coverage.py records as ``lines`` of ``file``, in order."""
    for line in lines:  # noqa: B007 - the tracer reads ``line`` from the frame
        pass


# Frames of this function start (for coverage's arcs) on a line no workflow file has, so
# the entry and exit arcs the tracer adds around each call, (-FIRST, a) and (b, -FIRST),
# can never be mistaken for an arc of a workflow.
FIRST_LINE = 1_000_000
visit_lines.__code__ = visit_lines.__code__.replace(co_firstlineno=FIRST_LINE)
#: The line number the tracer reports for the ``pass`` of `visit_lines`.
PASS_LINE = max(line for _, _, line in visit_lines.__code__.co_lines() if line is not None)
