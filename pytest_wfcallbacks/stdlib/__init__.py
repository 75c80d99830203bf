"""The Workflows standard library: one module per namespace, all registered in `REGISTRY`."""

from __future__ import annotations

import importlib

from .registry import REGISTRY, CallContext, Function, FunctionRef, Param, Registry, param

_MODULES = (
    "helpers",
    "textlib",
    "encoding",
    "containers",
    "mathlib",
    "timelib",
    "uuidlib",
    "retrylib",
    "syslib",
    "events",
    "httplib",
)

_loaded = False


def load_all() -> Registry:
    """Import every namespace module once (each registers itself) and return the registry."""
    global _loaded
    if not _loaded:
        for name in _MODULES:
            importlib.import_module(f"{__name__}.{name}")
        _loaded = True
    return REGISTRY


__all__ = ["REGISTRY", "CallContext", "Function", "FunctionRef", "Param", "Registry", "load_all", "param"]
