"""Deploying the same text twice gives the same frozen definition, without parsing it again.

A suite deploys the same few workflow files in every test, each time in a fresh runtime.
The definition is frozen and depends only on the text, the file name it is reported
under, the function registry and the limits, so it is cached on exactly those, for the
whole process (every runtime of the session), least recently used first out. A file is
read again on every deploy and compared by its text, so an edited file is parsed again.
Errors are not cached: a broken file is validated (and reported) on every deploy.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .definition import Definition, build_definition
from .errors import Location, WorkflowSyntaxError
from .settings import Limits
from .source import Source, check_strict_json, load_source, looks_like_path, parse_text, read_source_file
from .stdlib import Registry

#: Definitions kept, and the total source text they may hold (characters).
MAX_ENTRIES = 256
MAX_TOTAL_CHARS = 32 * 1024 * 1024

_Key = tuple[str, str, int, Limits]


class DeployCache:
    """A bounded LRU of frozen definitions keyed by (file, text, registry, limits)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_total_chars: int = MAX_TOTAL_CHARS) -> None:
        self.max_entries = max_entries
        self.max_total_chars = max_total_chars
        self._entries: OrderedDict[_Key, Definition] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        #: Counters, for tests and the bench: definitions served from the cache, and parsed.
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every definition."""
        with self._lock:
            self._entries.clear()
            self._chars = 0

    def definition(self, source: Any, registry: Registry, limits: Limits) -> Definition:
        """The definition of a path, text or data source: cached for paths and text."""
        if looks_like_path(source):
            path = Path(source)
            text = read_source_file(path)
            return self._cached(str(path), text, registry, limits, json_file=path.suffix.lower() == ".json")
        if isinstance(source, str):
            return self._cached("<workflow>", source, registry, limits, json_file=False)
        # Parsed data may be changed by the caller after the deploy: never cached.
        return _build(load_source(source), registry, limits)

    def _cached(self, file: str, text: str, registry: Registry, limits: Limits, *, json_file: bool) -> Definition:
        key: _Key = (file, text, id(registry), limits)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
        if json_file:
            check_strict_json(text, file)
        definition = _build(Source(parse_text(text, file), file, text), registry, limits)
        with self._lock:
            self.misses += 1
            if key not in self._entries and len(text) <= self.max_total_chars:
                self._entries[key] = definition
                self._chars += len(text)
                while len(self._entries) > self.max_entries or self._chars > self.max_total_chars:
                    old_key, _ = self._entries.popitem(last=False)
                    self._chars -= len(old_key[1])
        return definition


def _build(source: Source, registry: Registry, limits: Limits) -> Definition:
    try:
        return build_definition(source, registry, limits)
    except RecursionError:
        # Nesting is bounded when the text is read; an expression nested thousands of
        # parentheses deep is the one thing left, and it still gets a deploy error.
        raise WorkflowSyntaxError("the definition nests too deeply (an expression or value thousands of levels "
                                  "deep); flatten it", Location(source.file)) from None


#: The process-wide cache every runtime deploys through.
CACHE = DeployCache()


def deploy_definition(source: Any, registry: Registry, limits: Limits) -> Definition:
    """Load and validate ``source`` like a deploy does, through the process-wide cache."""
    return CACHE.definition(source, registry, limits)
