"""The expression language (docs/semantics.md §3; docs/decisions.md #15, #18-#21, #30, #31), run through a runtime.

Every expression is evaluated as ``- r: {return: ${EXPR}}`` (with variables
bound from the execution argument when given), so these tests cover the
parser, the compiler, the deploy checks and the error path into
``execution.error``. Results are compared *with their types*: int 3 is not
double 3.0 and true is not 1.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_wfcallbacks import WorkflowRuntime, WorkflowSyntaxError

INT_MAX = 2**63 - 1
INT_MIN = -(2**63)


def run(runtime: WorkflowRuntime, text: str, variables: dict[str, Any] | None = None) -> Any:
    """Run ``return: ${text}``; variables are assigned from the argument first."""
    steps: list[dict[str, Any]] = []
    if variables:
        steps.append({"init": {"assign": [{name: "${args." + name + "}"} for name in variables]}})
    steps.append({"r": {"return": "${" + text + "}"}})
    return runtime.run({"main": {"params": ["args"], "steps": steps}}, variables)


def value(runtime: WorkflowRuntime, text: str, variables: dict[str, Any] | None = None) -> Any:
    """The value of an expression (the execution must succeed)."""
    execution = run(runtime, text, variables)
    assert execution.state == "SUCCEEDED", (text, execution.error)
    return execution.value


def tags(runtime: WorkflowRuntime, text: str, variables: dict[str, Any] | None = None) -> list[str]:
    """The tags of the error an expression raises (the execution must fail)."""
    execution = run(runtime, text, variables)
    assert execution.state == "FAILED", (text, execution.value)
    assert execution.error["message"].startswith(execution.error["tags"][0] + ": ")
    return list(execution.error["tags"])


def same(left: Any, right: Any) -> bool:
    """Equal *and* of the same Workflows types all the way down (and maps in the same key order)."""
    if type(left) is not type(right):
        return False
    if type(left) is list:
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if type(left) is dict:
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    return bool(left == right)


def check(runtime: WorkflowRuntime, cases: list[tuple[str, Any]]) -> None:
    for text, expected in cases:
        result = value(runtime, text)
        assert same(result, expected), f"${{{text}}} gave {result!r} ({type(result).__name__}), expected {expected!r}"


def check_errors(runtime: WorkflowRuntime, cases: list[tuple[str, str]]) -> None:
    for text, tag in cases:
        assert tags(runtime, text) == [tag], text


# ---------------------------------------------------------------- arithmetic


def test_arithmetic_types(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("2 + 3", 5),
            ("2 + 3.0", 5.0),
            ("2.5 - 0.5", 2.0),
            ("5 - 7", -2),
            ("3 * 4", 12),
            ("3 * 1.5", 4.5),
            ("-2 * 3", -6),
            ("2 + 3 * 4", 14),
            ("(2 + 3) * 4", 20),
            ("10 - 4 - 3", 3),
            ("27 * 9 / 5 + 32", 80.6),
        ],
    )


def test_slash_always_gives_a_double(workflow_runtime: WorkflowRuntime) -> None:
    check(workflow_runtime, [("4 / 2", 2.0), ("7 / 2", 3.5), ("-7 / 2", -3.5), ("1.0 / 4", 0.25), ("0 / 5", 0.0)])


def test_floor_division_and_remainder_follow_python(workflow_runtime: WorkflowRuntime) -> None:
    """docs/decisions.md #20: floor toward minus infinity; the remainder takes the divisor's sign."""
    check(
        workflow_runtime,
        [
            ("7 // 2", 3),
            ("-7 // 2", -4),
            ("7 // -2", -4),
            ("-7 // -2", 3),
            ("7 % 3", 1),
            ("-7 % 2", 1),
            ("7 % -2", -1),
            ("-7 % -2", -1),
            ("7.5 // 2", 3.0),
            ("-7.5 // 2", -4.0),
            ("7 // 2.0", 3.0),
            ("-7.5 % 2", 0.5),
            ("7 % 2.5", 2.0),
            ("1 // 0.1", 9.0),
        ],
    )


def test_division_by_zero(workflow_runtime: WorkflowRuntime) -> None:
    check_errors(
        workflow_runtime,
        [
            (text, "ZeroDivisionError")
            for text in ("1 / 0", "1 // 0", "1 % 0", "1.0 / 0", "1 / 0.0", "1.5 % 0.0", "0 // 0.0")
        ],
    )


def test_int_boundaries(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("9223372036854775807", INT_MAX),
            ("-9223372036854775808", INT_MIN),
            ("9223372036854775806 + 1", INT_MAX),
            ("-9223372036854775807 - 1", INT_MIN),
            ("-9223372036854775808 // 2", INT_MIN // 2),
            ("-9223372036854775808 % -1", 0),
        ],
    )


def test_int_overflow_is_a_value_error_everywhere(workflow_runtime: WorkflowRuntime) -> None:
    """docs/decisions.md #19: never silently grows or wraps."""
    check_errors(
        workflow_runtime,
        [
            ("9223372036854775807 + 1", "ValueError"),
            ("-9223372036854775808 - 1", "ValueError"),
            ("9223372036854775807 * 2", "ValueError"),
            ("-9223372036854775808 * -1", "ValueError"),
            ("-9223372036854775808 // -1", "ValueError"),
            ("-(-9223372036854775807 - 1)", "ValueError"),
            ("int(9.3e18)", "ValueError"),
            ("int(-1e19)", "ValueError"),
            ('int("9223372036854775808")', "ValueError"),
            ('int("-9223372036854775809")', "ValueError"),
            ('json.decode("9223372036854775808")', "ValueError"),
            ('json.decode("[1, -9223372036854775809]")', "ValueError"),
            ("math.abs(-9223372036854775807 - 1)", "ValueError"),
        ],
    )
    assert value(workflow_runtime, "-big", {"big": INT_MAX}) == -INT_MAX
    assert tags(workflow_runtime, "-small", {"small": INT_MIN}) == ["ValueError"]


def test_int_literal_outside_64_bits_is_a_deploy_error(workflow_runtime: WorkflowRuntime) -> None:
    with pytest.raises(WorkflowSyntaxError, match="64-bit"):
        workflow_runtime.deploy([{"r": {"return": "${9223372036854775808}"}}])
    with pytest.raises(WorkflowSyntaxError, match="64-bit"):
        workflow_runtime.deploy([{"r": {"return": "${- -9223372036854775808}"}}])


def test_double_overflow_is_a_value_error(workflow_runtime: WorkflowRuntime) -> None:
    check_errors(
        workflow_runtime,
        [("1e308 * 10", "ValueError"), ("-1e308 - 1e308", "ValueError"), ("1e308 // 1e-308", "ValueError")],
    )
    check(workflow_runtime, [("9223372036854775807 + 1.0", 9.223372036854775807e18)])


def test_unary_minus_needs_a_number(workflow_runtime: WorkflowRuntime) -> None:
    check(workflow_runtime, [("-(2 + 3)", -5), ("-1.5", -1.5), ("- -2", 2)])
    assert same(value(workflow_runtime, "-x", {"x": 4}), -4)
    check_errors(
        workflow_runtime, [('-"a"', "TypeError"), ("-null", "TypeError"), ("-true", "TypeError"), ("-[1]", "TypeError")]
    )


def test_plus_on_strings_lists_and_maps(workflow_runtime: WorkflowRuntime) -> None:
    check(workflow_runtime, [('"foo" + "bar"', "foobar"), ('"" + ""', "")])
    check_errors(
        workflow_runtime,
        [
            ('"n=" + 5', "TypeError"),
            ('1.5 + "x"', "TypeError"),
            ('"x" + true', "TypeError"),
            ("[1] + [2]", "TypeError"),
            ('{"a": 1} + {"b": 2}', "TypeError"),
            ('"a" + null', "TypeError"),
            ('"ab" * 2', "TypeError"),
            ('"a" - "b"', "TypeError"),
        ],
    )


@pytest.mark.workflow_runtime(implicit_string_concat=True)
def test_implicit_string_concat_option(workflow_runtime: WorkflowRuntime) -> None:
    """docs/decisions.md #15: with the option, int, double and bool are converted with string()."""
    check(
        workflow_runtime,
        [('"n=" + 5', "n=5"), ('1.5 + "x"', "1.5x"), ('"x" + true', "xtrue"), ('2.0 + "!"', "2.0!"), ("1 + 2", 3)],
    )
    check_errors(
        workflow_runtime, [('"a" + null', "TypeError"), ('"a" + [1]', "TypeError"), ('{"a": 1} + "b"', "TypeError")]
    )


# ---------------------------------------------------------------- booleans are not numbers


def test_booleans_are_never_integers(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("1 == true", False),
            ("true == 1", False),
            ("0 == false", False),
            ("[1] == [true]", False),
            ('{"a": 1} == {"a": true}', False),
            ("true in [1]", False),
            ("1 in [true, false]", False),
            ("true == true", True),
            ("get_type(true)", "boolean"),
        ],
    )
    check_errors(
        workflow_runtime,
        [
            ("true + 1", "TypeError"),
            ("1 + true", "TypeError"),
            ("true * 2", "TypeError"),
            ("false - 1", "TypeError"),
            ("1 < true", "TypeError"),
            ("int(true)", "TypeError"),
            ("double(false)", "TypeError"),
            ("math.abs(true)", "TypeError"),
            ("math.max(true, 1)", "TypeError"),
            ("[1, 2][true]", "TypeError"),
        ],
    )


# ---------------------------------------------------------------- comparisons and equality


def test_comparisons(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("1 < 2", True),
            ("2 <= 2", True),
            ("3 > 2.5", True),
            ("2 >= 2.0", True),
            ("-1 > 0", False),
            ('"abc" < "abd"', True),
            ('"B" < "a"', True),
            ('"é" > "z"', True),
            ('"" < "a"', True),
            ("9223372036854775807 > 9223372036854775806.0", False),
        ],
    )
    check_errors(
        workflow_runtime,
        [
            ('"2" < 3', "TypeError"),
            ("null < 1", "TypeError"),
            ("null <= null", "TypeError"),
            ("[1] < [2]", "TypeError"),
            ('{"a": 1} > {}', "TypeError"),
            ("true < false", "TypeError"),
            ("1 < 2 < 3", "TypeError"),  # (1 < 2) < 3: a boolean compared with an integer
        ],
    )


def test_equality_across_types_and_deep(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("2 == 2.0", True),
            ("2 != 2.0", False),
            ('"2" == 2', False),
            ('"2" != 2', True),
            ("null == null", True),
            ("null == false", False),
            ('null == ""', False),
            ("[] == {}", False),
            ("[1, [2, 3]] == [1, [2, 3]]", True),
            ("[1, 2] == [2, 1]", False),
            ("[1, 2] == [1, 2, 3]", False),
            ("[1, 2.0] == [1.0, 2]", True),
            ('{"a": 1, "b": 2} == {"b": 2, "a": 1}', True),
            ('{"a": 1} == {"a": 1, "b": null}', False),
            ('{"a": [1, {"b": null}]} == {"a": [1.0, {"b": null}]}', True),
            ('{"a": [1, {"b": null}]} != {"a": [1, {"b": false}]}', True),
        ],
    )
    assert value(workflow_runtime, "x == y", {"x": {"k": [1, 2]}, "y": {"k": [1, 2]}}) is True


# ---------------------------------------------------------------- membership


def test_in_on_lists_and_maps_only(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("2 in [1, 2]", True),
            ("3 in [1, 2]", False),
            ("2.0 in [1, 2]", True),
            ("[1] in [[1], 2]", True),
            ('{"a": 1} in [{"a": 1.0}]', True),
            ("null in [null]", True),
            ('"k" in {"k": null}', True),
            ('"b" in {"a": 1}', False),
            ("1 in []", False),
        ],
    )
    check_errors(
        workflow_runtime,
        [
            ('"a" in "abc"', "TypeError"),
            ("1 in 5", "TypeError"),
            ("1 in null", "TypeError"),
            ('1 in {"1": 1}', "TypeError"),
        ],
    )


# ---------------------------------------------------------------- logical operators


def test_logical_operators(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("true and false", False),
            ("true and true", True),
            ("false or true", True),
            ("false or false", False),
            ("not true", False),
            ("not false", True),
            ("TRUE AND NOT FALSE", True),
            ("FALSE OR TRUE", True),
            ("True and False", False),
            ("true or false and false", True),  # and binds tighter than or
            ("(true or false) and false", False),
            ("1 + 2 == 3 and 2 < 3", True),
        ],
    )


def test_logical_operators_need_booleans(workflow_runtime: WorkflowRuntime) -> None:
    check_errors(
        workflow_runtime,
        [
            ("true and 1", "TypeError"),
            ("1 and true", "TypeError"),
            ("null or true", "TypeError"),
            ("false or 0", "TypeError"),
            ('true and "true"', "TypeError"),
            ("not 0", "TypeError"),
            ("not null", "TypeError"),
            ("not []", "TypeError"),
        ],
    )


def test_logical_operators_short_circuit(workflow_runtime: WorkflowRuntime) -> None:
    """docs/decisions.md #21: the right side is evaluated only when needed (and only then type-checked)."""
    check(
        workflow_runtime,
        [
            ("false and (1 / 0 == 1)", False),
            ("true or (1 / 0 == 1)", True),
            ("false and 1", False),
            ("true or null", True),
            ("false and {}.missing", False),
        ],
    )
    check_errors(
        workflow_runtime, [("true and (1 / 0 == 1)", "ZeroDivisionError"), ("false or {}.missing", "KeyError")]
    )


def test_not_binds_tighter_than_comparisons(workflow_runtime: WorkflowRuntime) -> None:
    """docs/semantics.md §3.3: `not a == b` is `(not a) == b`."""
    check(workflow_runtime, [("not false == true", True), ("not true == false", True), ('not ("x" in ["x"])', False)])
    check_errors(workflow_runtime, [("not 1 == 1", "TypeError"), ('not "x" in ["x"]', "TypeError")])


@pytest.mark.parametrize("text", ["true And false", "Not true", "true Or false", "a = 1", "1 !== 2", "1 && 2"])
def test_mixed_case_and_foreign_operators_are_deploy_errors(workflow_runtime: WorkflowRuntime, text: str) -> None:
    with pytest.raises(WorkflowSyntaxError):
        workflow_runtime.deploy([{"a": {"assign": [{"a": 1}]}}, {"r": {"return": "${" + text + "}"}}])


# ---------------------------------------------------------------- literals


def test_number_literals(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("42", 42),
            ("4.1", 4.1),
            ("1e3", 1000.0),
            ("1.5e3", 1500.0),
            ("2E-2", 0.02),
            ("1e+2", 100.0),
            ("0.0", 0.0),
            ("007", 7),
        ],
    )
    with pytest.raises(WorkflowSyntaxError):
        workflow_runtime.deploy([{"r": {"return": "${1e400}"}}])


def test_string_literals_and_escapes(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            (r'"a\"b"', 'a"b'),
            (r'"back\\slash"', "back\\slash"),
            (r'"line\nbreak"', "line\nbreak"),
            (r'"tab\there"', "tab\there"),
            (r'"\u00e9t\u00E9"', "été"),
            ("'single'", "single"),
            (r"'it\'s'", "it's"),
            ('"${not an expression}"', "${not an expression}"),
            ('"ünïcödé ✓"', "ünïcödé ✓"),
        ],
    )
    for bad in (r'"\q"', r'"\u12"', '"unterminated'):
        with pytest.raises(WorkflowSyntaxError):
            workflow_runtime.deploy([{"r": {"return": "${" + bad + "}"}}])


def test_boolean_and_null_literals(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("true", True),
            ("True", True),
            ("TRUE", True),
            ("false", False),
            ("False", False),
            ("FALSE", False),
            ("null", None),
        ],
    )


def test_list_and_map_literals(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("[]", []),
            ("{}", {}),
            ('[1, "a", null, true, 1.5, [2], {"k": 3}]', [1, "a", None, True, 1.5, [2], {"k": 3}]),
            ('{"a": {"b": [1, 2.0]}, "c": null}', {"a": {"b": [1, 2.0]}, "c": None}),
            ('{"z": 1, "a": 2, "m": 3}', {"z": 1, "a": 2, "m": 3}),  # insertion order, docs/decisions.md #30
            ("[1 + 1, 2 * 2.0]", [2, 4.0]),
        ],
    )


def test_expression_map_keys(workflow_runtime: WorkflowRuntime) -> None:
    check(workflow_runtime, [('{"a" + "b": 1}', {"ab": 1}), ('{string(1): "one"}', {"1": "one"})])
    assert value(workflow_runtime, "{k: v}", {"k": "key", "v": [1]}) == {"key": [1]}
    check_errors(workflow_runtime, [("{1: 2}", "TypeError"), ("{null: 2}", "TypeError")])
    # In YAML/JSON map literals, a key may be an expression too (docs/semantics.md §1.5).
    execution = workflow_runtime.run(
        [{"a": {"assign": [{"k": "dyn"}]}}, {"r": {"return": {"${k}": "Apple", '${k + "2"}': 2, "plain": 3}}}]
    )
    assert execution.value == {"dyn": "Apple", "dyn2": 2, "plain": 3}


# ---------------------------------------------------------------- member and index access


def test_member_and_index_access(workflow_runtime: WorkflowRuntime) -> None:
    variables = {"m": {"a": {"b": [10, {"c": "deep"}]}, "key with space": 1}, "l": [1, [2, 3]], "i": 1}
    cases = [
        ("m.a.b[0]", 10),
        ('m["a"]["b"][1].c', "deep"),
        ('m["key with space"]', 1),
        ("l[i]", [2, 3]),
        ("l[i][i - 1]", 2),
        ("l[len(l) - 1][0]", 2),
    ]
    for text, expected in cases:
        assert same(value(workflow_runtime, text, variables), expected), text


def test_member_and_index_errors(workflow_runtime: WorkflowRuntime) -> None:
    check_errors(
        workflow_runtime,
        [
            ('{"a": 1}.z', "KeyError"),
            ('{"a": 1}["z"]', "KeyError"),
            ("[1, 2, 3][3]", "IndexError"),
            ("[1, 2, 3][-1]", "IndexError"),  # docs/decisions.md #18
            ("[][0]", "IndexError"),
            ("[1, 2, 3][1.0]", "TypeError"),
            ('[1, 2]["0"]', "TypeError"),
            ('{"a": 1}[1]', "TypeError"),
            ("null.a", "TypeError"),
            ('"abc"[0]', "TypeError"),
            ("(5).x", "TypeError"),
            ("[1].a", "TypeError"),
        ],
    )


def test_undefined_variable(workflow_runtime: WorkflowRuntime) -> None:
    """docs/decisions.md #22/#32: statically visible reads of unassigned names are deploy errors."""
    with pytest.raises(WorkflowSyntaxError, match="nope"):
        workflow_runtime.deploy([{"r": {"return": "${nope + 1}"}}])


# ---------------------------------------------------------------- helpers


def test_helpers(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("default(null, 3)", 3),
            ("default(0, 3)", 0),
            ('default(false, "x")', False),
            ('if(1 < 2, "yes", "no")', "yes"),
            ("if(false, 1, 2.0)", 2.0),
            ('keys({"b": 1, "a": 2})', ["b", "a"]),
            ("len([1, 2, 3])", 3),
            ('len({"a": 1})', 1),
            ('len("héllo")', 5),
            ('len("")', 0),
            ('int("42")', 42),
            ('int("-12")', -12),
            ("int(2.7)", 2),
            ("int(-2.7)", -2),
            ("int(5)", 5),
            ('double("2.5")', 2.5),
            ('double("1e3")', 1000.0),
            ("double(2)", 2.0),
            ("string(true)", "true"),
            ("string(1.5)", "1.5"),
            ("string(2.0)", "2.0"),
            ("string(-3)", "-3"),
            ('string("s")', "s"),
            ("get_type(1)", "integer"),
            ("get_type(1.0)", "double"),
            ("get_type(null)", "null"),
            ('get_type("")', "string"),
            ("get_type([])", "list"),
            ("get_type({})", "map"),
            ('get_type(text.encode("x"))', "bytes"),
        ],
    )
    check_errors(
        workflow_runtime,
        [
            ("if(true, 1, 1 / 0)", "ZeroDivisionError"),  # both arms are evaluated
            ("if(1, 2, 3)", "TypeError"),
            ("default({}.k, 1)", "KeyError"),  # default replaces null, it does not catch
            ("keys([1])", "TypeError"),
            ("len(1)", "TypeError"),
            ("len(null)", "TypeError"),
            ('int("x")', "ValueError"),
            ('int("1.5")', "ValueError"),
            ("int(null)", "TypeError"),
            ('double("abc")', "ValueError"),
            ("double(null)", "TypeError"),
            ("string([1])", "TypeError"),
            ("string(null)", "TypeError"),
            ('string({"a": 1})', "TypeError"),
        ],
    )


@pytest.mark.parametrize(
    "text",
    [
        "len()",
        "len(1, 2)",
        "if(true, 1)",
        "default(1)",
        "keys()",
        "nosuch(1)",
        "text.nope(1)",
        "sys.sleep(1)",
        "text",
        'http.get("http://x")',
    ],
)
def test_bad_calls_are_deploy_errors(workflow_runtime: WorkflowRuntime, text: str) -> None:
    """Arity, unknown functions, blocking functions and bare module names are rejected at deploy."""
    with pytest.raises(WorkflowSyntaxError):
        workflow_runtime.deploy([{"r": {"return": "${" + text + "}"}}])


def test_functions_as_values(workflow_runtime: WorkflowRuntime) -> None:
    check(
        workflow_runtime,
        [
            ("get_type(retry.always)", "function"),
            ("retry.default_backoff", {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25}),
            ("retry.default_backoff.multiplier", 1.25),
        ],
    )
    check_errors(workflow_runtime, [("json.encode_to_string(retry.never)", "ValueError")])


# ---------------------------------------------------------------- value semantics


def test_values_are_copied_on_assignment(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.run(
        [
            {
                "init": {
                    "assign": [
                        {"a": [1, {"k": [2]}]},
                        {"b": "${a}"},
                        {"c": "${a[1]}"},
                        {"d": "${default(a, null)}"},
                        {"e": "${list.concat(a, 3)}"},
                    ]
                }
            },
            {"mutate": {"assign": [{"b[0]": 99}, {"c.k[0]": 98}, {"d[1].k": "x"}, {"e[1].k": "y"}]}},
            {"r": {"return": ["${a}", "${b}", "${c}", "${d}", "${e}"]}},
        ]
    )
    assert execution.state == "SUCCEEDED", execution.error
    a, b, c, d, e = execution.value
    assert a == [1, {"k": [2]}]
    assert b == [99, {"k": [2]}]
    assert c == {"k": [98]}
    assert d == [1, {"k": "x"}]
    assert e == [1, {"k": "y"}, 3]


def test_big_list_in_scope_survives_a_loop_unchanged(workflow_runtime: WorkflowRuntime) -> None:
    """Reads never copy and never alias: the loop sees the list, later writes to a copy leave it intact."""
    big = list(range(2000))
    execution = workflow_runtime.run(
        {
            "main": {
                "params": ["args"],
                "steps": [
                    {"init": {"assign": [{"big": "${args}"}, {"total": 0}]}},
                    {
                        "loop": {
                            "for": {
                                "value": "i",
                                "range": [0, 99],
                                "steps": [{"add": {"assign": [{"total": "${total + big[i]}"}]}}],
                            }
                        }
                    },
                    {"copy": {"assign": [{"other": "${big}"}, {"other[0]": -1}]}},
                    {
                        "r": {
                            "return": {
                                "total": "${total}",
                                "first": "${big[0]}",
                                "other": "${other[0]}",
                                "n": "${len(big)}",
                            }
                        }
                    },
                ],
            }
        },
        big,
    )
    assert execution.value == {"total": sum(range(100)), "first": 0, "other": -1, "n": 2000}
