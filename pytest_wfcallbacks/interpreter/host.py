"""The host interface: what an execution offers the engine, and what a runtime offers the effects.

The interpreter (engine, scheduler, threads), the effect modules (``callbacks.py``,
``outbound.py``, ``connectors.py``) and the standard library never see the facade
(``runtime.py``): they are handed an `ExecutionHost` (one per execution) and a
`RuntimeHost` (one per runtime), which the facade implements. This keeps the layers
one-way, as an interpreter gets its options and function table passed in: the engine
can be read, tested and changed without `WorkflowRuntime`, and a new capability adds a
member here instead of a reach into the facade's private fields.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx

    from ..callbacks import Endpoint
    from ..clock import VirtualClock
    from ..history import EventKind
    from ..record import ExecutionRecord
    from ..settings import Limits, Settings
    from ..stdlib.registry import Registry
    from .engine import Engine
    from .scheduler import Kernel
    from .threads import MemoryMeter, WorkflowThread


class ExecutionHost(Protocol):
    """What one execution offers the engine: limits, clock, its record, and the effects it may ask for."""

    @property
    def id(self) -> str:
        """The execution id."""

    @property
    def facade(self) -> Any:
        """The public `Execution` (handed to user code: `ConnectorCall.execution`, `Callback.execution`)."""

    @property
    def limits(self) -> Limits:
        """The runtime's limits."""

    @property
    def clock(self) -> VirtualClock:
        """The runtime's virtual clock."""

    @property
    def record(self) -> ExecutionRecord:
        """What the run leaves behind; the engine appends to it."""

    @property
    def memory(self) -> MemoryMeter:
        """The execution's variable-memory budget."""

    @property
    def env(self) -> Mapping[str, str]:
        """``sys.get_env`` values."""

    @property
    def functions(self) -> Registry:
        """The standard library."""

    @property
    def engine(self) -> Engine:
        """The engine running this execution's definition."""

    @property
    def runtime(self) -> RuntimeHost:
        """The runtime the execution runs on."""

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        """The callback endpoints this execution created, by id (creation order)."""

    def is_active(self) -> bool:
        """True until the execution has its final state."""

    def record_event(self, kind: EventKind, th: WorkflowThread | None, **details: Any) -> None:
        """Append a history event at virtual now (on ``th``'s branch and step)."""

    def create_callback(self, th: WorkflowThread, method: str) -> dict[str, Any]:
        """``events.create_callback_endpoint``: a new endpoint; returns ``{"url": ...}``."""

    def await_callback(self, th: WorkflowThread, callback: dict[str, Any], timeout: float) -> Generator[Any, Any, Any]:
        """``events.await_callback``: a generator the thread yields from; returns the request."""

    def http_request(self, th: WorkflowThread, request: dict[str, Any]) -> Generator[Any, Any, Any]:
        """An ``http.*`` call, answered by the runtime's mock router."""

    def call_connector(self, th: WorkflowThread, target: str, args: Any) -> Generator[Any, Any, Any]:
        """A ``googleapis.*`` / ``experimental.executions.*`` call step."""

    def call_connector_now(self, th: WorkflowThread, name: str, args: dict[str, Any]) -> Any:
        """A connector helper called inside an expression (never blocks)."""

    def fake_subworkflow(self, th: WorkflowThread, name: str,
                         params: dict[str, Any]) -> Generator[Any, Any, Any] | None:
        """A call to subworkflow ``name`` with bound ``params``: the generator of the test's fake that
        answers it (the thread yields from it), or None to run the subworkflow's steps."""

    def log(self, th: WorkflowThread, severity: str, payload: Any) -> None:
        """``sys.log``."""

    def when_ended(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` (under the kernel lock) once the execution has its final state; now if it has."""


class RuntimeHost(Protocol):
    """What a runtime offers the effect modules (callback answers, outbound HTTP, connectors)."""

    @property
    def settings(self) -> Settings:
        """The effective settings."""

    @property
    def clock(self) -> VirtualClock:
        """The virtual clock."""

    @property
    def kernel(self) -> Kernel:
        """Threads, run queue and the runtime lock."""

    @property
    def base_url(self) -> str:
        """The loopback server's base URL."""

    @property
    def server_errors(self) -> list[str]:
        """Errors raised on the server thread, for `WorkflowRuntime.check`."""

    def new_id(self) -> str:
        """A seeded UUID4 string."""

    def execution(self, execution_id: str) -> ExecutionHost | None:
        """An execution of this runtime by id."""

    def endpoint_for_url(self, url: str) -> Endpoint | None:
        """The endpoint with this URL in any execution of this runtime."""

    def workflow_names(self) -> list[str]:
        """Names of the deployed workflows."""

    def start_child(self, workflow_name: str, argument: Any) -> ExecutionHost:
        """Start an execution of a deployed workflow (raises `WfCallbacksError` for a bad argument)."""

    def after(self, seconds: float, action: Callable[[], Any], *, label: str | None = None) -> None:
        """Run ``action()`` ``seconds`` of virtual time from now."""

    def send_loopback(self, args: dict[str, Any]) -> httpx.Response:
        """Send one real HTTP request (``httpx`` ``request`` arguments) on the runtime's client."""


class HostOwner(Protocol):
    """Something that has a `RuntimeHost` (the `WorkflowRuntime` the server routes a request to)."""

    @property
    def host(self) -> RuntimeHost:
        """The runtime's host interface."""


__all__ = ["ExecutionHost", "HostOwner", "RuntimeHost"]
