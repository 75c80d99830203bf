"""The ``uuid`` module: ``uuid.generate()`` from the runtime's seeded random source (docs/decisions.md #29)."""

from __future__ import annotations

import uuid

from .registry import REGISTRY, CallContext


@REGISTRY.function("uuid.generate", context=True)
def generate(ctx: CallContext) -> str:
    """A random version-4 UUID such as ``"1b4e28ba-2fa1-4d2e-883f-0016d3cca427"``.

    The bits come from ``ctx.random``, so runtimes with the same seed produce the same ids.
    """
    return str(uuid.UUID(int=ctx.random.getrandbits(128), version=4))


__all__ = ["generate"]
