"""Path assertions: which steps an execution entered, read from its step entries.

`assert_path` checks that steps were entered in an order (others may come between),
`assert_not_visited` that steps were never entered by any thread. A failure shows
the path with virtual times, marks where the expectation broke, and ends with the
execution's state table. A name that is no step of the workflow fails at once with
a "did you mean", so a typo cannot make `assert_not_visited` pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .assertions import StateAssertionError, _vt, render_execution_state
from .history import EventKind
from .step_entries import StepEntry

if TYPE_CHECKING:
    from .runtime import Execution

#: Entries shown around the point where an expectation broke; the rest are summarised.
MAX_SHOWN = 40


def _step_names(execution: Execution) -> set[str]:
    return {step.name for step in execution.workflow.definition.steps()}


def _check_names(execution: Execution, names: Iterable[object], what: str) -> list[str]:
    """The names as strings; a name that is no step of the workflow fails with a suggestion."""
    known = _step_names(execution)
    checked: list[str] = []
    problems: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what}: step names are strings, got {name!r}")
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            problems.append(f"{name!r} is not a step of workflow {execution.workflow.name!r}{hint}")
        checked.append(name)
    if problems:
        raise StateAssertionError(f"{what}: " + "; ".join(problems) + "\n  steps of the workflow: "
                                  + ", ".join(sorted(known)))
    return checked


def _labels(execution: Execution) -> dict[str, str]:
    return {item.branch: str(item.details.get("label")) for item in execution.history
            if item.branch is not None and item.kind is EventKind.BRANCH_STARTED}


def _thread_entries(execution: Execution, branch: str | None) -> list[StepEntry]:
    entries = execution.step_entries
    if branch is None:
        return [entry for entry in entries if entry.branch is None]
    labels = _labels(execution)
    chosen = [entry for entry in entries
              if entry.branch is not None and (entry.branch == branch or labels.get(entry.branch) == branch)]
    if not chosen and branch not in labels and branch not in labels.values():
        known = sorted({*labels, *labels.values()})
        raise StateAssertionError(f"execution {execution.id} has no branch {branch!r}; its branches: "
                                  + (", ".join(known) if known else "none") + "\n" + render_execution_state(execution))
    return chosen


def _state(entry: StepEntry) -> str:
    return entry.state.removeprefix("STATE_")


def _line(execution: Execution, entry: StepEntry, mark: str, *, thread: bool = False) -> str:
    where = f"  [{entry.branch}]" if thread and entry.branch else ""
    return (f"  {mark:2} #{entry.entry_id:<5} {_vt(execution._runtime, entry.create_ns):>10}  "
            f"{entry.routine}/{entry.step}  {entry.step_type}  {_state(entry)}{where}")


def _window(lines: list[str], focus: int) -> list[str]:
    """At most `MAX_SHOWN` lines around ``focus``, with what was left out counted."""
    if len(lines) <= MAX_SHOWN:
        return lines
    start = max(0, min(focus - MAX_SHOWN // 2, len(lines) - MAX_SHOWN))
    end = start + MAX_SHOWN
    shown = lines[start:end]
    if start:
        shown.insert(0, f"  … {start} earlier entries")
    if end < len(lines):
        shown.append(f"  … {len(lines) - end} later entries")
    return shown


def _thread_name(branch: str | None) -> str:
    return "the main thread" if branch is None else f"branch {branch!r}"


def assert_path(execution: Execution, expected: Sequence[str], *, branch: str | None = None) -> None:
    """Assert that one thread entered the ``expected`` steps in this order (other steps may come between).

    The thread is the main one (with the subworkflows it called) unless ``branch`` names a
    parallel branch by id (``par/b1``, ``loop[0]``) or label (``b1``).
    """
    __tracebackhide__ = True
    if isinstance(expected, str):
        raise TypeError("assert_path: expected is a list of step names, not one string")
    want = _check_names(execution, expected, "assert_path")
    entries = _thread_entries(execution, branch)
    matched: list[int] = []
    for index, entry in enumerate(entries):
        if len(matched) < len(want) and entry.step == want[len(matched)]:
            matched.append(index)
    if len(matched) == len(want):
        return
    missing = want[len(matched)]
    after = f" after {want[len(matched) - 1]!r} (entry #{entries[matched[-1]].entry_id})" if matched else ""
    earlier = [entry for entry in entries[: matched[-1] + 1 if matched else 0] if entry.step == missing]
    why = (f"; it was entered earlier, at entry #{earlier[0].entry_id}" if earlier
           else f"; {_thread_name(branch)} never entered it")
    lines: list[str] = []
    chosen = set(matched)
    for index, entry in enumerate(entries):
        lines.append(_line(execution, entry, "✓" if index in chosen else ""))
        if matched and index == matched[-1]:
            lines.append(f"  ✗  expected {missing!r} next: not entered after this point")
    if not matched:
        lines.insert(0, f"  ✗  expected {missing!r} first: not entered")
    focus = next((i for i, text in enumerate(lines) if text.startswith("  ✗")), 0)
    raise StateAssertionError(
        f"path of {_thread_name(branch)} does not contain {want} in this order: {missing!r} was not entered"
        f"{after}{why}\n  path ({len(entries)} steps, virtual times; ✓ matched, ✗ where the expectation broke):\n"
        + "\n".join(_window(lines, focus)) + "\n" + render_execution_state(execution))


def assert_not_visited(execution: Execution, *steps: str) -> None:
    """Assert that no thread of the execution entered any of ``steps``."""
    __tracebackhide__ = True
    names = set(_check_names(execution, steps, "assert_not_visited"))
    entries = execution.step_entries
    visits = [index for index, entry in enumerate(entries) if entry.step in names]
    if not visits:
        return
    first = entries[visits[0]]
    seen = sorted({entries[index].step for index in visits})
    lines = [_line(execution, entry, "✗" if entry.step in names else "", thread=True) for entry in entries]
    raise StateAssertionError(
        f"{', '.join(repr(name) for name in seen)} {'was' if len(seen) == 1 else 'were'} entered "
        f"({len(visits)} time{'s' if len(visits) != 1 else ''}; first at entry #{first.entry_id}, "
        f"{_vt(execution._runtime, first.create_ns)}{', branch ' + first.branch if first.branch else ''})\n"
        f"  step entries of every thread (virtual times; ✗ a step that should not have been entered):\n"
        + "\n".join(_window(lines, visits[0])) + "\n" + render_execution_state(execution))


__all__ = ["assert_not_visited", "assert_path"]
