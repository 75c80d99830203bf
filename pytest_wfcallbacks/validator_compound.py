"""Deploy-time validation of the compound steps: ``switch``, ``for``, ``parallel`` and ``try``.

The half of the builder (validator.py) for the steps that hold blocks of their own:
their keys, their limits (conditions per switch, branches per parallel step, nesting
depth), the scopes their bodies see (loop variables, ``shared``, ``except: as``) and the
shapes the service refuses at deploy (docs/semantics.md §2). `_Builder` in validator.py
inherits it and supplies block and step building, which these steps recurse into.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .definition import (
    _EXPR_RE,
    Block,
    Control,
    LoopSpec,
    ParallelStep,
    Step,
    SwitchArm,
    SwitchStep,
    TryStep,
)
from .errors import Location
from .source import MarkedDict, key_mark_of, mark_of
from .validator_base import (
    _BlockInfo,
    _BuilderBase,
    _Common,
    _ScopeInfo,
    _suggest,
)


class _CompoundSteps(_BuilderBase):
    """Builders of the steps that contain blocks; `validator._Builder` supplies the recursion."""

    if TYPE_CHECKING:
        def build_block(
            self, raw: Any, owner: Any, key: Any, info: _BlockInfo, scope: _ScopeInfo, path: str
        ) -> Block: ...

        def build_step(
            self, name: str, body: Any, owner: Any, info: _BlockInfo, scope: _ScopeInfo, path: str, where: Location,
        ) -> Step: ...

        def resolve_jumps(self, info: _BlockInfo) -> None: ...

        def next_control(
            self, value: Any, owner: Any, info: _BlockInfo, origin: str, path: str
        ) -> Control: ...

    def switch_step(
        self, common: _Common, body: Any, info: _BlockInfo, scope: _ScopeInfo, path: str
    ) -> SwitchStep:
        raw = body["switch"]
        where = self.loc(body, "switch", path)
        if not isinstance(raw, list) or not raw:
            raise self.fail("`switch` must be a non-empty list of `- condition: ...` entries", where)
        if len(raw) > self.limits.switch_conditions:
            raise self.fail(
                f"`switch` has {len(raw)} conditions; at most {self.limits.switch_conditions} are allowed", where
            )
        arms: list[SwitchArm] = []
        for index, entry in enumerate(raw):
            arm_loc = self.loc(raw, index, f"{path}/condition[{index}]")
            if not isinstance(entry, dict) or "condition" not in entry:
                raise self.fail("each switch entry needs a `condition`", arm_loc)
            condition = self.template(entry["condition"], entry, "condition", path, scope)
            rest = MarkedDict()
            for key, value in entry.items():
                if key not in ("condition", "next"):
                    rest[key] = value
                    rest.key_marks[key] = key_mark_of(entry, key)
                    rest.value_marks[key] = mark_of(entry, key)
            arm_next: Control = None
            if "next" in entry:
                arm_next = self.next_control(entry["next"], entry, info, common[0], path)
            arm_body: Step | None = None
            if rest:
                arm_name = f"{common[0]}.condition[{index}]"
                arm_body = self.build_step(
                    arm_name, rest, raw, info, scope, f"{path}/condition[{index}]", arm_loc
                )
            action = [key_mark_of(entry, key)[0] for key in entry if key != "condition"]
            arms.append(SwitchArm(condition, arm_body, arm_next, arm_loc, action[0] if action else arm_loc.line))
        return SwitchStep(*common, tuple(arms))

    def loop_spec(
        self, raw: Any, owner: Any, key: str, info: _BlockInfo, scope: _ScopeInfo, path: str,
        *, parallel: frozenset[str] | None,
    ) -> LoopSpec:
        where = self.loc(owner, key, path)
        if not isinstance(raw, dict):
            raise self.fail("`for` must be a map with value, in or range, and steps", where)
        allowed = {"value", "index", "in", "range", "steps"}
        for k in raw:
            if k not in allowed:
                raise self.fail(
                    f"unknown key {k!r} in `for`; allowed: {', '.join(sorted(allowed))}",
                    self.loc(raw, k, path, of_key=True),
                )
        if "value" not in raw or not isinstance(raw["value"], str):
            raise self.fail("`for` needs `value`: the name of the loop variable", where)
        if ("in" in raw) == ("range" in raw):
            raise self.fail("`for` needs exactly one of `in` (a list) or `range` ([begin, end])", where)
        if "steps" not in raw:
            raise self.fail("`for` needs `steps`", where)
        index = raw.get("index")
        if index is not None and not isinstance(index, str):
            raise self.fail("`index` must be a variable name", self.loc(raw, "index", path))
        items = self.template(raw["in"], raw, "in", path, scope) if "in" in raw else None
        rng = None
        if "range" in raw:
            value = raw["range"]
            if isinstance(value, list):
                if len(value) != 2:
                    raise self.fail("`range` takes two values: [begin, end] (both inclusive)",
                                    self.loc(raw, "range", path))
            elif not (isinstance(value, str) and _EXPR_RE.match(value)):
                raise self.fail("`range` must be [begin, end] or an expression giving that list",
                                self.loc(raw, "range", path))
            rng = self.template(value, raw, "range", path, scope)
        child_scope = _ScopeInfo(scope, shared=parallel)
        child_scope.names.add(raw["value"])
        if index:
            child_scope.names.add(index)
        kind = "pfor" if parallel is not None else "for"
        child = _BlockInfo(Block(kind=kind), info, kind)
        body = self.build_block(raw["steps"], raw, "steps", child, child_scope, path)
        self.deferred_scopes.append(child_scope)
        return LoopSpec(raw["value"], index, items, rng, body)

    def parallel_step(
        self, common: _Common, body: Any, info: _BlockInfo, scope: _ScopeInfo, path: str
    ) -> ParallelStep:
        raw = body["parallel"]
        where = self.loc(body, "parallel", path)
        # Branches wait for each other: a routine with a parallel step blocks, like a blocking call.
        self.routine_blocks[self.routine] = True
        if not isinstance(raw, dict):
            raise self.fail("`parallel` must be a map with `branches` or `for`", where)
        allowed = {"branches", "for", "shared", "concurrency_limit", "exception_policy"}
        for k in raw:
            if k not in allowed:
                raise self.fail(
                    f"unknown key {k!r} in `parallel`; allowed: {', '.join(sorted(allowed))}",
                    self.loc(raw, k, path, of_key=True),
                )
        if ("branches" in raw) == ("for" in raw):
            raise self.fail("`parallel` needs exactly one of `branches` or `for`", where)
        shared_raw = raw.get("shared", [])
        if not isinstance(shared_raw, list) or not all(isinstance(s, str) for s in shared_raw):
            raise self.fail("`shared` must be a list of variable names", self.loc(raw, "shared", path))
        for index, name in enumerate(shared_raw):
            if not scope.visible(name):
                raise self.fail(
                    f"shared variable {name!r} must be assigned before the parallel step",
                    self.loc(shared_raw, index, path),
                )
        shared = frozenset(shared_raw)
        # "Note that `continueAll` is the only policy currently supported" (parallel steps reference).
        policy = raw.get("exception_policy")
        if policy is not None and policy != "continueAll":
            raise self.fail("`exception_policy` can only be `continueAll`", self.loc(raw, "exception_policy", path))
        limit = None
        if "concurrency_limit" in raw:
            limit = self.template(raw["concurrency_limit"], raw, "concurrency_limit", path, scope)
            if limit.constant and (type(limit.value) is not int or limit.value < 1):
                raise self.fail("`concurrency_limit` must be a positive integer",
                                self.loc(raw, "concurrency_limit", path))
        self.parallel_depth += 1
        try:
            if self.parallel_depth > self.limits.parallel_nesting:
                raise self.fail(
                    f"parallel steps are nested {self.parallel_depth} deep; at most "
                    f"{self.limits.parallel_nesting} levels are allowed",
                    where,
                )
            branches: list[tuple[str, Block]] = []
            branch_lines: list[int] = []
            loop = None
            if "branches" in raw:
                raw_branches = raw["branches"]
                bwhere = self.loc(raw, "branches", path)
                if not isinstance(raw_branches, list):
                    raise self.fail("`branches` must be a list of `- name: {steps: [...]}`", bwhere)
                if not self.limits.branches_min <= len(raw_branches) <= self.limits.branches_max:
                    raise self.fail(
                        f"`branches` has {len(raw_branches)} entries; a parallel step takes "
                        f"{self.limits.branches_min} to {self.limits.branches_max} branches "
                        "(use a parallel `for` for more)",
                        bwhere,
                    )
                for index, entry in enumerate(raw_branches):
                    eloc = self.loc(raw_branches, index, path)
                    if not isinstance(entry, dict) or len(entry) != 1:
                        raise self.fail("each branch is `- branch_name: {steps: [...]}`", eloc)
                    (bname, bbody), = entry.items()
                    bpath = f"{path}/{bname}"
                    if not isinstance(bbody, dict) or set(bbody) != {"steps"}:
                        raise self.fail(f"branch {bname!r} must be a map with only `steps`", eloc)
                    if bname in self.step_names:
                        raise self.fail(f"branch name {bname!r} is already used by a step or branch", eloc)
                    self.step_names[bname] = eloc
                    bscope = _ScopeInfo(scope, shared=shared)
                    binfo = _BlockInfo(Block(kind="branch"), info, "branch")
                    # Each branch is its own jump namespace: branches may reuse step names.
                    outer_names, self.step_names = self.step_names, {}
                    try:
                        block = self.build_block(bbody["steps"], bbody, "steps", binfo, bscope, bpath)
                    finally:
                        self.step_names = outer_names
                    self.deferred_scopes.append(bscope)
                    branches.append((str(bname), block))
                    branch_lines.append(eloc.line)
            else:
                loop = self.loop_spec(raw["for"], raw, "for", info, scope, path, parallel=shared)
        finally:
            self.parallel_depth -= 1
        return ParallelStep(*common, tuple(branches), loop, tuple(shared_raw), limit, tuple(branch_lines))

    def try_step(
        self, common: _Common, body: Any, info: _BlockInfo, scope: _ScopeInfo, path: str
    ) -> TryStep:
        raw = body["try"]
        where = self.loc(body, "try", path)
        child = _BlockInfo(Block(kind="try"), info, "try")
        if isinstance(raw, dict) and set(raw) == {"steps"}:
            block = self.build_block(raw["steps"], raw, "steps", child, scope, path)
        elif isinstance(raw, dict):
            self.check_try_body_is_not_a_loop(raw, path)
            inner_name = f"{common[0]}.try"
            inner = self.build_step(inner_name, raw, body, child, scope, f"{path}/try", where)
            block = child.block
            block.steps = (inner,)
            block.index = {}
            self.resolve_jumps(child)
        else:
            raise self.fail("`try` takes a step body (e.g. call + args) or `steps: [...]`", where)
        retry = self.retry_spec(body["retry"], body, path, scope) if "retry" in body else None
        if retry is not None:
            self.routine_blocks[self.routine] = True  # retries sleep their backoff: blocking
        except_as = None
        except_body = None
        if "except" in body:
            raw_except = body["except"]
            ewhere = self.loc(body, "except", path)
            if isinstance(raw_except, dict):
                for k in raw_except:
                    if k not in ("as", "steps"):
                        raise self.fail(f"unknown key {k!r} in `except`{_suggest(k, ('as', 'steps'))}; "
                                        "allowed: as, steps", self.loc(raw_except, k, path, of_key=True))
            if not isinstance(raw_except, dict) or "steps" not in raw_except:
                raise self.fail("`except` needs `steps` (and optionally `as: error_variable`)", ewhere)
            except_as = raw_except.get("as")
            if except_as is not None and not isinstance(except_as, str):
                raise self.fail("`as` must be a variable name", self.loc(raw_except, "as", path))
            escope = _ScopeInfo(scope)
            if except_as:
                escope.names.add(except_as)
            einfo = _BlockInfo(Block(kind="except"), info, "except")
            except_body = self.build_block(raw_except["steps"], raw_except, "steps", einfo, escope, f"{path}/except")
            self.deferred_scopes.append(escope)
        if retry is None and except_body is None:
            raise self.fail("`try` needs `retry`, `except` or both", where)
        return TryStep(*common, block, retry, except_as, except_body, key_mark_of(body, "try")[0],
                       key_mark_of(body, "except")[0] if except_body is not None else 0)


__all__ = ["_CompoundSteps"]
