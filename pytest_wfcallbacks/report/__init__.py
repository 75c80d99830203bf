"""Seeing an execution: the text timeline and the self-contained HTML report.

Readers of the record: everything here reads what an `Execution` recorded (its
history, callbacks, logs, result or error), never the interpreter's state.
"""

from __future__ import annotations

from .html import render_html, save_report
from .timeline import render_timeline, timeline_section

__all__ = ["render_html", "render_timeline", "save_report", "timeline_section"]
