"""PyYAML's problems, said as what the user should do about them.

PyYAML words its errors as parser states ("expected <block end>, but found
'<block mapping start>'"). The common ones are translated into a sentence naming the
likely mistake and the fix; PyYAML's own wording stays at the end, in brackets, for
searching. The location (file:line:column) is added by the caller.
"""

from __future__ import annotations

import yaml

_PREFIX = "YAML/JSON syntax error: "


def _where(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "earlier"


def _sentence(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or ""
    context = exc.context or ""
    started = _where(exc.context_mark)
    if "'\\t'" in problem or "\t" in problem or "tab character" in problem:
        return "indent with spaces, not tabs (YAML does not allow tabs in indentation)"
    if problem.startswith("expected <block end>"):
        return ("the indentation does not line up: this line is indented differently from the keys "
                f"or '-' items of the block that starts at {started}; give every key (or item) of "
                "one block the same indentation, and indent what belongs to a key under it")
    if "mapping values are not allowed" in problem:
        return ("a ': ' where YAML does not expect a new key (inside a plain value, or a key on the "
                "line of another value); quote expressions that contain ': ' or start with special "
                "characters, e.g. '${\"a: \" + b}', or put the key on its own line")
    if "could not find expected ':'" in problem:
        return ("this line sits in a mapping but is not 'key: value'; add the ':', or indent a value "
                "continued from the line above further (or quote it)")
    if "found undefined alias" in problem:
        return f"{problem.removeprefix('found ')}: an alias (*name) must come after its anchor (&name)"
    if "found unexpected end of stream" in problem and "quoted scalar" in context:
        return f"the quoted string that starts at {started} is never closed; add the closing quote"
    if "found unknown escape character" in problem:
        return ("an unknown escape sequence in a double-quoted string; write '\\\\' for a backslash, "
                "or use single quotes, where backslashes are plain characters")
    if problem.startswith("expected ',' or ']'"):
        return (f"the list [...] that starts at {started} is missing a ',' or its closing ']'; "
                "quote items that hold ',', '[' or ']' themselves")
    if problem.startswith("expected ',' or '}'"):
        return (f"the map {{...}} that starts at {started} is missing a ',' or its closing '}}'; "
                "quote values that hold ',', '{' or '}' themselves")
    if "but found another document" in problem:
        return "the text holds more than one YAML document ('---' again); a workflow is one document"
    if "found character" in problem and "cannot start any token" in problem:
        return (f"{problem.removeprefix('found ')}; quote the value (a plain YAML value cannot start "
                "with it), e.g. '${\"a: \" + b}'")
    if "could not determine a constructor for the tag" in problem:
        return "an unknown YAML tag (!...); remove it: a workflow uses plain YAML values only"
    if "found duplicate anchor" in context or "found duplicate anchor" in problem:
        return "the same anchor (&name) is defined twice; give each anchor its own name"
    if problem.startswith("expected <document start>"):
        return ("unexpected text after the end of the definition; check the indentation of the "
                "last lines, or remove what follows")
    if problem.startswith("expected the node content"):
        return "a value is missing here (or a character that cannot start one); write a value or quote it"
    if "expected alphabetic or numeric character" in problem:
        return "an anchor (&) or alias (*) without a name; quote the value if '&' or '*' is meant literally"
    return ""


def error_mark(exc: yaml.MarkedYAMLError) -> yaml.Mark | None:
    """Where to point: the problem, or where the construct began when that is what needs fixing."""
    if exc.problem and "could not find expected ':'" in exc.problem and exc.context_mark is not None:
        return exc.context_mark  # PyYAML points at the end of the text; the line without ':' is the news
    return exc.problem_mark or exc.context_mark


def explain_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    """One actionable sentence for a PyYAML error, with PyYAML's own wording kept in brackets."""
    raw = exc.problem or exc.context or "invalid YAML"
    sentence = _sentence(exc)
    if not sentence:
        return _PREFIX + raw
    return f"{_PREFIX}{sentence} [PyYAML: {raw}]"


def explain_reader_error(exc: yaml.reader.ReaderError) -> str:
    """A control or other non-printable character in the text."""
    character = exc.character
    code = character if isinstance(character, int) else ord(character) if isinstance(character, str) else 0
    return (f"{_PREFIX}the text holds the character U+{code:04X}, which YAML does not allow in a "
            f"document; remove it, or write it as the escape \\u{code:04X} inside a double-quoted string")
