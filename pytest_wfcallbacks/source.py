"""Loading workflow sources: YAML or JSON files, text, or parsed data, with line and column kept.

YAML is read with a safe loader whose implicit types follow Workflows, not
YAML 1.1: only ``true/false/True/False/TRUE/FALSE`` are booleans (``yes``,
``no``, ``on``, ``off`` stay strings, docs/decisions.md #27) and dates stay strings.
Every mapping and sequence comes back as `MarkedDict` / `MarkedList`, plain
``dict`` / ``list`` subclasses that remember where each key and item started,
so deploy-time errors can point at ``file:line:column``. JSON is read by the
same loader (JSON is YAML), so JSON files get positions too.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import Location, WorkflowSyntaxError

Mark = tuple[int, int]  # 1-based line, 1-based column


class MarkedDict(dict[str, Any]):
    """A mapping from the source, with the position of each key and value."""

    start: Mark = (0, 0)
    key_marks: dict[str, Mark]
    value_marks: dict[str, Mark]

    def __init__(self) -> None:
        super().__init__()
        self.key_marks = {}
        self.value_marks = {}


class MarkedList(list[Any]):
    """A sequence from the source, with the position of each item."""

    start: Mark = (0, 0)
    item_marks: list[Mark]

    def __init__(self) -> None:
        super().__init__()
        self.item_marks = []


class _Resolver(yaml.resolver.Resolver):
    """YAML 1.1 implicit resolvers minus bool/timestamp/value, plus Workflows booleans."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (
        "tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,
    _Resolver,
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)

    def scan_plain(self) -> yaml.ScalarToken:
        """Let ``${...}`` with braces, commas and colons stand unquoted inside flow collections.

        Plain YAML ends a scalar at ``{``, ``}`` or ``,`` inside ``{...}`` and ``[...]``, so
        ``args: {n: ${n - 1}}`` would not parse; the service's samples write it that way, so
        a whole balanced ``${...}`` is read as one scalar there.
        """
        if self.flow_level and self.peek() == "$" and self.peek(1) == "{":
            start_mark = self.get_mark()
            depth = 0
            index = 0
            quote = ""
            while True:
                ch = self.peek(index)
                if ch in "\0\r\n\x85\u2028\u2029":
                    break
                if quote:
                    if ch == "\\":
                        index += 2
                        continue
                    if ch == quote:
                        quote = ""
                elif ch in "\"'":
                    quote = ch
                elif ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                    if depth == 0:
                        index += 1
                        value = self.prefix(index)
                        self.forward(index)
                        self.allow_simple_key = False
                        return yaml.ScalarToken(value, True, start_mark, self.get_mark())
                index += 1
        return super().scan_plain()


def _mark(node: yaml.Node) -> Mark:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Any:
    result = MarkedDict()
    result.start = _mark(node)
    yield result
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            # Workflows maps have string keys; YAML `1: x` or `true: x` keys become strings.
            key = "null" if key is None else ("true" if key is True else "false" if key is False else str(key))
        if key in result:
            line, column = _mark(key_node)
            raise WorkflowSyntaxError(
                f"duplicate key {key!r} in a mapping; each key may appear once",
                Location(getattr(loader, "_wf_file", "<workflow>"), line, column),
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_marks[key] = _mark(key_node)
        result.value_marks[key] = _mark(value_node)


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> Any:
    result = MarkedList()
    result.start = _mark(node)
    yield result
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_marks.append(_mark(item))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)  # type: ignore[type-var]
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)  # type: ignore[type-var]


@dataclass(frozen=True)
class Source:
    """A loaded definition: the data plus where it came from."""

    data: Any
    file: str
    text: str | None

    def line_text(self, line: int) -> str:
        """The text of a 1-based line ('' when unknown)."""
        if not self.text or line <= 0:
            return ""
        lines = self.text.splitlines()
        return lines[line - 1] if line <= len(lines) else ""


_SOURCE_SUFFIXES = (".yaml", ".yml", ".json")


def looks_like_path(source: Any) -> bool:
    """A path object, or a one-line string ending in .yaml/.yml/.json."""
    if isinstance(source, os.PathLike):
        return True
    return isinstance(source, str) and "\n" not in source and source.strip().lower().endswith(_SOURCE_SUFFIXES)


def parse_text(text: str, file: str = "<workflow>") -> Any:
    """Parse YAML or JSON text into marked data; syntax errors carry line and column."""
    loader = _Loader(text)
    loader._wf_file = file  # type: ignore[attr-defined]
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = ""
        if "'\\t'" in problem or "\t" in problem:
            hint = "; indent with spaces, not tabs (YAML does not allow tabs in indentation)"
        elif "mapping values are not allowed" in problem or "found character" in problem:
            hint = "; quote expressions that contain ': ' or start with special characters, e.g. '${\"a: \" + b}'"
        raise WorkflowSyntaxError(f"YAML/JSON syntax error: {problem}{hint}", Location(file, line, column)) from None
    except yaml.YAMLError as exc:
        raise WorkflowSyntaxError(f"YAML/JSON syntax error: {exc}", Location(file)) from None
    finally:
        loader.dispose()


def check_strict_json(text: str, file: str) -> None:
    """A ``.json`` file must be JSON, not merely YAML (trailing commas, comments, single quotes).

    The YAML loader reads JSON too (and keeps positions), but it forgives what a deploy of
    a JSON definition rejects; this check runs the strict parser first.
    """
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowSyntaxError(f"JSON syntax error: {exc.msg}", Location(file, exc.lineno, exc.colno)) from None


def load_source(source: Any) -> Source:
    """Turn a path, YAML/JSON text or parsed data into a `Source`."""
    if looks_like_path(source):
        path = Path(source)
        if not path.is_file():
            raise WorkflowSyntaxError(
                f"workflow file not found: {path} (paths are relative to the current directory {Path.cwd()})",
                Location(str(path)),
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkflowSyntaxError(f"cannot read the workflow file: {exc}", Location(str(path))) from None
        if path.suffix.lower() == ".json":
            check_strict_json(text, str(path))
        return Source(parse_text(text, str(path)), str(path), text)
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    if isinstance(source, str):
        return Source(parse_text(source), "<workflow>", source)
    if isinstance(source, (dict, list)):
        return Source(source, "<workflow>", None)
    raise WorkflowSyntaxError(
        f"cannot load a workflow from a {type(source).__name__}: pass a path (.yaml, .yml, .json), "
        "YAML/JSON text, or parsed data (dict or list)"
    )


def mark_of(container: Any, key: Any) -> Mark:
    """Position of ``container[key]`` when the container is marked, else (0, 0)."""
    if isinstance(container, MarkedDict):
        return container.value_marks.get(key, container.start)
    if isinstance(container, MarkedList) and isinstance(key, int) and key < len(container.item_marks):
        return container.item_marks[key]
    return (0, 0)


def key_mark_of(container: Any, key: Any) -> Mark:
    """Position of the key itself in a marked mapping."""
    if isinstance(container, MarkedDict):
        return container.key_marks.get(key, container.start)
    return (0, 0)


def start_of(container: Any) -> Mark:
    """Where a marked container starts."""
    return getattr(container, "start", (0, 0))
