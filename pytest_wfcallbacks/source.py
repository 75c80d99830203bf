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
from .yaml_errors import error_mark, explain_reader_error, explain_yaml_error

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


#: The service's source size limit (docs/semantics.md, quotas: "Source size 128 KB"). YAML aliases
#: may not make a definition expand past it: a few lines of nested anchors can otherwise
#: stand for billions of values (a 481-byte file took 24 s to deploy).
SOURCE_SIZE_LIMIT = 128 * 1024

#: Collections nested deeper than this are refused at deploy, with their location. No real
#: workflow comes near it, and it keeps every recursive reader of the tree (PyYAML's composer
#: and constructor, the definition builder) far below Python's recursion limit.
MAX_NESTING = 100

#: Use libyaml's C parser when PyYAML has it (about 5x faster); any problem it reports is
#: read again by the pure-Python loader, whose rules and messages are the reference.
FAST_YAML: bool = bool(getattr(yaml, "__with_libyaml__", False))

_UNSUPPORTED_TAGS = ("set", "omap", "pairs", "binary", "timestamp")


class _Bounds:
    """Expanded size and height of every composed node, checked as composition goes (pure path)."""

    def __init__(self, text_size: int) -> None:
        self.limit = SOURCE_SIZE_LIMIT + 2 * text_size
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)

    def measure(self, node: yaml.Node, file: str) -> None:
        if isinstance(node, yaml.ScalarNode):
            self.sizes[id(node)] = (len(node.value) + 1, 1)
            return
        children: list[yaml.Node] = (
            [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value)
        size = 1
        height = 0
        for child in children:
            child_size, child_height = self.sizes.get(id(child), (0, 0))
            size += child_size
            height = max(height, child_height)
        self.sizes[id(node)] = (size, height + 1)
        if height + 1 > MAX_NESTING:
            raise WorkflowSyntaxError(_too_deep(), _location(file, node.start_mark))
        if size > self.limit:
            raise WorkflowSyntaxError(
                f"YAML aliases make this value expand past the service's source size limit of "
                f"{SOURCE_SIZE_LIMIT // 1024} KB; write the repeated parts out, or build them with "
                "expressions at run time", _location(file, node.start_mark))


def _too_deep() -> str:
    return (f"the definition nests collections more than {MAX_NESTING} levels deep here; flatten it "
            "(split the value into variables, or the steps into subworkflows)")


def _location(file: str, mark: Any) -> Location:
    return Location(file, mark.line + 1, mark.column + 1) if mark is not None else Location(file)


def measure_node_graph(root: yaml.Node) -> tuple[int, int]:
    """(expanded size, height) of a composed node graph, aliases expanded; (-1, -1) for a cycle.

    Iterative, so any depth is safe; shared nodes are measured once and counted each time
    they are referred to.
    """
    done: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if isinstance(node, yaml.ScalarNode):
            done[key] = (len(node.value) + 1, 1)
            continue
        children: list[yaml.Node] = (
            [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value)
        if finished:
            open_nodes.discard(key)
            size = 1
            height = 0
            for child in children:
                child_size, child_height = done[id(child)]
                size += child_size
                height = max(height, child_height)
            done[key] = (size, height + 1)
            continue
        if key in done:
            continue
        if key in open_nodes:
            return (-1, -1)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children)
    return done[id(root)]


class _Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,
    _Resolver,
):
    def __init__(self, stream: str, file: str = "<workflow>") -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)
        self._wf_file = file
        self._wf_depth = 0
        self._wf_bounds = _Bounds(len(stream))

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        """PyYAML's composer, refusing deep nesting before it recurses and alias bombs as they build."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor) if event.anchor is not None else None
            if target is not None and id(target) not in self._wf_bounds.sizes:
                raise WorkflowSyntaxError(
                    f"the alias *{event.anchor} refers to its own anchor, so its value would never end; "
                    "remove the alias or the anchor", _location(self._wf_file, event.start_mark))
            return super().compose_node(parent, index)  # type: ignore[return-value]
        self._wf_depth += 1
        try:
            if self._wf_depth > MAX_NESTING:
                raise WorkflowSyntaxError(_too_deep(), _location(self._wf_file, self.peek_event().start_mark))  # type: ignore[no-untyped-call]
            node: yaml.Node = super().compose_node(parent, index)  # type: ignore[assignment]
        finally:
            self._wf_depth -= 1
        self._wf_bounds.measure(node, self._wf_file)
        return node

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


def _enter(loader: Any, node: yaml.Node) -> int:
    """One collection deeper while constructing: the height bound of the libyaml path (no recursion past it).

    A collection at depth d with items makes the tree at least d + 1 high, as the pure
    loader's composer counts. An error here ends the construction; the failed value is
    never used (the pure loader then reads the text and reports the problem).
    """
    depth: int = getattr(loader, "_wf_construct_depth", 0) + 1
    if depth + (1 if node.value else 0) > MAX_NESTING:
        raise WorkflowSyntaxError(_too_deep(), _location(getattr(loader, "_wf_file", "<workflow>"), node.start_mark))
    loader._wf_construct_depth = depth
    return depth


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> Any:
    result = MarkedDict()
    result.start = _mark(node)
    yield result
    loader.flatten_mapping(node)
    depth = _enter(loader, node)
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
    loader._wf_construct_depth = depth - 1


def _construct_sequence(loader: Any, node: yaml.SequenceNode) -> Any:
    result = MarkedList()
    result.start = _mark(node)
    yield result
    depth = _enter(loader, node)
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_marks.append(_mark(item))
    loader._wf_construct_depth = depth - 1


_CParser: Any
try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None

if _CParser is not None:

    class _CLoader(_CParser, yaml.constructor.SafeConstructor, _Resolver):  # type: ignore[misc]
        """libyaml's scanner, parser and composer with our resolver and constructors."""

        def __init__(self, stream: str, file: str = "<workflow>") -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            _Resolver.__init__(self)
            self._wf_file = file

    _LOADERS: tuple[type[Any], ...] = (_Loader, _CLoader)
else:  # pragma: no cover - PyYAML built without libyaml
    _LOADERS = (_Loader,)


def _refuse_tag(loader: Any, node: yaml.Node) -> Any:
    tag = node.tag.rsplit(":", 1)[-1]
    raise WorkflowSyntaxError(
        f"the YAML tag !!{tag} has no Workflows value; remove the tag (Workflows values are null, "
        "booleans, numbers, strings, lists and maps)", _location(getattr(loader, "_wf_file", "<workflow>"),
                                                                  node.start_mark))


for _loader_class in _LOADERS:
    _loader_class.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
    _loader_class.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
    for _tag in _UNSUPPORTED_TAGS:
        _loader_class.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


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
    """Parse YAML or JSON text into marked data; every problem is a WorkflowSyntaxError with a location.

    libyaml reads it first when available; whatever it cannot read (or reads past the
    bounds) is read again by the pure-Python loader, which owns the rules (``${...}`` in
    flow collections, nesting and alias bounds) and the error messages, so both paths
    give the same data, marks and errors.
    """
    if FAST_YAML and len(_LOADERS) > 1:
        data = _parse_fast(text, file)
        if data is not _FALLBACK:
            return data
    return _parse_pure(text, file)


_FALLBACK: Any = object()


def _parse_fast(text: str, file: str) -> Any:
    loader = _LOADERS[1](text, file)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "&" in text:
            # Anchors, so maybe aliases: measure what they expand to (and the height through them).
            size, height = measure_node_graph(node)
            if size < 0 or size > SOURCE_SIZE_LIMIT + 2 * len(text) or height > MAX_NESTING:
                return _FALLBACK
        # Without aliases the constructors bound the height themselves (_enter).
        return loader.construct_document(node)
    except (yaml.YAMLError, WorkflowSyntaxError, RecursionError, ValueError, TypeError, OverflowError):
        return _FALLBACK
    finally:
        loader.dispose()


def _parse_pure(text: str, file: str) -> Any:
    loader: _Loader | None = None
    try:
        loader = _Loader(text, file)
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        raise WorkflowSyntaxError(explain_reader_error(exc), _position(text, file, exc.position)) from None
    except yaml.MarkedYAMLError as exc:
        raise WorkflowSyntaxError(explain_yaml_error(exc), _location(file, error_mark(exc))) from None
    except yaml.YAMLError as exc:
        raise WorkflowSyntaxError(f"YAML/JSON syntax error: {exc}", Location(file)) from None
    except RecursionError:
        # Bounded by MAX_NESTING; kept as a last guard so a deploy never ends in a traceback.
        raise WorkflowSyntaxError(_too_deep(), Location(file)) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # An explicit tag on a value it cannot hold (`!!int abc`, `!!float x`).
        raise WorkflowSyntaxError(f"YAML/JSON syntax error: a tagged value cannot be read ({exc}); remove "
                                  "the tag or fix the value", Location(file)) from None
    finally:
        if loader is not None:
            loader.dispose()


def _position(text: str, file: str, index: int) -> Location:
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return Location(file, line, column)


def check_strict_json(text: str, file: str) -> None:
    """A ``.json`` file must be JSON, not merely YAML (trailing commas, comments, single quotes).

    The YAML loader reads JSON too (and keeps positions), but it forgives what a deploy of
    a JSON definition rejects; this check runs the strict parser first.
    """
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowSyntaxError(f"JSON syntax error: {exc.msg}", Location(file, exc.lineno, exc.colno)) from None
    except RecursionError:
        raise WorkflowSyntaxError(_too_deep(), Location(file)) from None


def read_source_file(path: Path) -> str:
    """The text of a workflow file; a missing or unreadable file is a WorkflowSyntaxError."""
    if not path.is_file():
        raise WorkflowSyntaxError(
            f"workflow file not found: {path} (paths are relative to the current directory {Path.cwd()})",
            Location(str(path)),
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowSyntaxError(f"cannot read the workflow file: {exc}", Location(str(path))) from None


def load_source(source: Any) -> Source:
    """Turn a path, YAML/JSON text or parsed data into a `Source`."""
    if looks_like_path(source):
        path = Path(source)
        text = read_source_file(path)
        if path.suffix.lower() == ".json":
            check_strict_json(text, str(path))
        return Source(parse_text(text, str(path)), str(path), text)
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkflowSyntaxError(f"the workflow text is not UTF-8 ({exc.reason} at byte {exc.start}); "
                                      "save it as UTF-8") from None
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
