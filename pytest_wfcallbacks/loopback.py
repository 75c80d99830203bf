"""The plugin's own HTTP client for loopback requests (callbacks it sends, the workflows' calls to localhost).

Two reasons for a client of its own:

* speed: an ``httpx.Client`` per runtime builds an SSL context and loads the system
  certificates (about 28 ms) the first time it sends, even for plain HTTP. One client
  per process, keeping its loopback connections alive, costs that nothing;
* isolation: a test that mocks its own HTTP with respx (``respx_mock``, ``respx.mock`` as
  decorator or context) patches httpcore's connection pool and connections, or
  ``httpx.Client._transport_for_url`` (``using="httpx"``). The plugin's requests to its
  own server must reach it whatever the test mocks, so they go through httpcore's
  HTTP/1.1 connection objects directly (which respx does not patch), from a client
  class whose ``_transport_for_url`` is its own.

Only plain ``http://`` to loopback hosts goes this way; anything else is refused (the
callers route other URLs elsewhere).
"""

from __future__ import annotations

import atexit
import ipaddress
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

#: Idle keep-alive connections kept per origin, and origins kept (least recently used dropped).
MAX_IDLE_PER_ORIGIN = 8
MAX_ORIGINS = 8
_TIMEOUT = 30.0
#: httpcore writes the headers and the body separately: without TCP_NODELAY, Nagle's
#: algorithm and delayed ACKs can hold the body back for tens of milliseconds.
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.TimeoutException, httpx.TimeoutException),
)

_CORE_ERRORS: tuple[type[Exception], ...] = (*(core for core, _ in _ERRORS), httpcore.ConnectionNotAvailable, OSError)


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``*.localhost`` or a loopback IP address."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _mapped(exc: Exception, request: httpx.Request) -> httpx.HTTPError:
    for core_type, httpx_type in _ERRORS:
        if isinstance(exc, core_type):
            return httpx_type(str(exc), request=request)  # type: ignore[call-arg]
    return httpx.TransportError(str(exc), request=request)


def _core_request(request: httpx.Request, origin: httpcore.Origin, body: bytes) -> httpcore.Request:
    url = httpcore.URL(scheme=origin.scheme, host=origin.host, port=origin.port, target=request.url.raw_path)
    timeouts = request.extensions.get("timeout", {"connect": _TIMEOUT, "read": _TIMEOUT, "write": _TIMEOUT})
    return httpcore.Request(request.method.encode("ascii"), url, headers=request.headers.raw, content=body,
                            extensions={"timeout": timeouts})


def _origin(request: httpx.Request) -> httpcore.Origin:
    url = request.url
    if url.scheme != "http" or not is_loopback_host(url.host):
        raise httpx.UnsupportedProtocol(
            f"the plugin's loopback client sends plain http:// to loopback hosts only, not {url}", request=request)
    return httpcore.Origin(b"http", url.raw_host, url.port or 80)


def _response(request: httpx.Request, status: int, headers: Any, content: bytes, extensions: Any) -> httpx.Response:
    return httpx.Response(status, headers=headers, content=content, request=request,
                          extensions={key: value for key, value in extensions.items() if key != "network_stream"})


class LoopbackTransport(httpx.BaseTransport):
    """Keep-alive HTTP/1.1 to loopback over httpcore connections, thread-safe, bounded in idle connections."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()
        # Keyed by (host, port): httpcore.Origin is not hashable.
        self._idle: OrderedDict[tuple[bytes, int], list[httpcore.HTTP11Connection]] = OrderedDict()
        self._lock = threading.Lock()

    def _acquire(self, origin: httpcore.Origin, connect_timeout: float | None) -> httpcore.HTTP11Connection:
        with self._lock:
            idle = self._idle.get((origin.host, origin.port))
            while idle:
                connection = idle.pop()
                if connection.is_idle() and not connection.has_expired():
                    return connection
                connection.close()
        host = origin.host.decode("ascii").strip("[]")
        stream = self._backend.connect_tcp(host, origin.port, timeout=connect_timeout,
                                          socket_options=_SOCKET_OPTIONS)
        return httpcore.HTTP11Connection(origin, stream)

    def _release(self, origin: httpcore.Origin, connection: httpcore.HTTP11Connection) -> None:
        if not connection.is_idle():
            connection.close()
            return
        dropped: list[httpcore.HTTP11Connection] = []
        with self._lock:
            key = (origin.host, origin.port)
            idle = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(connection)
            else:
                dropped.append(connection)
            while len(self._idle) > MAX_ORIGINS:
                dropped.extend(self._idle.popitem(last=False)[1])
        for extra in dropped:
            extra.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        origin = _origin(request)
        body = request.read()
        core = _core_request(request, origin, body)
        connection: httpcore.HTTP11Connection | None = None
        try:
            connection = self._acquire(origin, core.extensions["timeout"].get("connect"))
            response = connection.handle_request(core)
            try:
                stream: Iterator[bytes] = iter(response.stream)  # type: ignore[arg-type]
                content = b"".join(stream)
            finally:
                response.close()
        except _CORE_ERRORS as exc:
            if connection is not None:
                connection.close()
            raise _mapped(exc, request) from exc
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        self._release(origin, connection)
        return _response(request, response.status, response.headers, content, response.extensions)

    def forget(self, host: str, port: int) -> None:
        """Close the idle connections to one server (it is closing)."""
        with self._lock:
            wanted = host.strip("[]")
            keys = [key for key in self._idle if key[1] == port and key[0].decode("ascii").strip("[]") == wanted]
            dropped = [self._idle.pop(key) for key in keys]
        for conns in dropped:
            for connection in conns:
                connection.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, OrderedDict()
        for conns in idle.values():
            for connection in conns:
                connection.close()


class AsyncLoopbackTransport(httpx.AsyncBaseTransport):
    """The async twin: one connection per request (a connection belongs to one event loop)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = _origin(request)
        body = await request.aread()
        core = _core_request(request, origin, body)
        host = origin.host.decode("ascii").strip("[]")
        try:
            stream = await httpcore.AnyIOBackend().connect_tcp(host, origin.port,
                                                               timeout=core.extensions["timeout"].get("connect"),
                                                               socket_options=_SOCKET_OPTIONS)
            connection = httpcore.AsyncHTTP11Connection(origin, stream)
            try:
                response = await connection.handle_async_request(core)
                try:
                    content = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
                finally:
                    await response.aclose()
            finally:
                await connection.aclose()
        except _CORE_ERRORS as exc:
            raise _mapped(exc, request) from exc
        return _response(request, response.status, response.headers, content, response.extensions)


class OwnClient(httpx.Client):
    """An httpx.Client that always uses its own transport, whatever respx patches.

    respx's ``using="httpx"`` mocker patches ``_transport_for_url`` on httpx.Client; a
    subclass's own method wins. The workflows' ``http.*`` client uses it too, so that
    only ``workflow_runtime.http`` answers them.
    """

    def _transport_for_url(self, url: httpx.URL) -> httpx.BaseTransport:
        return self._transport


class _AsyncClient(httpx.AsyncClient):
    def _transport_for_url(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        return self._transport


_shared_lock = threading.Lock()
_shared_transport: LoopbackTransport | None = None
_shared_client: httpx.Client | None = None


def transport() -> LoopbackTransport:
    """The process-wide loopback transport (created on first use)."""
    global _shared_transport
    with _shared_lock:
        if _shared_transport is None:
            _shared_transport = LoopbackTransport()
            atexit.register(_shared_transport.close)
        return _shared_transport


def client() -> httpx.Client:
    """The process-wide client for the plugin's own loopback requests (thread-safe, keep-alive)."""
    global _shared_client
    shared = transport()
    with _shared_lock:
        if _shared_client is None:
            _shared_client = OwnClient(transport=shared, timeout=_TIMEOUT, trust_env=False)
        return _shared_client


def async_client() -> httpx.AsyncClient:
    """A fresh async client on the async loopback transport (cheap: no TLS, no pool); close it after use."""
    return _AsyncClient(transport=AsyncLoopbackTransport(), timeout=_TIMEOUT, trust_env=False)


def forget_server(base_url: str) -> None:
    """Drop the idle connections to a server that is closing."""
    url = httpx.URL(base_url)
    if _shared_transport is not None and url.port is not None:
        _shared_transport.forget(url.host, url.port)
