"""The package's layers stay one-way (issue 14).

Data flows up: plain data and values, the language (expressions, standard library,
step tree, validator), the engine (interpreter/), the effects it asks for through the
host interface (callbacks, outbound HTTP, connectors), the facade that wires them
(runtime.py, hosting.py), and the readers on top (assertions, the REST and gRPC APIs,
the CLI, the server). `LAYERS` says, for every module of the package, which package
modules it may import (any import: module level, inside a function, or under
TYPE_CHECKING). A new module must get a row here; a new dependency that breaks the
direction fails the test.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_wfcallbacks"

#: Plain data and values: what every layer may use.
BASE = {"errors", "settings", "values", "clock", "source", "yaml_errors", "history", "record", "step_entries"}
#: Plumbing with no package imports: the plugin's own loopback client, the strict HTTP head reader.
PLUMBING = {"loopback", "http_head"}
#: The language: expressions, the standard library, the step tree and its deploy-time validator.
LANGUAGE = {"expr*", "stdlib*", "definition", "validator*", "deploy_cache"}
#: The engine and the effects it asks for through the host interface (interpreter/host.py).
ENGINE = {"interpreter*"}
EFFECTS = {"callbacks", "outbound", "connectors", "fakes", "subworkflows"}
#: The facade: the public objects and the wiring that implements the host interface.
FACADE = {"runtime", "execution", "hosting", "parts"}
#: What reads what a run recorded (never the interpreter's internals).
READERS = {"assertions*", "api*", "api_common", "api_filter", "grpc_api", "cli", "server", "connection", "report*",
           "emulator*"}

#: module (fnmatch pattern) -> the package modules (patterns) it may import.
LAYERS: dict[str, set[str]] = {
    # plain data
    "errors": set(),
    "settings": set(),
    "values": {"errors"},
    "clock": {"errors"},
    "source": {"errors", "yaml_errors"},
    "yaml_errors": set(),
    # plumbing
    "loopback": set(),
    "http_head": set(),
    "history": {"clock"},
    "record": {"clock", "history", "step_entries"},
    # the service's step entries: plain slotted data the engine writes and readers read
    "step_entries": {"clock", "errors"},
    # the language
    "expr*": BASE | {"expr*", "stdlib.registry"},
    "stdlib*": BASE | {"stdlib*", "outbound"},  # http.* encodes bodies and queries like outbound sends them
    "definition": BASE | {"stdlib.registry", "validator"},
    "validator*": BASE | {"definition", "expr*", "stdlib.registry", "validator*"},
    # the same source text deploys to the same frozen tree without parsing again
    "deploy_cache": BASE | {"definition", "stdlib*"},
    # the engine: its host interface names the endpoint type (callbacks.Endpoint) for typing
    "interpreter*": BASE | {"definition", "stdlib.registry", "interpreter*", "callbacks"},
    # the effects
    "callbacks": BASE | {"interpreter.host", "interpreter.threads", "loopback"},
    "outbound": BASE | {"interpreter.host", "interpreter.threads", "loopback"},
    "connectors": BASE | {"definition", "fakes", "interpreter.host", "interpreter.threads"},
    # what connector and subworkflow fakes share: their options and how one call is answered
    "fakes": BASE,
    # fakes for a workflow's own subworkflows, asked by the engine through the host at each call
    "subworkflows": BASE | {"fakes", "interpreter.host", "interpreter.threads"},
    # running a part: entry=, run_until_step, variables (drives an Execution, reads its threads)
    "parts": BASE | ENGINE | {"definition", "execution"},
    # the facade
    "hosting": BASE | ENGINE | EFFECTS | {"runtime", "execution", "stdlib.registry"},
    # one execution: drives the kernel, reads its record; the runtime that made it only for types
    "execution": BASE | ENGINE | {"callbacks", "coverage_map", "hosting", "parts", "runtime", "report",
                                  "assertions"},
    "runtime": BASE | LANGUAGE | ENGINE | EFFECTS | {"execution", "parts", "hosting", "api", "assertions", "server", "loopback", "report",
                                                  "coverage_map"},
    # the readers
    "assertions": BASE | {"callbacks", "runtime", "report"},
    # path assertions read the step entries and reuse the state tables
    "assertions_path": BASE | {"assertions", "runtime"},
    # the timeline and the HTML report read the public Execution and its record
    "report*": BASE | {"report*", "runtime"},
    # workflow coverage: the map reads the step tree and each execution's record; the runtime notifies it
    "coverage_map": BASE | {"definition", "stdlib", "stdlib.registry"},
    "coverage_probe": set(),
    "coverage": BASE | {"coverage_map", "coverage_probe"},
    "wf_coverage": BASE | {"coverage_map"},
    "api_common": BASE | {"callbacks"},
    "api_filter": set(),
    "api": BASE | {"api_common", "api_filter", "api_steps", "callbacks", "runtime", "server"},
    # the stepEntries resource: reads the step entries, reuses the filter parser and the envelope
    "api_steps": BASE | {"api_common", "api_filter", "runtime"},
    "server": BASE | {"api", "callbacks", "connection", "runtime"},
    # One connection of the server (strict reading, the callback fast path); the server is its only user.
    "connection": BASE | {"callbacks", "http_head", "server"},
    "grpc_api": BASE | {"api", "server"},
    "cli": BASE | LANGUAGE | {"api", "grpc_api", "runtime", "server", "emulator"},
    # serve's hot reload, clock control and web UI: over the CLI's loop, the API's resources, the report
    "emulator*": BASE | {"emulator*", "api", "callbacks", "cli", "runtime", "server", "report"},
    # entry points
    "plugin": BASE | {"runtime", "server", "assertions", "grpc_api", "report.for_tests", "wf_coverage"},
    "__init__": BASE | EFFECTS | {"execution", "assertions", "assertions_path", "runtime", "server", "plugin"},
    "__main__": {"cli"},
}

#: Modules below the facade: none imports runtime.py or hosting.py, not even for types.
LOWER = sorted({*BASE, *PLUMBING, *LANGUAGE, *ENGINE, *EFFECTS})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


@functools.cache
def _imports(path: Path) -> frozenset[str]:
    """Package modules ``path`` imports anywhere (module level, functions, TYPE_CHECKING blocks)."""
    name = _module_name(path)
    package = [] if name == "__init__" else name.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                if node.module is None:
                    found.update(".".join([*base, alias.name]) for alias in node.names)
                else:
                    found.add(".".join([*base, *node.module.split(".")]))
            elif node.module is not None and node.module.startswith("pytest_wfcallbacks."):
                found.add(node.module.removeprefix("pytest_wfcallbacks."))
        elif isinstance(node, ast.Import):
            found.update(alias.name.removeprefix("pytest_wfcallbacks.") for alias in node.names
                         if alias.name.startswith("pytest_wfcallbacks."))
    found.discard(name)
    return frozenset(found)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _matches(name: str, patterns: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _row(name: str) -> set[str]:
    rows = [pattern for pattern in LAYERS if fnmatch.fnmatchcase(name, pattern)]
    assert len(rows) == 1, f"{name} must match exactly one row of LAYERS, matches {rows}"
    return LAYERS[rows[0]]


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    # A guard on the guard: imports under TYPE_CHECKING and inside functions count too.
    probe = PACKAGE / "interpreter" / "host.py"
    assert {"callbacks", "record", "interpreter.engine"} <= _imports(probe)
    assert "interpreter.host" in _imports(PACKAGE / "callbacks.py")  # a TYPE_CHECKING-only import
    assert "validator" in _imports(PACKAGE / "definition.py")  # an import inside a function


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_import_is_allowed_by_the_layer_table(name: str) -> None:
    allowed = _row(name)
    unexpected = sorted(dep for dep in _imports(MODULES[name]) if not _matches(dep, allowed))
    assert not unexpected, (f"{name} imports {unexpected}, which its row of LAYERS does not allow: "
                            "move the code to the layer it belongs to, or pass what it needs through "
                            "the host interface (interpreter/host.py)")


@pytest.mark.parametrize("name", [n for n in sorted(MODULES) if _matches(n, set(LOWER))])
def test_lower_layers_never_import_the_facade(name: str) -> None:
    facade = sorted(dep for dep in _imports(MODULES[name]) if dep in FACADE)
    assert not facade, f"{name} imports {facade}: lower layers talk to the host interface, not to runtime.py"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if any(fnmatch.fnmatch(m, r) for r in READERS)))
def test_readers_never_import_the_interpreter(name: str) -> None:
    internals = sorted(dep for dep in _imports(MODULES[name]) if dep.startswith("interpreter"))
    assert not internals, f"{name} imports {internals}: readers read the record (record.py), not the interpreter"


@functools.cache
def _facade_private_names() -> frozenset[str]:
    """Private attributes and methods of Execution and WorkflowRuntime (assigned on self or defined)."""
    body = [node for module in ("runtime.py", "execution.py")
            for node in ast.parse((PACKAGE / module).read_text(encoding="utf-8")).body]
    names: set[str] = set()
    for cls in body:
        if isinstance(cls, ast.ClassDef) and cls.name in ("Execution", "WorkflowRuntime"):
            for node in ast.walk(cls):
                if isinstance(node, ast.FunctionDef) and node.name.startswith("_") and not node.name.endswith("__"):
                    names.add(node.name)
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
                        and isinstance(node.ctx, ast.Store) and node.attr.startswith("_")):
                    names.add(node.attr)
    return frozenset(names)


@pytest.mark.parametrize("name", [n for n in sorted(MODULES) if _matches(n, set(LOWER))])
def test_lower_layers_read_no_private_field_of_the_facade(name: str) -> None:
    private = _facade_private_names()
    assert {"_kernel", "_history", "_endpoints", "_runtime"} <= private  # the walk finds them
    reads = [f"line {node.lineno}: {ast.unparse(node)}"
             for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8")))
             if isinstance(node, ast.Attribute) and node.attr in private
             and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))]
    assert not reads, f"{name} reads private fields of Execution/WorkflowRuntime: {reads}"


def test_each_lower_module_imports_alone_without_the_facade() -> None:
    # The package's __init__ re-exports the facade, so load each module under a bare package
    # object: what it pulls in is then only what it (transitively) imports itself.
    script = textwrap.dedent(f"""
        import importlib, sys, types
        failures = []
        for name in {LOWER_CONCRETE!r}:
            for key in [k for k in sys.modules if k == "pytest_wfcallbacks" or k.startswith("pytest_wfcallbacks.")]:
                del sys.modules[key]
            package = types.ModuleType("pytest_wfcallbacks")
            package.__path__ = [{str(PACKAGE)!r}]
            sys.modules["pytest_wfcallbacks"] = package
            importlib.import_module("pytest_wfcallbacks." + name)
            loaded = sorted(k for k in sys.modules if k in ("pytest_wfcallbacks.runtime", "pytest_wfcallbacks.execution",
                                                            "pytest_wfcallbacks.hosting"))
            if loaded:
                failures.append(f"{{name}} loads {{loaded}}")
        print("\\n".join(failures) or "ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok", done.stdout


#: The concrete lower modules (package __init__ files by their package name).
LOWER_CONCRETE = [n for n in sorted(MODULES) if _matches(n, set(LOWER))]
