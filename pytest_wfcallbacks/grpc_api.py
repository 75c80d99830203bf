"""The Executions API over gRPC (optional extra ``grpc``), for the official ``ExecutionsClient``.

The Python ``google-cloud-workflows`` client speaks only gRPC. This module
serves the ``google.cloud.workflows.executions.v1.Executions`` service (create,
get, list, cancel) on a loopback port, built on the message types that package
ships: each call is turned into the equivalent REST request and answered by
`pytest_wfcallbacks.api`, so both transports share one implementation and the
same runtime routing. Point the client at it with an insecure channel::

    from google.cloud.workflows.executions_v1 import ExecutionsClient
    from google.cloud.workflows.executions_v1.services.executions.transports import ExecutionsGrpcTransport

    with serve_grpc(workflow_server) as grpc_server:
        channel = grpc.insecure_channel(grpc_server.target)
        client = ExecutionsClient(transport=ExecutionsGrpcTransport(channel=channel))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.cloud.workflows.executions_v1.types import executions as types
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from .api import handle_api_request
from .server import WorkflowServer

SERVICE = "google.cloud.workflows.executions.v1.Executions"

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
}


def _call_rest(server: WorkflowServer, method: str, path: str, context: Any, *,
               query: dict[str, str] | None = None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    builder = EnvironBuilder(method=method, path=path, query_string=query or {},
                             json=body if body is not None else None)
    try:
        try:
            response = handle_api_request(server, Request(builder.get_environ()))
        finally:
            builder.close()
    except Exception as exc:  # a bug of ours: recorded for check() and answered INTERNAL, never UNKNOWN
        server._record_error(method, path, None, exc)
        context.abort(grpc.StatusCode.INTERNAL, f"pytest-wfcallbacks server error: {exc!r}")
    if response is None:  # not an API path: no resource has that name
        context.abort(grpc.StatusCode.NOT_FOUND, f"no resource named {path[4:]!r}: names look like "
                      "projects/P/locations/L/workflows/W/executions/E")
    assert response is not None  # context.abort raised
    payload: dict[str, Any] = json.loads(response.get_data(as_text=True))
    if response.status_code != 200:
        error = payload.get("error", {})
        status = error.get("status") or _STATUS.get(response.status_code, "UNKNOWN")
        code = getattr(grpc.StatusCode, status, grpc.StatusCode.UNKNOWN)
        context.abort(code, str(error.get("message", "")))
    return payload


def _require(value: str, field: str, shape: str, context: Any) -> str:
    """The resource name a request carries; INVALID_ARGUMENT when it is empty, as the service answers."""
    if not value.strip("/"):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{field} is required: {shape}")
    return value


_EXECUTION_NAME = "projects/P/locations/L/workflows/W/executions/E"
_WORKFLOW_NAME = "projects/P/locations/L/workflows/W"


def _execution(payload: dict[str, Any]) -> types.Execution:
    message: types.Execution = types.Execution.from_json(json.dumps(payload), ignore_unknown_fields=True)
    return message


def _view(value: int) -> str:
    return {types.ExecutionView.BASIC: "BASIC", types.ExecutionView.FULL: "FULL"}.get(value, "")


class _Executions:
    """The service's four methods, each a REST call to `api.handle_api_request`."""

    def __init__(self, server: WorkflowServer) -> None:
        self.server = server

    def create(self, request: types.CreateExecutionRequest, context: Any) -> types.Execution:
        body = json.loads(types.Execution.to_json(request.execution, use_integers_for_enums=False,
                                                  always_print_fields_with_no_presence=False))
        parent = _require(request.parent, "parent", _WORKFLOW_NAME, context)
        return _execution(_call_rest(self.server, "POST", f"/v1/{parent}/executions", context, body=body))

    def get(self, request: types.GetExecutionRequest, context: Any) -> types.Execution:
        query = {"view": _view(request.view)} if _view(request.view) else {}
        name = _require(request.name, "name", _EXECUTION_NAME, context)
        return _execution(_call_rest(self.server, "GET", f"/v1/{name}", context, query=query))

    def cancel(self, request: types.CancelExecutionRequest, context: Any) -> types.Execution:
        name = _require(request.name, "name", _EXECUTION_NAME, context)
        return _execution(_call_rest(self.server, "POST", f"/v1/{name}:cancel", context, body={}))

    def list(self, request: types.ListExecutionsRequest, context: Any) -> types.ListExecutionsResponse:
        query = {key: value for key, value in (
            ("pageSize", str(request.page_size) if request.page_size else ""),
            ("pageToken", request.page_token),
            ("view", _view(request.view)),
            ("filter", request.filter),
            ("orderBy", request.order_by),
        ) if value}
        parent = _require(request.parent, "parent", _WORKFLOW_NAME, context)
        payload = _call_rest(self.server, "GET", f"/v1/{parent}/executions", context, query=query)
        return types.ListExecutionsResponse(
            executions=[_execution(item) for item in payload.get("executions", [])],
            next_page_token=payload.get("nextPageToken", ""),
        )


def _unary(method: Callable[[Any, Any], Any], request_type: Any, response_type: Any) -> Any:
    return grpc.unary_unary_rpc_method_handler(
        method, request_deserializer=request_type.deserialize, response_serializer=response_type.serialize)


class GrpcServer:
    """A gRPC server on 127.0.0.1 serving the Executions service for the runtimes of a `WorkflowServer`."""

    def __init__(self, server: WorkflowServer, port: int = 0, *, max_workers: int = 4) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port {port!r} is not a TCP port: use 0 to 65535 (0 picks a free one)")
        service = _Executions(server)
        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "CreateExecution": _unary(service.create, types.CreateExecutionRequest, types.Execution),
            "GetExecution": _unary(service.get, types.GetExecutionRequest, types.Execution),
            "CancelExecution": _unary(service.cancel, types.CancelExecutionRequest, types.Execution),
            "ListExecutions": _unary(service.list, types.ListExecutionsRequest, types.ListExecutionsResponse),
        })
        self._server = grpc.server(ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="wfcallbacks-grpc"))
        self._server.add_generic_rpc_handlers((handler,))
        self.port: int = self._server.add_insecure_port(f"127.0.0.1:{port}")
        if not self.port:
            raise OSError(f"could not bind the gRPC server to 127.0.0.1:{port}")
        self._server.start()
        self._closed = False

    @property
    def target(self) -> str:
        """``127.0.0.1:<port>``, for ``grpc.insecure_channel``."""
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        """Stop serving (in-flight calls get a moment to finish)."""
        if not self._closed:
            self._closed = True
            self._server.stop(grace=0.5).wait()

    def __enter__(self) -> GrpcServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_grpc(server: WorkflowServer, port: int = 0) -> GrpcServer:
    """Start the Executions gRPC service on loopback for the runtimes of ``server`` (close it when done)."""
    return GrpcServer(server, port)


__all__ = ["SERVICE", "GrpcServer", "serve_grpc"]
