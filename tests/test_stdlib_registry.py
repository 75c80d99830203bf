"""The function registry: documented signatures and uniform arity and type errors.

Parameter names and positional order are those of docs/semantics.md §4 (and §3.7 for
the top-level helpers): a call step passes them by name, an expression by
position.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError
from pytest_wfcallbacks.errors import WorkflowError
from pytest_wfcallbacks.stdlib import load_all
from pytest_wfcallbacks.stdlib.registry import Function, param

REGISTRY = load_all()

#: Every function of docs/semantics.md §3.7 and §4 (http.* is checked by its own module's tests).
DOCUMENTED: dict[str, tuple[str, ...]] = {
    "default": ("val", "fallback"),
    "if": ("cond", "a", "b"),
    "keys": ("map",),
    "len": ("x",),
    "int": ("x",),
    "double": ("x",),
    "string": ("x",),
    "get_type": ("x",),
    "sys.get_env": ("name", "default"),
    "sys.log": ("data", "severity", "text", "json", "timeout"),
    "sys.now": (),
    "sys.sleep": ("seconds",),
    "sys.sleep_until": ("time",),
    "events.create_callback_endpoint": ("http_callback_method",),
    "events.await_callback": ("callback", "timeout"),
    "json.decode": ("data",),
    "json.encode": ("data", "indent"),
    "json.encode_to_string": ("data", "indent"),
    "text.decode": ("data", "charset"),
    "text.encode": ("text", "charset"),
    "text.find_all": ("source", "substr"),
    "text.find_all_regex": ("source", "regexp"),
    "text.match_regex": ("source", "regexp"),
    "text.replace_all": ("source", "substr", "repl"),
    "text.replace_all_regex": ("source", "regexp", "repl"),
    "text.split": ("source", "separator"),
    "text.substring": ("source", "start", "end"),
    "text.to_lower": ("source",),
    "text.to_upper": ("source",),
    "text.url_encode": ("source",),
    "text.url_encode_plus": ("source",),
    "text.url_decode": ("source",),
    "base64.encode": ("data", "padding"),
    "base64.decode": ("data", "padding"),
    "hash.compute_checksum": ("data", "algorithm"),
    "hash.compute_hmac": ("key", "data", "algorithm"),
    "list.concat": ("objs", "val"),
    "list.prepend": ("objs", "val"),
    "map.get": ("map", "keys"),
    "map.delete": ("map", "key"),
    "map.merge": ("first", "second"),
    "map.merge_nested": ("first", "second"),
    "math.abs": ("x",),
    "math.max": ("x", "y"),
    "math.min": ("x", "y"),
    "math.floor": ("x",),
    "time.format": ("seconds", "timezone"),
    "time.parse": ("value",),
    "uuid.generate": (),
    "retry.always": ("exception",),
    "retry.never": ("exception",),
}
BLOCKING = {"sys.log", "sys.sleep", "sys.sleep_until", "events.create_callback_endpoint", "events.await_callback"}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_signature(name: str) -> None:
    function = REGISTRY.get(name)
    assert function is not None, f"{name} is not registered"
    assert function.param_names == DOCUMENTED[name]
    assert function.blocking is (name in BLOCKING)


def test_every_registered_function_is_documented() -> None:
    undocumented = {name for name in REGISTRY.functions if not name.startswith("http.")} - set(DOCUMENTED)
    assert undocumented == set()
    assert {"retry.default_backoff"} <= set(REGISTRY.constants)


# ---------------------------------------------------------------- uniform errors

SAMPLE = Function(
    "sample.fn",
    (param("source", "string"), param("count", "integer"), param("flag", "boolean", default=True)),
    lambda source, count, flag: (source, count, flag),
)


def error(call: Any) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as info:
        call()
    value = info.value.value
    assert isinstance(value, dict)
    return value


def test_binding_fills_defaults() -> None:
    assert SAMPLE.bind_positional(["a", 1]) == ["a", 1, True]
    assert SAMPLE.bind_named({"count": 2, "source": "b"}) == ["b", 2, True]
    # An explicit null for an optional argument means "use the default".
    assert SAMPLE.bind_named({"count": 2, "source": "b", "flag": None}) == ["b", 2, True]
    assert SAMPLE.bind_positional(["a", 1, False]) == ["a", 1, False]


@pytest.mark.parametrize(
    ("bind", "fragment"),
    [
        (lambda: SAMPLE.bind_positional(["a", 1, True, 4]), "takes at most 3 arguments (4 given)"),
        (lambda: SAMPLE.bind_positional(["a"]), "missing the required argument 'count'"),
        (lambda: SAMPLE.bind_named({"source": "a"}), "missing the required argument 'count'"),
        (lambda: SAMPLE.bind_named({"source": "a", "count": 1, "extra": 2}), "unexpected argument 'extra'"),
        (lambda: SAMPLE.bind_positional([1, 1]), "argument 'source' must be string, got integer"),
        (lambda: SAMPLE.bind_positional(["a", 1.0]), "argument 'count' must be integer, got double"),
        (lambda: SAMPLE.bind_positional(["a", True]), "argument 'count' must be integer, got boolean"),
        (lambda: SAMPLE.bind_positional(["a", None]), "argument 'count' must be integer, got null"),
        (lambda: SAMPLE.bind_named({"source": "a", "count": 1, "flag": "yes"}), "'flag' must be boolean, got string"),
    ],
)
def test_arity_and_type_errors_are_uniform(bind: Any, fragment: str) -> None:
    value = error(bind)
    assert value["tags"] == ["TypeError"]
    assert value["message"].startswith("TypeError: sample.fn()")
    assert fragment in value["message"]


def test_unknown_parameter_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown type name"):
        param("x", "float")


def test_registering_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        REGISTRY.function("len")(lambda x: x)


# ---------------------------------------------------------------- call steps


def test_call_steps_use_the_documented_names(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(
        [
            {"a": {"call": "text.substring", "args": {"source": "héllo", "start": 1, "end": 3}, "result": "s"}},
            {
                "b": {
                    "call": "hash.compute_hmac",
                    "args": {"key": '${text.encode("k")}', "data": "${text.encode(s)}", "algorithm": "SHA256"},
                    "result": "h",
                }
            },
            {"c": {"call": "map.get", "args": {"map": {"x": {"y": 1}}, "keys": ["x", "y"]}, "result": "g"}},
            {"d": {"call": "time.format", "args": {"seconds": 1720788633, "timezone": "Europe/Paris"}, "result": "t"}},
            {"e": {"call": "list.concat", "args": {"objs": [1], "val": [2]}, "result": "l"}},
            {"f": {"call": "len", "args": {"x": "${s}"}, "result": "n"}},
            {"r": {"return": ["${s}", "${len(base64.encode(h))}", "${g}", "${t}", "${l}", "${n}"]}},
        ]
    )
    assert execution.state == "SUCCEEDED", execution.error
    assert execution.value == ["él", 44, 1, "2024-07-12T14:50:33.000000+02:00", [1, [2]], 2]


@pytest.mark.parametrize(
    ("target", "args"),
    [
        ("text.substring", {"text": "a", "start": 0, "end": 1}),  # the parameter is `source`
        ("hash.compute_hmac", {"secret": "k", "data": "d", "algorithm": "MD5"}),
        ("map.get", {"map": {}, "key": "a"}),  # the parameter is `keys`
        ("list.concat", {"list": [], "val": 1}),
        ("math.max", {"a": 1, "b": 2}),
    ],
)
def test_call_steps_reject_other_names_at_deploy(
    workflow_runtime: WorkflowRuntime, target: str, args: dict[str, Any]
) -> None:
    with pytest.raises(WorkflowSyntaxError):
        workflow_runtime.deploy([{"c": {"call": target, "args": args, "result": "x"}}])


def test_call_step_type_errors_fail_the_execution(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run([{"c": {"call": "text.split", "args": {"source": 1, "separator": ","}}}])
    assert execution.state == "FAILED"
    assert execution.error["tags"] == ["TypeError"]
    assert "text.split(): argument 'source' must be string, got integer" in execution.error["message"]
