"""The Executions API's ``stepEntries`` resource, served from an execution's step entries.

``GET .../executions/{id}/stepEntries`` lists them (``pageSize``, ``pageToken``,
``skip``, ``filter``, ``orderBy``, ``view``) and ``GET .../stepEntries/{entry}``
gets one, as the service's REST reference describes: entries are ordered by
ascending ``entryId`` unless ``orderBy`` says otherwise; the filter is AIP-160 over
``entryId``, ``createTime``, ``updateTime``, ``routine``, ``step``, ``stepType``,
``state`` and ``parent``; ``skip`` drops that many entries from where the page
(or the first page) starts. This engine records no variable values, so the
``DETAILED`` view returns what ``BASIC`` does.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from .api_common import ApiError, _bad, _not_found, format_timestamp
from .api_filter import FilterError, Predicate, compile_filter, ordered, parse_time, text_match
from .step_entries import STATES, STEP_TYPES, StepEntry
from .values import json_or_repr

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from .runtime import Execution

#: ``pageSize`` when none is given, and the most one page holds ("the default max is 1000").
DEFAULT_PAGE = 1000
_TEXT_FIELDS = ("routine", "step", "stepType", "state", "parent")
_ORDER_FIELDS = ("entryId", "createTime", "updateTime", "routine", "step", "stepType", "state")
_VIEWS = ("", "EXECUTION_ENTRY_VIEW_UNSPECIFIED", "EXECUTION_ENTRY_VIEW_BASIC", "EXECUTION_ENTRY_VIEW_DETAILED")


def step_entry_json(execution: Execution, entry: StepEntry) -> dict[str, Any]:
    """One entry as the service's JSON ``StepEntry`` (int64 ``entryId`` as a string, as proto3 JSON does)."""
    body: dict[str, Any] = {
        "name": f"{execution.name}/stepEntries/{entry.entry_id}",
        "createTime": format_timestamp(entry.create_ns),
        "updateTime": format_timestamp(entry.update_ns),
        "routine": entry.routine,
        "step": entry.step,
        "stepType": entry.step_type,
        "state": entry.state,
        "entryId": str(entry.entry_id),
    }
    if entry.exception is not None:
        body["exception"] = {"payload": json_or_repr(entry.exception)}
    if entry.branch is not None:
        body["stepEntryMetadata"] = {"threadId": entry.branch}
    return body


def _record(execution: Execution, entry: StepEntry) -> dict[str, Any]:
    return {"entryId": entry.entry_id, "createTime": entry.create_ns, "updateTime": entry.update_ns,
            "routine": entry.routine, "step": entry.step, "stepType": entry.step_type, "state": entry.state,
            "parent": execution.name}


def _restriction(member: str, op: str, value: str) -> Predicate:
    if member == "entryId":
        if op not in ("=", "!=", "<", "<=", ">", ">=", ":"):
            raise FilterError(f"entryId supports = != < <= > >=, not {op}")
        try:
            wanted = int(value)
        except ValueError:
            raise FilterError(f"entryId is a number, got {value!r}") from None
        return lambda record: ordered(op, record["entryId"], wanted)
    if member in ("createTime", "updateTime"):
        moment = parse_time(value)
        return lambda record: ordered(op, record[member], moment)
    if member not in _TEXT_FIELDS:
        raise FilterError(f"filtering step entries on {member!r} is not supported: use entryId, createTime, "
                          "updateTime, routine, step, stepType, state or parent")
    if op not in ("=", "!=", ":"):
        raise FilterError(f"{member} supports =, != and :, not {op}")
    if member == "state":
        # The reference's own example writes state="SUCCEEDED": the enum name without its prefix.
        if "STATE_" + value in STATES:
            value = "STATE_" + value
        if value not in STATES:
            raise FilterError(f"state {value!r} is not one of {', '.join(STATES)}")
    if member == "stepType":
        if "STEP_" + value in STEP_TYPES:
            value = "STEP_" + value
        if value not in STEP_TYPES:
            raise FilterError(f"stepType {value!r} is not one of {', '.join(STEP_TYPES)}")
    return lambda record: text_match(op, record[member], value)


def _sorted(entries: list[StepEntry], order_by: str) -> list[StepEntry]:
    keys = {"entryId": "entry_id", "createTime": "create_ns", "updateTime": "update_ns", "routine": "routine",
            "step": "step", "stepType": "step_type", "state": "state"}
    result = list(entries)
    clauses = [clause.split() for clause in order_by.split(",") if clause.strip()]
    for clause in reversed(clauses):
        if clause[0] not in _ORDER_FIELDS or len(clause) > 2 or (
                len(clause) == 2 and clause[1].lower() not in ("asc", "desc")):
            raise _bad(f"orderBy {' '.join(clause)!r} is not supported: use {', '.join(_ORDER_FIELDS)}, "
                       "optionally followed by asc or desc")
        attribute = keys[clause[0]]
        # Stable sorts, last clause first: ties keep entry order.
        result.sort(key=lambda entry, attribute=attribute: getattr(entry, attribute),  # type: ignore[misc]
                    reverse=len(clause) == 2 and clause[1].lower() == "desc")
    return result


def _int_arg(request: Request, name: str) -> int:
    text = request.args.get(name, "") or "0"
    try:
        number = int(text)
    except ValueError:
        raise _bad(f"{name} must be an integer, got {text!r}") from None
    if number < 0:
        raise _bad(f"{name} must not be negative, got {number}")
    return number


def _offset(token: str, total: int) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))["entries"]
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= total:
            raise ValueError(offset)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError, RecursionError):
        raise _bad(f"pageToken {token[:100]!r} is invalid: pass the nextPageToken of the previous page "
                   "(with the same filter and orderBy)") from None
    return offset


def step_entries_request(execution: Execution, request: Request, entry_id: str | None) -> tuple[int, Any]:
    """Answer ``stepEntries.list`` (``entry_id`` None) or ``stepEntries.get`` for one execution."""
    if request.method != "GET":
        # Google's front end answers a known path with an unknown HTTP method with 404.
        raise ApiError(404, "NOT_FOUND", f"{request.method} {request.path} is not an API method; use GET")
    view = request.args.get("view", "")
    if view not in _VIEWS:
        raise _bad(f"view {view!r} is invalid: use EXECUTION_ENTRY_VIEW_BASIC or EXECUTION_ENTRY_VIEW_DETAILED")
    entries = execution.step_entries
    if entry_id is not None:
        found = None
        if entry_id.isdigit():
            number = int(entry_id)
            found = next((entry for entry in entries if entry.entry_id == number), None)
        if found is None:
            raise _not_found(f"step entry {execution.name}/stepEntries/{entry_id} not found "
                             f"(the execution has entries 1 to {len(entries)})" if entries else
                             f"step entry {execution.name}/stepEntries/{entry_id} not found (no step entered yet)")
        return 200, step_entry_json(execution, found)
    text = request.args.get("filter", "")
    try:
        keep = compile_filter(text, _restriction)
    except FilterError as exc:
        raise _bad(f"filter {text[:200]!r} is not supported: {exc}") from None
    chosen = [entry for entry in _sorted(entries, request.args.get("orderBy", "")) if keep(_record(execution, entry))]
    size = min(_int_arg(request, "pageSize") or DEFAULT_PAGE, DEFAULT_PAGE)
    start = _offset(request.args.get("pageToken", ""), len(chosen)) + _int_arg(request, "skip")
    page = chosen[start:start + size]
    body: dict[str, Any] = {"stepEntries": [step_entry_json(execution, entry) for entry in page],
                            "totalSize": len(chosen)}
    if start + size < len(chosen):
        body["nextPageToken"] = base64.urlsafe_b64encode(json.dumps({"entries": start + size}).encode()).decode()
    return 200, body


__all__ = ["step_entries_request", "step_entry_json"]
