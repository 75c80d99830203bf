"""Deploy-time validation: loaded source data in, the frozen step tree (definition.py) out.

`build_definition` turns loaded source data into `Definition`: routines made of
`Block`s of `Step`s, every expression compiled once, every jump resolved, and
everything the service rejects at deploy time rejected here with a
`WorkflowSyntaxError` naming file, line, column and step path.

Checks made here (docs/semantics.md §1, §2, §7; docs/decisions.md #23, #32): allowed and
required keys per step, unique step names per routine, jump targets and jump
legality, ``break``/``continue`` only inside ``for``, known call targets,
blocking calls never inside expressions, subworkflow arguments, parallel
``shared`` writes, reads of names no path assigns, and the static limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .definition import (
    _EXPR_RE,
    _NAME_RE,
    ACTION_KEYS,
    BREAK,
    CONNECTOR_PREFIXES,
    CONTINUE,
    END,
    RESERVED_TARGETS,
    STEP_KEYS,
    AssignStep,
    AssignTarget,
    Block,
    CallStep,
    Control,
    Definition,
    ForStep,
    Jump,
    JumpStep,
    Param,
    RaiseStep,
    ReturnStep,
    Routine,
    Step,
    StepsStep,
    Template,
)
from .errors import Location, WorkflowSyntaxError
from .expr import ExprSyntaxError
from .settings import Limits
from .source import Source
from .stdlib.registry import Registry
from .validator_base import (
    _JUMP_BOUNDARIES,
    MAX_PROBLEMS,
    TooManyProblems,
    _BlockInfo,
    _Common,
    _constant_fn,
    _PendingJump,
    _ScopeInfo,
    _suggest,
    _variables_written,
)
from .validator_compound import _CompoundSteps


class _Builder(_CompoundSteps):
    """Builds routines, blocks and steps; see the module docstring for what it rejects."""

    # ---------------------------------------------------------------- top level
    def build(self) -> Definition:
        """The definition, or a `WorkflowSyntaxError` listing every problem found (in `problems`)."""
        note = ""
        try:
            definition = self.build_all()
        except TooManyProblems:
            note = f"(stopped after {MAX_PROBLEMS} problems)"
        except WorkflowSyntaxError as problem:  # the source's shape: nothing else can be checked
            self.problems.append(problem)
        if self.problems:
            raise WorkflowSyntaxError.collect(self.problems, note)
        return definition

    def build_all(self) -> Definition:
        data = self.source.data
        if data is None or data == []:
            raise self.fail("the workflow is empty: it needs a `main` routine or a list of steps",
                            Location(self.source.file, 1, 1))
        if isinstance(data, list):
            raw_routines: dict[str, Any] = {"main": {"steps": data}}
            marks_owner: Any = None
        elif isinstance(data, dict):
            if not data:
                raise self.fail("the workflow is empty: it needs a `main` routine or a list of steps", self.loc(data))
            if "main" not in data:
                names = ", ".join(sorted(data))
                raise self.fail(
                    f"no `main` routine: a workflow with subworkflows needs `main` (found routines: {names}); "
                    "a workflow without subworkflows can be a bare list of steps",
                    self.loc(data),
                )
            raw_routines = dict(data)
            marks_owner = data
        else:
            raise self.fail(
                "a workflow is a list of steps or a map of routines (`main` plus subworkflows), "
                f"not a {type(data).__name__}",
                Location(self.source.file, 1, 1),
            )
        # Parameters first, so calls in any routine can be checked against them.
        for name, body in list(raw_routines.items()):
            where = self.routine_location(marks_owner, name)
            try:
                if not isinstance(body, dict):
                    raise self.fail(f"routine {name!r} must be a map with `steps` (and optional `params`)", where)
                self.ctx.subworkflows[name] = tuple(self.param_names(name, body, where)) if name != "main" else ()
            except WorkflowSyntaxError as problem:
                self.report(problem)
                self.ctx.subworkflows[name] = ()
                if not isinstance(body, dict):
                    del raw_routines[name]
        self.ctx.subworkflows.pop("main", None)
        routines: dict[str, Routine] = {}
        clean: set[str] = set()
        for name, body in raw_routines.items():
            where = self.routine_location(marks_owner, name)
            before = len(self.problems)
            try:
                routines[name] = self.build_routine(name, body, where, bare=marks_owner is None)
            except WorkflowSyntaxError as problem:
                self.report(problem)
            if len(self.problems) == before:
                clean.add(name)
        for name, unresolved in self.jump_reports:
            # A step name that was itself a problem (reserved, duplicated) is no target to judge by.
            if name in clean or not self.unnamed_problem.get(name):
                try:
                    self.report_bad_jumps(name, unresolved, self.routine_names[name])
                except WorkflowSyntaxError as problem:
                    self.report(problem)
        self.check_subworkflow_calls(routines)
        return Definition(routines, self.source)

    def routine_location(self, owner: Any, name: str) -> Location:
        """Where a routine's name is (line 1 for a bare list of steps)."""
        if owner is None:
            return Location(self.source.file, 1, 1)
        return self.loc(owner, name, of_key=True)

    def param_names(self, name: str, body: Any, where: Location) -> list[str]:
        params = body.get("params", [])
        if not isinstance(params, list):
            raise self.fail(f"`params` of routine {name!r} must be a list", self.loc(body, "params"))
        out: list[str] = []
        required: set[str] = set()
        for index, item in enumerate(params):
            if isinstance(item, str) and item:
                out.append(item)
                required.add(item)
            elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item)), str):
                out.append(next(iter(item)))
            else:
                raise self.fail(
                    f"parameter {index + 1} of routine {name!r} must be a name or `name: default`",
                    self.loc(params, index),
                )
            if not _NAME_RE.match(out[-1]):
                raise self.fail(f"parameter name {out[-1]!r} of routine {name!r} is not a valid variable name",
                                self.loc(params, index))
            if out.count(out[-1]) > 1:
                raise self.fail(f"routine {name!r} declares the parameter {out[-1]!r} twice", self.loc(params, index))
        self.required_params[name] = frozenset(required)
        return out

    def build_routine(self, name: str, body: Any, where: Location, *, bare: bool) -> Routine:
        self.routine = name
        self.step_names = {}
        self.routine_calls[name] = set()
        self.routine_blocks[name] = False
        self.name_blocks = self.routine_names[name] = {}
        params_raw = body.get("params") if isinstance(body, dict) else None
        declared = self.ctx.subworkflows.get(name, ()) if name != "main" else tuple(
            p for p in (params_raw or []) if isinstance(p, str))
        self.expr_registry.variables = _variables_written(body.get("steps")) | frozenset(declared)
        self.unresolved_jumps = []
        unknown = set(body) - {"params", "steps"}
        if unknown:
            key = sorted(unknown)[0]
            raise self.fail(
                f"unknown key {key!r} in routine {name!r}: a routine has only `params` and `steps`",
                self.loc(body, key, of_key=True),
            )
        if "steps" not in body:
            raise self.fail(f"routine {name!r} has no `steps`", where)
        raw_params = body.get("params", [])
        max_params = 1 if name == "main" else self.limits.subworkflow_params
        if isinstance(raw_params, list) and len(raw_params) > max_params:
            what = "`main` takes at most 1 parameter (the execution argument)" if name == "main" else (
                f"a subworkflow takes at most {max_params} parameters")
            raise self.fail(f"routine {name!r} declares {len(raw_params)} parameters: {what}", self.loc(body, "params"))
        scope = _ScopeInfo(None)
        params: list[Param] = []
        for index, item in enumerate(raw_params or []):
            if isinstance(item, str):
                params.append(Param(item, None))
                scope.names.add(item)
            else:
                (pname, default), = item.items()
                if name == "main":
                    raise self.fail("`main`'s parameter cannot have a default", self.loc(raw_params, index))
                params.append(Param(pname, self.template(default, raw_params[index], pname, f"{name}/params")))
                scope.names.add(pname)
        info = _BlockInfo(Block(kind="routine"), None, "routine")
        before = len(self.problems)
        block = self.build_block(body["steps"], body, "steps", info, scope, f"{name}")
        if len(self.problems) == before:
            # A broken step assigns nothing, so reads after it would be reported for no reason.
            self.check_reads(scope)
            for child_scope in self.deferred_scopes:
                self.check_reads(child_scope)
        self.deferred_scopes.clear()
        self.jump_reports.append((name, self.unresolved_jumps))
        return Routine(name, tuple(params), block, where)

    # ---------------------------------------------------------------- blocks
    def build_block(
        self, raw: Any, owner: Any, key: Any, info: _BlockInfo, scope: _ScopeInfo, path: str
    ) -> Block:
        where = self.loc(owner, key, path)
        if not isinstance(raw, list):
            raise self.fail("`steps` must be a list of steps (`- name: {...}`)", where)
        if not raw:
            raise self.fail("`steps` must contain at least one step", where)
        block = info.block
        steps: list[Step] = []
        for position, item in enumerate(raw):
            item_loc = self.loc(raw, position, path)
            if not isinstance(item, dict) or len(item) != 1:
                stray = [key for key in item if key in STEP_KEYS] if isinstance(item, dict) else []
                names = [key for key in item if key not in STEP_KEYS] if isinstance(item, dict) else []
                if stray and len(names) == 1:
                    self.problem(
                        f"{stray[0]!r} stands beside the step name {names[0]!r} instead of inside it: indent it "
                        f"under {names[0]!r} (a step is `- {names[0]}:` followed by its keys, indented)",
                        self.loc(item, stray[0], path, of_key=True),
                    )
                else:
                    self.problem(
                        "each step is a map with exactly one key, the step name: `- my_step: {assign: ...}`",
                        item_loc,
                    )
                self.unnamed_problem[self.routine] = True
                continue
            (step_name, step_body), = item.items()
            step_loc = self.loc(item, step_name, f"{path}/{step_name}", of_key=True)
            if step_name in RESERVED_TARGETS:
                self.problem(f"{step_name!r} is reserved for `next` and cannot name a step", step_loc)
                self.unnamed_problem[self.routine] = True
                continue
            if step_name in self.step_names:
                first = self.step_names[step_name]
                self.problem(
                    f"duplicate step name {step_name!r} in routine {self.routine!r} "
                    f"(first used at line {first.line}); step names must be unique within a routine",
                    step_loc,
                )
                self.unnamed_problem[self.routine] = True
                continue
            self.step_names[step_name] = step_loc
            self.name_blocks.setdefault(step_name, []).append(info)
            info.names.add(step_name)
            block.index[step_name] = len(steps)
            try:
                step = self.build_step(step_name, step_body, item, info, scope, f"{path}/{step_name}", step_loc)
            except WorkflowSyntaxError as problem:
                # Recorded; the step stands as a no-op so the steps after it are checked too.
                self.report(problem)
                step = JumpStep(step_name, f"{path}/{step_name}", self.routine, step_loc, None)
            steps.append(step)
        block.steps = tuple(steps)
        self.resolve_jumps(info)
        return block

    def resolve_jumps(self, info: _BlockInfo) -> None:
        """Settle the jumps of a finished block; pass the others outward, up to a jump boundary.

        A jump may target a step of its own list or of an enclosing list (docs/semantics.md §1.4, the
        official `error_catch` sample jumps from ``except → switch`` to a top-level step), so a
        target not found here is looked up in the enclosing block once that block is complete.
        Loop bodies, parallel branches and the routine itself end the search; what is still
        unresolved there is reported at the end of the routine, when every name is known.
        """
        for jump in info.pending_jumps:
            if jump[0] in info.names:
                continue
            if info.kind in _JUMP_BOUNDARIES or info.parent is None:
                self.unresolved_jumps.append((*jump, info))
            else:
                info.parent.pending_jumps.append(jump)
        info.pending_jumps.clear()

    def report_bad_jumps(
        self, routine: str, unresolved: list[_PendingJump], names: dict[str, list[_BlockInfo]]
    ) -> None:
        """Explain the first jump of a routine that has no reachable target."""
        for target, where, origin, info in unresolved:
            holders = names.get(target, [])
            if not holders:
                hint = _suggest(target, names)
                elsewhere = [name for name, other in self.routine_names.items()
                             if name != routine and target in other]
                extra = (f"; {target!r} is a step of routine {elsewhere[0]!r}: steps of another routine cannot be "
                         "jump targets, call that subworkflow instead") if elsewhere else ""
                raise self.fail(
                    f"step {origin!r} jumps to {target!r}, but routine {routine!r} has no step of that "
                    f"name{hint}{extra}",
                    where,
                )
            chain = list(info.ancestors())
            holder = holders[0]
            if holder in chain:
                crossed = next(b for b in chain[: chain.index(holder)] if b.kind in _JUMP_BOUNDARIES)
                if crossed.kind == "for":
                    why = ("a jump cannot leave a for loop body: use `next: break` to leave the loop "
                           "(then the step after the loop runs), `next: continue`, return or raise")
                else:
                    why = ("a jump cannot leave a parallel branch or iteration: let the branch end, or raise an "
                           "error and catch it around the parallel step")
            else:
                why = ("a jump cannot enter a nested block (the steps of another step, a for body, a parallel "
                       "branch, a try or except block) or cross into another branch: jump to the step that "
                       "contains the target instead")
            raise self.fail(f"step {origin!r} cannot jump to {target!r}: {why}", where)

    def next_control(
        self, value: Any, owner: Any, info: _BlockInfo, origin: str, path: str
    ) -> Control:
        where = self.loc(owner, "next", path)
        if not isinstance(value, str) or not value:
            raise self.fail("`next` must be a step name, `end`, `break` or `continue`", where)
        if _EXPR_RE.match(value):
            raise self.fail("`next` takes a step name, not an expression: use a switch to choose a jump", where)
        if value == "end":
            if self.enclosing_branch(info) is not None:
                raise self.fail(
                    "`next: end` cannot be used inside a parallel branch or iteration: let the branch reach its "
                    "last step, or raise an error and catch it around the parallel step",
                    where,
                )
            return END
        if value in ("break", "continue"):
            loop = self.loop_kind(info)
            if loop is None:
                raise self.fail(
                    f"`next: {value}` is only allowed inside a for loop body (here it is outside any loop, or in "
                    "a parallel branch); use `next: end`, return, or jump to a step of this list",
                    where,
                )
            if loop == "pfor" and value == "break":
                raise self.fail(
                    "`next: break` cannot leave a parallel for: iterations run concurrently; use `next: continue` "
                    "to end this iteration, or raise an error to stop the others",
                    where,
                )
            return BREAK if value == "break" else CONTINUE
        # Resolved when the whole enclosing block is known (targets may come later).
        target_info = info
        target_info.pending_jumps.append((value, where, origin))
        return Jump(value)

    # ---------------------------------------------------------------- steps
    def build_step(
        self, name: str, body: Any, owner: Any, info: _BlockInfo, scope: _ScopeInfo, path: str, where: Location,
    ) -> Step:
        if not isinstance(body, dict):
            raise self.fail(f"step {name!r} must be a map of step keys (assign, call, switch, ...)", where)
        for key in body:
            if key not in STEP_KEYS:
                hint = _suggest(key, STEP_KEYS)
                raise self.fail(
                    f"unknown key {key!r} in step {name!r}{hint}; allowed keys: {', '.join(sorted(STEP_KEYS))}",
                    self.loc(body, key, path, of_key=True),
                )
        actions = [key for key in ACTION_KEYS if key in body]
        if len(actions) > 1:
            raise self.fail(
                f"step {name!r} has both {actions[0]!r} and {actions[1]!r}: a step does one thing; "
                "split it in two steps",
                self.loc(body, actions[1], path, of_key=True),
            )
        for dependent, needs in (("args", "call"), ("result", "call"), ("retry", "try"), ("except", "try")):
            if dependent in body and needs not in body:
                hint = (f" (is `{dependent}` indented too deep? it belongs at the level of `{needs}`)"
                        if dependent in ("retry", "except") else "")
                raise self.fail(
                    f"`{dependent}` needs `{needs}` in the same step{hint}",
                    self.loc(body, dependent, path, of_key=True),
                )
        nxt: Control = None
        if "next" in body:
            if actions and actions[0] in ("return", "raise"):
                raise self.fail(
                    f"`next` beside `{actions[0]}` is never used: {actions[0]} leaves the routine",
                    self.loc(body, "next", path, of_key=True),
                )
            nxt = self.next_control(body["next"], body, info, name, path)
        if not actions:
            if "next" not in body:
                raise self.fail(f"step {name!r} does nothing: give it assign, call, switch, ... or next", where)
            return JumpStep(name, path, self.routine, where, nxt)
        action = actions[0]
        common: _Common = (name, path, self.routine, where, nxt)
        if action == "assign":
            return AssignStep(*common, self.assign_items(body, scope, path))
        if action == "call":
            return self.call_step(common, body, scope, path)
        if action == "return":
            if self.enclosing_branch(info) is not None:
                raise self.fail(
                    "`return` cannot be used inside a parallel branch or iteration: store the value in a "
                    "variable listed in `shared` and return it after the parallel step",
                    self.loc(body, "return", path, of_key=True),
                )
            return ReturnStep(*common, self.template(body["return"], body, "return", path, scope))
        if action == "raise":
            return RaiseStep(*common, self.template(body["raise"], body, "raise", path, scope))
        if action == "steps":
            child = _BlockInfo(Block(kind="nested"), info, "nested")
            return StepsStep(*common, self.build_block(body["steps"], body, "steps", child, scope, path))
        if action == "switch":
            return self.switch_step(common, body, info, scope, path)
        if action == "for":
            return ForStep(*common, self.loop_spec(body["for"], body, "for", info, scope, path, parallel=None))
        if action == "parallel":
            return self.parallel_step(common, body, info, scope, path)
        return self.try_step(common, body, info, scope, path)

    @staticmethod
    def loop_kind(info: _BlockInfo) -> str | None:
        """``for`` or ``pfor`` for the innermost loop around a block, None outside loops (or in a branch)."""
        for block in info.ancestors():
            if block.kind in ("for", "pfor"):
                return block.kind
            if block.kind in ("branch", "routine"):
                return None
        return None

    @staticmethod
    def enclosing_branch(info: _BlockInfo) -> _BlockInfo | None:
        """The parallel branch or parallel-for body a block is in, if any."""
        for block in info.ancestors():
            if block.kind in ("branch", "pfor"):
                return block
        return None

    def assign_items(self, body: Any, scope: _ScopeInfo, path: str) -> tuple[tuple[AssignTarget, Template], ...]:
        raw = body["assign"]
        where = self.loc(body, "assign", path)
        if not isinstance(raw, list) or not raw:
            raise self.fail("`assign` must be a non-empty list of `- name: value` items", where)
        if len(raw) > self.limits.assign_items:
            raise self.fail(
                f"`assign` has {len(raw)} items; at most {self.limits.assign_items} are allowed: "
                "split it in several steps",
                where,
            )
        items: list[tuple[AssignTarget, Template]] = []
        for index, item in enumerate(raw):
            item_loc = self.loc(raw, index, path)
            if not isinstance(item, dict) or len(item) != 1:
                raise self.fail("each `assign` item is a map with one key: `- name: value`", item_loc)
            (target_text, value), = item.items()
            value_tpl = self.template(value, item, target_text, path, scope)
            target = self.assign_target(str(target_text), item_loc, scope)
            if not target.path:
                self.note_write(target.root, scope, item_loc)
            else:
                self.note_write(target.root, scope, item_loc, creates=False)
            items.append((target, value_tpl))
        return tuple(items)

    def assign_target(self, text: str, where: Location, scope: _ScopeInfo) -> AssignTarget:
        from .expr.parser import Index, Member, Var, parse_expression

        match = _EXPR_RE.match(text)
        if match:
            raise self.fail("an assignment target is a variable path like `a.b[0]`, not an expression", where)
        try:
            node = parse_expression(text)
        except ExprSyntaxError as exc:
            raise self.fail(f"invalid assignment target {text!r}: {exc.message}", where) from None
        parts: list[tuple[str, Callable[[Any], Any]]] = []
        while isinstance(node, (Member, Index)):
            if isinstance(node, Member):
                key = node.name
                parts.append(("key", _constant_fn(key)))
            else:
                compiled = self.compile_node(node.index, where, scope, text)
                parts.append(("index", compiled.fn))
            node = node.obj
        if not isinstance(node, Var):
            raise self.fail(f"invalid assignment target {text!r}: it must start with a variable name", where)
        if parts:
            scope.reads.append((node.name, where))
        return AssignTarget(node.name, tuple(reversed(parts)), text)

    def note_write(self, name: str, scope: _ScopeInfo, where: Location, *, creates: bool = True) -> None:
        """A write of ``name``: an enclosing scope's variable needs ``shared`` across a branch boundary.

        A plain write (``creates``) of a name no enclosing scope has makes it a variable of
        ``scope``; a path write (``m.k: v``, ``l[0]: v``) changes an existing variable in place.
        """
        current: _ScopeInfo | None = scope
        while current is not None:
            if name in current.names:
                if current is not scope:
                    self.check_shared_write(name, scope, current, where)
                return
            current = current.parent
        if creates:
            scope.names.add(name)

    def check_shared_write(self, name: str, scope: _ScopeInfo, owner: _ScopeInfo, where: Location) -> None:
        current: _ScopeInfo | None = scope
        while current is not None and current is not owner:
            if current.shared is not None and name not in current.shared:
                raise self.fail(
                    f"a parallel branch writes {name!r}, a variable of the enclosing scope that is not listed in "
                    f"`shared`; add it to the parallel step's `shared: [...]` list",
                    where,
                )
            current = current.parent

    def call_step(self, common: _Common, body: Any, scope: _ScopeInfo, path: str) -> CallStep:
        target = body["call"]
        where = self.loc(body, "call", path)
        if not isinstance(target, str) or not target:
            raise self.fail("`call` takes a function, subworkflow or connector name", where)
        subworkflow = target if target in self.ctx.subworkflows else None
        # The workflow's own subworkflow wins over a helper of the same name (`double`, `len`...),
        # as it does inside expressions (docs/decisions.md #36).
        function = None if subworkflow is not None else self.registry.get(target)
        raw_args = body.get("args")
        positional = isinstance(raw_args, list)
        args = None if raw_args is None else self.template(raw_args, body, "args", path, scope)
        if function is None and subworkflow is None:
            if not target.startswith(CONNECTOR_PREFIXES):
                hint = _suggest(target, set(self.registry.functions) | set(self.ctx.subworkflows))
                raise self.fail(f"call to unknown function or subworkflow {target!r}{hint}", where)
            self.routine_blocks[self.routine] = True
        if function is not None:
            if function.blocking:
                self.routine_blocks[self.routine] = True
            self.check_args(target, function.param_names, [p.name for p in function.params if p.required],
                            raw_args, body, path, function_name=True)
            self.check_callback_method(target, raw_args, path)
        if subworkflow is not None:
            self.routine_calls[self.routine].add(subworkflow)
            params = self.ctx.subworkflows[subworkflow]
            required = [p for p in params if p in self.required_params.get(subworkflow, frozenset())]
            self.check_args(target, params, required, raw_args, body, path, function_name=False)
        result = body.get("result")
        if result is not None:
            if not isinstance(result, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", result):
                raise self.fail("`result` must be a variable name", self.loc(body, "result", path))
            self.note_write(result, scope, self.loc(body, "result", path))
        return CallStep(*common, target, function, subworkflow, args, positional, result)

    def check_args(
        self, target: str, names: tuple[str, ...], required: list[str], raw: Any, body: Any, path: str,
        *, function_name: bool,
    ) -> None:
        where = self.loc(body, "args", path) if "args" in body else self.loc(body, "call", path)
        what = "function" if function_name else "subworkflow"
        if raw is None:
            raw = {}
        if isinstance(raw, dict):
            for key in raw:
                if key not in names:
                    raise self.fail(
                        f"{what} {target} has no parameter {key!r} (parameters: {', '.join(names) or 'none'})",
                        self.loc(raw, key, path, of_key=True),
                    )
            for key in required:
                if key not in raw:
                    raise self.fail(f"{what} {target} needs the argument {key!r}", where)
        elif isinstance(raw, list):
            if len(raw) > len(names):
                raise self.fail(f"{what} {target} takes at most {len(names)} arguments, {len(raw)} given", where)
            if len(raw) < len(required):
                raise self.fail(f"{what} {target} needs the arguments {', '.join(required)}", where)


def build_definition(source: Source, registry: Registry, limits: Limits) -> Definition:
    """Validate and compile a loaded source; raises `WorkflowSyntaxError` listing every problem found."""
    return _Builder(source, registry, limits).build()


__all__ = ["build_definition"]
