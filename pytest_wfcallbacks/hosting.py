"""The facade's side of the host interface (interpreter/host.py): wiring, not behaviour.

`ExecutionHostImpl` and `RuntimeHostImpl` hand the engine and the effect modules what
they may use of an `Execution` and a `WorkflowRuntime`, each member one delegation;
the effects themselves live beside their layer (callbacks.py, outbound.py,
connectors.py). Only runtime.py builds these.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from .callbacks import Endpoint, await_callback, create_callback

if TYPE_CHECKING:
    import httpx

    from .interpreter.engine import Engine
    from .interpreter.host import ExecutionHost
    from .interpreter.threads import WorkflowThread
    from .runtime import Execution, WorkflowRuntime
    from .stdlib.registry import Registry


class ExecutionHostImpl:
    """`ExecutionHost` for one `Execution`: what the engine and its threads may use of it."""

    def __init__(self, execution: Execution) -> None:
        runtime = execution._runtime
        self._execution = execution
        self.id = execution.id
        self.facade = execution
        self.runtime: RuntimeHostImpl = runtime.host
        self.limits = runtime.settings.limits
        self.clock = runtime.clock
        self.record = execution._rec
        self.memory = execution._memory
        self.env = execution._env
        self.functions: Registry = runtime._registry
        self.endpoints = execution._endpoints
        self.engine: Engine
        # Bound methods, not wrappers: these run on every event, log and callback request.
        self.is_active: Callable[[], bool] = execution._is_active
        self.record_event: Callable[..., None] = execution._record

    def create_callback(self, th: WorkflowThread, method: str) -> dict[str, Any]:
        execution = self._execution
        return create_callback(self.runtime, self, th, method, execution._endpoints, execution._endpoints_by_url)

    def await_callback(self, th: WorkflowThread, callback: dict[str, Any], timeout: float) -> Generator[Any, Any, Any]:
        execution = self._execution
        return await_callback(self.runtime, self, th, callback, timeout, execution._endpoints_by_url,
                              execution._next_await_seq)

    def http_request(self, th: WorkflowThread, request: dict[str, Any]) -> Generator[Any, Any, Any]:
        return self._execution._runtime._http.request(th, request)

    def call_connector(self, th: WorkflowThread, target: str, args: Any) -> Generator[Any, Any, Any]:
        return self._execution._runtime.connectors.dispatch(th, target, args)

    def call_connector_now(self, th: WorkflowThread, name: str, args: dict[str, Any]) -> Any:
        return self._execution._runtime.connectors.dispatch_now(th, name, args)

    def fake_subworkflow(self, th: WorkflowThread, name: str,
                         params: dict[str, Any]) -> Generator[Any, Any, Any] | None:
        execution = self._execution
        return execution._runtime.subworkflows.dispatch(th, execution.workflow.name, name, params)

    def log(self, th: WorkflowThread, severity: str, payload: Any) -> None:
        self._execution._log(th, severity, payload)

    def when_ended(self, hook: Callable[[], None]) -> None:
        self._execution._when_ended(hook)


class RuntimeHostImpl:
    """`RuntimeHost` for one `WorkflowRuntime`: what callback answers, outbound HTTP and connectors use."""

    def __init__(self, runtime: WorkflowRuntime) -> None:
        self._runtime = runtime
        self.settings = runtime.settings
        self.clock = runtime.clock
        self.kernel = runtime._kernel
        self.server_errors = runtime._server_errors

    @property
    def base_url(self) -> str:
        return self._runtime.base_url

    def new_id(self) -> str:
        return self._runtime._uuid()

    def execution(self, execution_id: str) -> ExecutionHost | None:
        found = self._runtime._executions_by_id.get(execution_id)
        return None if found is None else found._host

    def endpoint_for_url(self, url: str) -> Endpoint | None:
        return self._runtime._endpoint_for_url(url)

    def workflow_names(self) -> list[str]:
        return list(self._runtime._workflows)

    def start_child(self, workflow_name: str, argument: Any) -> ExecutionHost:
        return self._runtime.start(self._runtime._workflows[workflow_name], argument)._host

    def after(self, seconds: float, action: Callable[[], Any], *, label: str | None = None) -> None:
        self._runtime.after(seconds, action, label=label)

    def send_loopback(self, args: dict[str, Any]) -> httpx.Response:
        return self._runtime._send_http(args)


__all__ = ["ExecutionHostImpl", "RuntimeHostImpl"]
