"""The ``retry`` module: the ``retry.always`` / ``retry.never`` predicates and ``retry.default_backoff``."""

from __future__ import annotations

from typing import Any

from .registry import REGISTRY, param

#: The documented default backoff policy (docs/semantics.md §4.11).
DEFAULT_BACKOFF: dict[str, Any] = {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25}

REGISTRY.constant("retry.default_backoff", DEFAULT_BACKOFF)


@REGISTRY.function("retry.always", param("exception"))
def always(exception: Any) -> bool:
    """Retry predicate that retries every error."""
    return True


@REGISTRY.function("retry.never", param("exception"))
def never(exception: Any) -> bool:
    """Retry predicate that retries no error."""
    return False


__all__ = ["DEFAULT_BACKOFF", "always", "never"]
