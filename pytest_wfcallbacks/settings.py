"""Runtime settings and limits, with the documented defaults (README, docs/decisions.md #23)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

#: The instant every virtual clock starts at unless a test sets ``start_time`` (docs/decisions.md #28).
DEFAULT_START_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Limits:
    """Service limits, each enforced and each a named setting (docs/decisions.md #23)."""

    steps: int = 100_000
    call_depth: int = 20
    parallel_nesting: int = 2
    branches_min: int = 2
    branches_max: int = 10
    concurrent_branches: int = 20
    assign_items: int = 50
    switch_conditions: int = 50
    subworkflow_params: int = 10
    memory_bytes: int = 512 * 1024
    string_bytes: int = 256 * 1024
    sleep_seconds: float = 31_536_000
    execution_seconds: float = 31_536_000
    await_timeout_default: float = 43_200.0
    argument_bytes: int = 512 * 1024
    callback_body_bytes: int = 1024 * 1024
    http_response_bytes: int = 2 * 1024 * 1024
    #: Characters of one ``${...}`` expression, delimiters included (checked at deploy).
    expression_length: int = 400
    #: History events one execution keeps (not a service limit: it bounds the double's memory);
    #: past it the oldest after the start are dropped behind a ``record truncated`` marker.
    record_entries: int = 100_000

    def replace(self, **changes: Any) -> Limits:
        """A copy with some limits changed; unknown names raise TypeError."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            names = ", ".join(sorted(f.name for f in dataclasses.fields(self)))
            raise TypeError(f"unknown limit(s) {', '.join(sorted(unknown))}; known limits: {names}")
        return dataclasses.replace(self, **changes)


CallbackAuth = str | Callable[[Mapping[str, str]], int | bool | None] | None


@dataclass(frozen=True)
class Settings:
    """The effective settings of a `WorkflowRuntime`; one attribute per setting."""

    seed: int = 0
    start_time: datetime = DEFAULT_START_TIME
    project: str = "test-project"
    project_number: str = "123456789012"
    location: str = "us-central1"
    service_account: str = "workflows-test@test-project.iam.gserviceaccount.com"
    env: Mapping[str, str] = field(default_factory=dict)
    callback_auth: CallbackAuth = None
    implicit_string_concat: bool = False
    limits: Limits = field(default_factory=Limits)
    auto_advance: bool = True
    schedule: str = "ordered"
    real_time_budget: float = 30.0
    #: Async drives only: wall seconds to wait, before moving virtual time, for other tasks on
    #: the test's event loop (an async service about to send a callback) to show activity.
    async_settle: float = 0.1
    check_at_teardown: bool = True

    def __post_init__(self) -> None:
        # Each setting is checked here, where it is given, so a wrong type is a TypeError that names
        # the setting instead of an AttributeError from deep inside a later deploy or drive.
        for name in ("project", "project_number", "location", "service_account"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string, got {getattr(self, name)!r}")
        for name in ("implicit_string_concat", "auto_advance", "check_at_teardown"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("real_time_budget", "async_settle"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TypeError(f"{name} must be a number of seconds, got {value!r}")
        if self.async_settle < 0:
            raise ValueError(f"async_settle must not be negative, got {self.async_settle!r}")
        if not isinstance(self.limits, Limits):
            raise TypeError(f"limits must be a dict of limit names to values (or a Limits), got {self.limits!r}")
        if not isinstance(self.start_time, datetime):
            raise TypeError(f"start_time must be a datetime, an ISO 8601 string or epoch seconds, "
                            f"got {self.start_time!r}")
        if not isinstance(self.env, Mapping):
            raise TypeError(f"env must be a dict of names to strings, got {self.env!r}")
        if self.schedule not in ("ordered", "random"):
            raise ValueError(f"schedule must be 'ordered' or 'random', got {self.schedule!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise TypeError(f"seed must be an int, got {self.seed!r}")
        if self.start_time.tzinfo is None:
            raise ValueError("start_time must be timezone-aware (e.g. datetime(2026, 1, 1, tzinfo=timezone.utc))")
        if self.real_time_budget <= 0:
            raise ValueError("real_time_budget must be a positive number of seconds")
        for key, value in self.env.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"env values must be strings: {key!r}: {value!r}")
            if not key or key.startswith(("GOOGLE_", "WORKFLOWS_")):
                raise ValueError(
                    f"env variable names must be non-empty and not start with GOOGLE_ or WORKFLOWS_: {key!r}")


SETTING_NAMES = tuple(f.name for f in dataclasses.fields(Settings))


def make_settings(base: Settings | None = None, **overrides: Any) -> Settings:
    """Settings from defaults (or ``base``) and keyword overrides; ``limits`` may be a dict."""
    unknown = set(overrides) - set(SETTING_NAMES)
    if unknown:
        import difflib

        hints = [f"{name!r} (did you mean {close[0]!r}?)"
                 if (close := difflib.get_close_matches(name, SETTING_NAMES, 1)) else repr(name)
                 for name in sorted(unknown)]
        raise TypeError(
            f"unknown workflow_runtime setting(s): {', '.join(hints)}; known settings: {', '.join(SETTING_NAMES)}"
        )
    current = base or Settings()
    limits = overrides.get("limits")
    if "limits" in overrides and limits is None:
        del overrides["limits"]  # None, like leaving it out: the current limits
    elif isinstance(limits, Mapping):
        overrides["limits"] = current.limits.replace(**limits)
    start = overrides.get("start_time")
    if isinstance(start, str):
        overrides["start_time"] = datetime.fromisoformat(start.replace("Z", "+00:00"))
    elif isinstance(start, (int, float)) and not isinstance(start, bool):
        overrides["start_time"] = datetime.fromtimestamp(start, tz=timezone.utc)
    if "env" in overrides and overrides["env"] is None:
        overrides["env"] = {}
    return dataclasses.replace(current, **overrides)
