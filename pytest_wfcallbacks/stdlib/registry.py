"""The function registry: every standard-library function with a declared signature.

As in jmespath, arity and type checks happen here, in one place, so every
function reports a wrong call with the same kind of message:

* wrong number of arguments, unknown or missing named argument, or an argument
  of a type the signature does not accept -> ``TypeError``;
* the right type but a bad value -> ``ValueError`` (raised by the function).

Functions are registered with `Registry.function` as plain Python callables
that take already-checked Workflows values. A function that needs the running
execution (clock, seeded random source, settings) declares ``context=True`` and
receives a `CallContext` first. Blocking functions (``sys.sleep``,
``events.await_callback``, ``http.*``...) are generator functions that
``yield from`` the context's effects; they may only be called from call steps.

Names that are values rather than functions (``retry.default_backoff``,
``http.default_retry``) are registered with `Registry.constant`. A function used
as a value (``${retry.always}``) evaluates to a `FunctionRef`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import type_error
from ..values import type_name

#: Workflows type names accepted by `Param.types` (see `values.type_name`), plus
#: ``"number"`` (integer or double) and ``"any"``.
TYPE_NAMES = frozenset(
    {"boolean", "bytes", "double", "integer", "list", "map", "null", "string", "number", "any", "function"}
)


class CallContext(Protocol):
    """What a standard-library function may ask of the execution that calls it."""

    @property
    def kernel(self) -> Any:
        """The runtime kernel; functions read ``kernel.settings.limits`` from it."""
        ...

    @property
    def random(self) -> random.Random:
        """The runtime's seeded random source (uuid, callback ids)."""
        ...

    def now(self) -> float:
        """Virtual time, seconds since the Unix epoch."""
        ...

    def get_env(self, name: str) -> str | None:
        """A built-in or user environment variable, None when unset."""
        ...

    def sleep(self, seconds: float) -> Generator[Any, Any, None]:
        """Block on the virtual clock (blocking functions only)."""
        ...

    def create_callback(self, method: str) -> dict[str, Any]:
        """Create a callback endpoint and return ``{"url": ...}``."""
        ...

    def await_callback(self, callback: dict[str, Any], timeout: float) -> Generator[Any, Any, Any]:
        """Wait for a request on an endpoint (blocking functions only)."""
        ...

    def log(self, severity: str, payload: Any) -> None:
        """Record a log entry."""
        ...

    def http_request(self, request: dict[str, Any]) -> Generator[Any, Any, Any]:
        """Perform an outbound HTTP request (blocking functions only)."""
        ...


_REQUIRED: Any = object()


@dataclass(frozen=True)
class Param:
    """One declared parameter: its name, accepted types and default."""

    name: str
    types: tuple[str, ...] = ("any",)
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        """True when the caller must pass this argument."""
        return self.default is _REQUIRED

    def accepts(self, value: Any) -> bool:
        """Whether a value's Workflows type is one of `types`."""
        if "any" in self.types:
            return True
        name = type_name(value)
        if name in self.types:
            return True
        if name == "function" or isinstance(value, FunctionRef):
            return "function" in self.types
        return "number" in self.types and name in ("integer", "double")


def param(name: str, *types: str, default: Any = _REQUIRED) -> Param:
    """Shorthand: ``param("source", "string")``, ``param("indent", "boolean", "map", default=None)``."""
    for kind in types:
        if kind not in TYPE_NAMES:
            raise ValueError(f"unknown type name {kind!r} for parameter {name!r}")
    return Param(name, tuple(types) or ("any",), default)


@dataclass(frozen=True)
class Function:
    """A registered standard-library function."""

    name: str
    params: tuple[Param, ...]
    impl: Callable[..., Any]
    blocking: bool = False
    context: bool = False
    #: True when the result never shares a list or map with an argument, so the
    #: interpreter need not copy it on assignment.
    fresh: bool = True
    #: Extra positional arguments beyond `params` (none of the current functions).
    variadic: bool = False
    #: For functions that can multiply sizes (``text.replace_all``): the length in characters
    #: of the string the checked arguments would build, so the interpreter refuses a result
    #: past the string limit before allocating it (a 128 KB ``replace_all`` can ask for 17 G).
    result_chars: Callable[..., int] | None = None

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names in positional order."""
        return tuple(p.name for p in self.params)

    def bind_positional(self, args: Sequence[Any]) -> list[Any]:
        """Check a positional call; return the full argument list with defaults filled."""
        if len(args) > len(self.params):
            raise type_error(
                f"{self.name}() takes at most {len(self.params)} argument"
                f"{'' if len(self.params) == 1 else 's'} ({len(args)} given)"
            )
        return self._complete(list(args))

    def bind_named(self, args: Mapping[str, Any]) -> list[Any]:
        """Check a call step's ``args`` map; return the positional argument list."""
        names = self.param_names
        for key in args:
            if key not in names:
                expected = ", ".join(names) or "no arguments"
                raise type_error(f"{self.name}() got an unexpected argument {key!r} (expected: {expected})")
        return self._complete([args.get(spec.name, _MISSING) for spec in self.params])

    def _complete(self, bound: list[Any]) -> list[Any]:
        out: list[Any] = []
        for index, spec in enumerate(self.params):
            if index < len(bound) and bound[index] is not _MISSING:
                value = bound[index]
                if value is None and not spec.required:
                    # An explicit null for an optional argument means "use the default".
                    out.append(spec.default)
                    continue
                if not spec.accepts(value):
                    allowed = " or ".join(spec.types)
                    raise type_error(
                        f"{self.name}(): argument {spec.name!r} must be {allowed}, got {type_name(value)}"
                    )
                out.append(value)
            elif spec.required:
                raise type_error(f"{self.name}() is missing the required argument {spec.name!r}")
            else:
                out.append(spec.default)
        return out


_MISSING: Any = object()


@dataclass(frozen=True)
class FunctionRef:
    """A function used as a value, e.g. ``${retry.always}`` or a predicate subworkflow name."""

    name: str
    subworkflow: bool = False


@dataclass
class Registry:
    """Functions and constants by dotted name."""

    functions: dict[str, Function] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)

    def function(
        self,
        name: str,
        *params: Param,
        blocking: bool = False,
        context: bool = False,
        fresh: bool = True,
        result_chars: Callable[..., int] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``impl`` under ``name`` with the given signature."""

        def register(impl: Callable[..., Any]) -> Callable[..., Any]:
            if name in self.functions:
                raise ValueError(f"function {name} registered twice")
            self.functions[name] = Function(name, tuple(params), impl, blocking, context, fresh,
                                            result_chars=result_chars)
            return impl

        return register

    def constant(self, name: str, value: Any) -> None:
        """Register a named value such as ``retry.default_backoff``."""
        self.constants[name] = value

    def get(self, name: str) -> Function | None:
        """The function called ``name``, or None."""
        return self.functions.get(name)

    def is_module(self, name: str) -> bool:
        """Whether ``name`` is a module prefix (``text``, ``http``...)."""
        prefix = name + "."
        return any(key.startswith(prefix) for key in self.functions) or any(
            key.startswith(prefix) for key in self.constants
        )


#: The one registry every module registers into (filled by `stdlib.load_all`).
REGISTRY = Registry()
