"""The step engine: runs blocks of steps for one execution.

Every step runner is a generator (``yield from`` chains up to the thread's
body) so that a blocking call anywhere deep inside nested steps, loops and
subworkflows suspends the whole thread. Control flow is returned, not raised:
a block returns `Jump`, `END`, `BREAK`, `CONTINUE` or `Return` when it cannot
handle the signal itself, and the enclosing block (or loop, or routine) takes
it. Workflows errors travel as `WorkflowError` exceptions so ``try`` steps can
catch them; a thread whose execution ended unwinds with `ExecutionStopped`, which
``try`` never catches.

Values are copied where Workflows' value semantics demand (a template that
may share a variable's list or map), never on reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, overload

from ..definition import (
    BREAK,
    CONTINUE,
    AssignStep,
    Block,
    CallStep,
    Control,
    Definition,
    ForStep,
    Jump,
    JumpStep,
    LoopSpec,
    ParallelStep,
    RaiseStep,
    Return,
    ReturnStep,
    Routine,
    Step,
    StepsStep,
    SwitchStep,
    TryStep,
)
from ..errors import WorkflowError, type_error, value_error, wf_error
from ..history import EventKind, event
from ..stdlib.registry import FunctionRef
from ..step_entries import STATE_CANCELLED, STATE_FAILED, STATE_IN_PROGRESS, STATE_SUCCEEDED
from ..values import copy_value, json_or_repr, nesting_error, type_name, value_size
from .threads import BLOCK, CHECKPOINT, CHECKPOINT_STEPS, PAUSE, PREEMPT, ExecutionStopped, Scope, WorkflowThread

if TYPE_CHECKING:
    from .host import ExecutionHost

Gen = Generator[Any, Any, Any]


class Engine:
    """Runs the steps of one execution's definition."""

    def __init__(self, definition: Definition, host: ExecutionHost) -> None:
        self.definition = definition
        self.host = host
        self.routines = definition.routines
        limits = host.limits
        self.step_limit = limits.steps
        self.call_depth = limits.call_depth
        self.string_limit = limits.string_bytes
        self.meter = host.memory
        self.record = host.record
        self.history = host.record.history
        #: (step path, outcome) per switch / try decision, only while a coverage reader listens (else None).
        self.decisions = host.record.decisions
        self.step_entries = host.record.step_entries
        self.clock = host.clock
        #: Asked before each step is entered while a test waits for a step (`Execution.run_until_step`):
        #: True stops the thread there (it yields `PAUSE`). None the rest of the time.
        self.pause_at: Callable[[WorkflowThread, Step], bool] | None = None
        self.dispatch: dict[type[Step], Callable[[Any, WorkflowThread], Gen]] = {
            CallStep: self.run_call,
            SwitchStep: self.run_switch,
            ForStep: self.run_for,
            ParallelStep: self.run_parallel,
            TryStep: self.run_try,
            RaiseStep: self.run_raise,
            ReturnStep: self.run_return,
            StepsStep: self.run_steps,
            JumpStep: self.run_jump,
        }

    # ------------------------------------------------------------------ routines
    def run_main(self, th: WorkflowThread, argument: Any, argument_size: int = 0) -> Gen:
        """The body of an execution's main thread; returns the result value.

        ``argument_size`` (the argument's JSON length, known from the size check) is what the
        argument counts against the memory limit, so it is not measured twice.
        """
        main = self.definition.main
        variables: dict[str, Any] = {}
        th.scope = Scope(variables)
        if main.params:
            variables[main.params[0].name] = argument
            self.meter.charge_size(th.scope, main.params[0].name, argument_size)
        th.routine = "main"
        control = yield from self.run_block(main.body, th)
        if isinstance(control, Return):
            return control.value
        return None

    def call_routine(self, routine: Routine, args: dict[str, Any], th: WorkflowThread) -> Gen:
        """Call a subworkflow with named arguments; returns its value (null on end / fall-through)."""
        if th.depth + 1 >= self.call_depth:
            raise wf_error(
                "RecursionError", f"maximum call depth ({self.call_depth}) exceeded calling {routine.name}"
            )
        variables: dict[str, Any] = {}
        for param in routine.params:
            if param.name in args:
                variables[param.name] = args[param.name]
            elif param.default is not None:
                variables[param.name] = param.default.evaluate(th)
            else:
                raise type_error(f"subworkflow {routine.name} is missing the argument {param.name!r}")
        unknown = [name for name in args if name not in variables]
        if unknown:
            raise type_error(f"subworkflow {routine.name} has no parameter {unknown[0]!r}")
        faked = self.host.fake_subworkflow(th, routine.name, variables)
        if faked is not None:  # a test's fake answers instead of the steps (subworkflows.py)
            return (yield from faked)
        saved_scope, saved_routine, saved_step = th.scope, th.routine, th.step
        scope = th.scope = Scope(variables)
        th.routine = routine.name
        th.depth += 1
        try:
            self.meter.charge_all(scope)
            control = yield from self.run_block(routine.body, th)
        finally:
            self.meter.release(scope)
            # Back in the caller's step: what happens next (its result, a retry) is the caller's.
            th.scope, th.routine, th.step = saved_scope, saved_routine, saved_step
            th.depth -= 1
        if isinstance(control, Return):
            return control.value
        return None

    def call_routine_positional(self, name: str, args: list[Any], th: WorkflowThread) -> Gen:
        """Call a subworkflow with positional arguments (expressions, list ``args``)."""
        routine = self.routines[name]
        if len(args) > len(routine.params):
            raise type_error(f"subworkflow {name} takes at most {len(routine.params)} arguments, {len(args)} given")
        named = {param.name: copy_value(value) for param, value in zip(routine.params, args, strict=False)}
        return (yield from self.call_routine(routine, named, th))

    # ------------------------------------------------------------------ blocks
    def run_block(self, block: Block, th: WorkflowThread) -> Gen:
        """Run steps in order, following jumps inside this block; return what it cannot handle."""
        steps = block.steps
        index = block.index
        count = len(steps)
        record = self.record
        history = self.history
        dispatch = self.dispatch
        clock = self.clock
        add_entry = self.step_entries.append
        succeeded = STATE_SUCCEEDED
        i = 0
        while i < count:
            step = steps[i]
            if self.pause_at is not None and self.pause_at(th, step):
                yield PAUSE  # the test looks inside here, before the step counts as entered
            entry_id = record.steps = record.steps + 1
            if th.stopped:
                raise ExecutionStopped()
            th.step = step
            now = clock.now_ns
            branch = th.branch_id
            history.append(event(EventKind.STEP_ENTERED, now, branch, step.name,
                                 routine=step.routine, line=step.loc.line))
            # The service's step entry (a row laid out in step_entries.py): in progress now, ended below.
            entry = [entry_id, step, branch, now, now, STATE_IN_PROGRESS, None]
            add_entry(entry)
            if th.preempt:
                yield PREEMPT
            elif not record.steps & (CHECKPOINT_STEPS - 1):
                yield CHECKPOINT  # lets the drive enforce real_time_budget inside a long computation
            try:
                if record.steps > self.step_limit:
                    # Raised inside the try so it names the step and its file:line like any other error.
                    raise wf_error(
                        "ResourceLimitError", f"the execution ran more than {self.step_limit} steps (limit `steps`)"
                    )
                try:
                    if type(step) is AssignStep:
                        self.run_assign_now(step, th)
                        control: Control = None
                    else:
                        control = yield from dispatch[type(step)](step, th)
                        entry[4] = clock.now_ns  # the step may have waited; an assign never does
                except RecursionError:
                    # A value nested deeper than any helper can walk (values past MAX_VALUE_DEPTH
                    # are refused when stored; this catches the rest, e.g. a deep json.decode
                    # compared at once): the workflow's doing, so a Workflows error at this step.
                    raise nesting_error() from None
            except WorkflowError as error:
                if not hasattr(error, "step"):
                    # First step the error passes through: where it was raised.
                    error.step = step  # type: ignore[attr-defined]
                    error.routine = th.routine  # type: ignore[attr-defined]
                    error.ns = clock.now_ns  # type: ignore[attr-defined]
                    error.branch = th.branch_id  # type: ignore[attr-defined]
                    history.append(event(EventKind.ERROR_RAISED, clock.now_ns, th.branch_id, step.name,
                                         routine=th.routine, error=copy_value(error.value)))
                # Every step the error leaves fails with it, as the service marks the enclosing steps.
                entry[5] = STATE_FAILED
                entry[6] = error.value
                entry[4] = clock.now_ns
                raise
            except BaseException:
                # The thread was stopped (cancel, a failing sibling branch) or the engine broke.
                entry[5] = STATE_CANCELLED
                entry[4] = clock.now_ns
                raise
            entry[5] = succeeded
            if control is None:
                control = step.next
                if control is None:
                    i += 1
                    continue
            if type(control) is Jump:
                target = index.get(control.target)
                if target is not None:
                    i = target
                    continue
            return control
        return None

    # ------------------------------------------------------------------ steps
    def run_assign_now(self, step: AssignStep, th: WorkflowThread) -> None:
        for target, template in step.items:
            value = template.fn(th)
            if not template.fresh:
                value = copy_value(value)
            kind = type(value)
            if kind is str:
                self.check_string(value, target.text)
            if not target.path:
                owner = th.scope.assign(target.root, value)
                if kind is list or kind is dict or kind is str or target.root in owner.sizes:
                    self.meter.charge(owner, target.root, value)
            else:
                delta = self.assign_path(target.root, target.path, value, th)
                holder = th.scope.holder(target.root)
                if holder is not None:  # assign_path found the root, so it is there
                    known = holder.sizes.get(target.root)
                    if known is not None:
                        # Incremental: the change of one member, not a walk of the whole value, so a
                        # loop filling a big map costs the same per step at 10 keys and at 50,000.
                        self.meter.charge_size(holder, target.root, known + delta)
                    else:
                        self.meter.charge(holder, target.root, holder.vars[target.root])

    def check_string(self, value: str, name: str) -> None:
        """ResourceLimitError when a string stored in a variable breaks the string limit (#23)."""
        limit = self.string_limit
        if len(value) * 4 > limit and len(value.encode("utf-8", "surrogatepass")) > limit:
            raise wf_error("ResourceLimitError", f"the string stored in {name} ({len(value)} characters) exceeds "
                           f"the {limit}-byte string limit (limit `string_bytes`)")

    def assign_path(self, root: str, path: Any, value: Any, th: WorkflowThread) -> int:
        """Store ``value`` at ``root[path...]``; return the change in the root's metered size (`value_size`)."""
        container = th.scope.lookup(root)
        last = len(path) - 1
        delta = 0
        for position, (_kind, key_fn) in enumerate(path):
            key = key_fn(th)
            ctype = type(container)
            if ctype is dict:
                if type(key) is not str:
                    raise type_error(f"map key must be a string, got {type_name(key)}")
                if position == last:
                    if key in container:
                        delta -= _member_size(container[key])
                    else:
                        delta += _key_size(key)
                    container[key] = value
                    return delta + _member_size(value, position + 1)
                child = container.get(key)
                if child is None and key not in container:
                    child = container[key] = {}
                    delta += _key_size(key) + 8
                container = child
            elif ctype is list:
                if type(key) is not int:
                    raise type_error(f"list index must be an integer, got {type_name(key)}")
                if key < 0 or key >= len(container):
                    raise wf_error("IndexError", f"list index {key} out of range (length {len(container)})")
                if position == last:
                    delta -= _member_size(container[key])
                    container[key] = value
                    return delta + _member_size(value, position + 1)
                container = container[key]
            else:
                raise type_error(f"cannot assign into a {type_name(container)}: only maps and lists have members")
        return delta

    def run_call(self, step: CallStep, th: WorkflowThread) -> Gen:
        function = step.function
        if function is not None:
            if step.args is None:
                args = function.bind_named({})
            else:
                raw = step.args.fn(th)
                if step.positional:
                    args = function.bind_positional(raw)
                elif type(raw) is dict:
                    args = function.bind_named(raw)
                else:
                    raise type_error(f"args of {step.target} must be a map or a list, got {type_name(raw)}")
            if function.blocking:
                result = yield from function.impl(th, *args)
            else:
                result = th.call(function, args)
                if not function.fresh:
                    result = copy_value(result)
        elif step.subworkflow is not None:
            routine = self.routines[step.subworkflow]
            if step.args is None:
                result = yield from self.call_routine(routine, {}, th)
            else:
                raw = step.args.evaluate(th)
                if type(raw) is list:
                    result = yield from self.call_routine_positional(step.subworkflow, raw, th)
                elif type(raw) is dict:
                    result = yield from self.call_routine(routine, raw, th)
                else:
                    raise type_error(f"args of {step.target} must be a map or a list, got {type_name(raw)}")
        else:
            result = yield from self.host.call_connector(th, step.target,
                                                         None if step.args is None else step.args.evaluate(th))
        if step.result is not None:
            kind = type(result)
            if kind is str:
                self.check_string(result, step.result)
            owner = th.scope.assign(step.result, result)
            if kind is list or kind is dict or kind is str or step.result in owner.sizes:
                self.meter.charge(owner, step.result, result)
        return None

    def run_switch(self, step: SwitchStep, th: WorkflowThread) -> Gen:
        for arm in step.arms:
            condition = arm.condition.fn(th)
            if type(condition) is not bool:
                raise type_error(f"switch condition must be a boolean, got {type_name(condition)}")
            if condition:
                if self.decisions is not None:  # coverage: which arm ran (its index)
                    self.decisions.append((step.path, step.arms.index(arm)))
                if arm.body is not None:
                    control = yield from self.run_inline(arm.body, th)
                    if control is not None:
                        return control
                return arm.next
        if self.decisions is not None:  # coverage: no condition was true
            self.decisions.append((step.path, len(step.arms)))
        return None

    def run_inline(self, step: Step, th: WorkflowThread) -> Gen:
        """Run a step body that is part of another step (switch arm, try body) without counting it."""
        if type(step) is AssignStep:
            self.run_assign_now(step, th)
            control: Control = None
        else:
            control = yield from self.dispatch[type(step)](step, th)
        return control if control is not None else step.next

    def loop_items(self, loop: LoopSpec, th: WorkflowThread) -> Sequence[Any]:
        """The values a loop runs over: the ``in`` list, or the inclusive ``range`` (lazily, for ints)."""
        if loop.items is not None:
            items = loop.items.evaluate(th)
            if type(items) is not list:
                raise type_error(f"for ... in needs a list, got {type_name(items)} (iterate a map with keys(m))")
            return items
        assert loop.range is not None
        bounds = loop.range.evaluate(th)
        if type(bounds) is not list or len(bounds) != 2:
            raise type_error("range needs a list of two numbers [begin, end]")
        begin, end = bounds
        if type(begin) not in (int, float) or type(end) not in (int, float):
            raise type_error(f"range bounds must be numbers, got {type_name(begin)} and {type_name(end)}")
        if type(begin) is int:
            # Both ends inclusive (docs/semantics.md §2.4); an int start counts in ints up to floor(end).
            return range(begin, math.floor(end) + 1)
        # A double start counts in doubles: [1.5, 4] -> 1.5, 2.5, 3.5.
        count = max(0, math.floor(end - begin) + 1)
        return _DoubleRange(float(begin), count)

    def run_for(self, step: ForStep, th: WorkflowThread) -> Gen:
        loop = step.loop
        items = self.loop_items(loop, th)
        parent = th.scope
        value_name, index_name, body = loop.value, loop.index, loop.body
        meter = self.meter
        try:
            for position, item in enumerate(items):
                variables = {value_name: item}
                if index_name:
                    variables[index_name] = position
                scope = th.scope = Scope(variables, parent)
                kind = type(item)
                if kind is list or kind is dict or kind is str:
                    meter.charge(scope, value_name, item)
                try:
                    control = yield from self.run_block(body, th)
                finally:
                    meter.release(scope)  # the iteration's variables vanish with it
                if control is None or control is CONTINUE:
                    continue
                if control is BREAK:
                    break
                return control
        finally:
            th.scope = parent
        return None

    def run_parallel(self, step: ParallelStep, th: WorkflowThread) -> Gen:
        limit = None
        if step.concurrency_limit is not None:
            limit = step.concurrency_limit.evaluate(th)
            if type(limit) is not int:
                raise type_error(f"concurrency_limit must be an integer, got {type_name(limit)}")
            if limit < 1:
                raise value_error("concurrency_limit must be at least 1")
        shared = frozenset(step.shared)
        specs: list[tuple[str, str, Any, Scope]] = []
        # A nested branch's id starts with its parent branch's, so the two `inner/fast` branches of
        # `outer[0]` and `outer[1]` stay two threads in the record, the timeline and the step entries.
        prefix = "" if th.branch_id is None else f"{th.branch_id}/"
        if step.loop is not None:
            loop = step.loop
            items = self.loop_items(loop, th)
            if len(items) > self.step_limit:
                raise wf_error("ResourceLimitError", f"a parallel for over {len(items)} values would run more than "
                               f"{self.step_limit} steps (limit `steps`)")
            for position, item in enumerate(items):
                variables = {loop.value: copy_value(item)}
                if loop.index:
                    variables[loop.index] = position
                label = item if type(item) is str else _label(item)
                branch_id = f"{prefix}{step.name}[{position}]"
                specs.append((label, branch_id, loop.body, Scope(variables, th.scope, shared)))
        else:
            for name, block in step.branches:
                specs.append((name, f"{prefix}{step.name}/{name}", block, Scope({}, th.scope, shared)))
        kernel = th.kernel
        join = kernel.start_parallel(th, step, specs, limit, self)
        yield BLOCK
        th.take_resume()
        if th.stopped:  # its execution ended meanwhile: unwind, nothing for a try to catch
            raise ExecutionStopped()
        if join.errors:
            raise WorkflowError(_unhandled_branch_error(join.sorted_errors()))
        return None

    def run_branch(self, th: WorkflowThread, block: Block) -> Gen:
        """Body of a branch thread."""
        scope = th.scope
        try:
            self.meter.charge_all(scope)
            control = yield from self.run_block(block, th)
        finally:
            self.meter.release(scope)
        if isinstance(control, Return):
            return control.value
        return None

    def run_try(self, step: TryStep, th: WorkflowThread) -> Gen:
        attempt = 0
        policy: tuple[Any, int, float, float, float] | None = None
        while True:
            try:
                if len(step.body.steps) == 1 and not step.body.index:
                    control = yield from self.run_inline(step.body.steps[0], th)
                else:
                    control = yield from self.run_block(step.body, th)
                if self.decisions is not None:  # coverage: the body ended without an error for except
                    self.decisions.append((step.path, 0))
                return control
            except WorkflowError as error:
                if step.retry is not None:
                    if policy is None:
                        policy = self.retry_policy(step, th)
                    predicate, max_retries, initial, max_delay, multiplier = policy
                    if attempt < max_retries:
                        should = yield from self.call_predicate(predicate, error.value, th)
                        if should:
                            attempt += 1
                            delay = backoff_delay(initial, multiplier, max_delay, attempt)
                            self.history.append(event(EventKind.RETRY, self.clock.now_ns, th.branch_id, step.name,
                                                      attempt=attempt, delay=delay))
                            yield from th.sleep(delay)
                            continue
                if step.except_body is None:
                    raise
                if self.decisions is not None:  # coverage: except caught the error
                    self.decisions.append((step.path, 1))
                return (yield from self.run_except(step, error, th))

    def run_except(self, step: TryStep, error: WorkflowError, th: WorkflowThread) -> Gen:
        assert step.except_body is not None
        parent = th.scope
        variables: dict[str, Any] = {}
        if step.except_as:
            variables[step.except_as] = copy_value(error.value)
        scope = th.scope = Scope(variables, parent)
        try:
            self.meter.charge_all(scope)
            return (yield from self.run_block(step.except_body, th))
        finally:
            self.meter.release(scope)
            th.scope = parent

    def retry_policy(self, step: TryStep, th: WorkflowThread) -> tuple[Any, int, float, float, float]:
        spec = step.retry
        assert spec is not None
        if spec.policy is not None:
            policy = spec.policy.evaluate(th)
            if type(policy) is not dict:
                raise type_error(f"retry policy must be a map, got {type_name(policy)}")
            predicate = policy.get("predicate")
            max_retries = policy.get("max_retries")
            backoff = policy.get("backoff") or {}
            initial, max_delay, multiplier = (backoff.get("initial_delay", 1), backoff.get("max_delay", 60),
                                              backoff.get("multiplier", 1.25))
        else:
            assert spec.predicate is not None
            assert spec.max_retries is not None
            predicate = spec.predicate.evaluate(th)
            max_retries = spec.max_retries.evaluate(th)
            initial = spec.initial_delay.evaluate(th) if spec.initial_delay else 1
            max_delay = spec.max_delay.evaluate(th) if spec.max_delay else 60
            multiplier = spec.multiplier.evaluate(th) if spec.multiplier else 1.25
        if not isinstance(predicate, FunctionRef):
            raise type_error(f"retry predicate must be a function or subworkflow, got {type_name(predicate)}")
        if type(max_retries) is not int or max_retries < 0:
            raise value_error(f"max_retries must be a non-negative integer, got {max_retries!r}")
        for name, number in (("initial_delay", initial), ("max_delay", max_delay), ("multiplier", multiplier)):
            if type(number) not in (int, float) or number < 0:
                raise value_error(f"backoff {name} must be a non-negative number, got {number!r}")
        return predicate, max_retries, float(initial), float(max_delay), float(multiplier)

    def call_predicate(self, predicate: FunctionRef, error: Any, th: WorkflowThread) -> Gen:
        if predicate.subworkflow:
            result = yield from self.call_routine_positional(predicate.name, [error], th)
        else:
            registry = self.host.functions
            function = registry.get(predicate.name)
            if function is None or function.blocking:
                raise type_error(f"{predicate.name} cannot be used as a retry predicate")
            result = th.call(function, function.bind_positional([error]))
        if type(result) is not bool:
            raise type_error(f"retry predicate {predicate.name} must return a boolean, got {type_name(result)}")
        return result

    def run_raise(self, step: RaiseStep, th: WorkflowThread) -> Gen:
        raise WorkflowError(step.value.evaluate(th))
        yield  # pragma: no cover

    def run_return(self, step: ReturnStep, th: WorkflowThread) -> Gen:
        return Return(step.value.evaluate(th))
        yield  # pragma: no cover

    def run_steps(self, step: StepsStep, th: WorkflowThread) -> Gen:
        return (yield from self.run_block(step.body, th))

    def run_jump(self, step: JumpStep, th: WorkflowThread) -> Gen:
        return None
        yield  # pragma: no cover


class _DoubleRange(Sequence[float]):
    """``begin, begin + 1.0, ...``: ``count`` doubles, computed on demand."""

    def __init__(self, begin: float, size: int) -> None:
        self.begin = begin
        self.size = size

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[float]: ...

    def __getitem__(self, index: int | slice) -> float | Sequence[float]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if not 0 <= index < self.size:
            raise IndexError(index)
        return self.begin + index


def step_type(step: Step) -> str:
    """The service's StepType name for a step (its REST reference, ``StepEntry.StepType``)."""
    kind = type(step)
    if kind is CallStep:
        assert isinstance(step, CallStep)
        if step.function is not None:
            return "STEP_STD_LIB_CALL"
        return "STEP_SUBWORKFLOW_CALL" if step.subworkflow is not None else "STEP_CONNECTOR_CALL"
    if kind is ParallelStep:
        assert isinstance(step, ParallelStep)
        return "STEP_PARALLEL_FOR" if step.loop is not None else "STEP_PARALLEL_BRANCH"
    return _STEP_TYPES.get(kind, "STEP_TYPE_UNSPECIFIED")


_STEP_TYPES: dict[type[Step], str] = {
    AssignStep: "STEP_ASSIGN", SwitchStep: "STEP_SWITCH", ForStep: "STEP_FOR", TryStep: "STEP_TRY_RETRY_EXCEPT",
    RaiseStep: "STEP_RAISE", ReturnStep: "STEP_RETURN", JumpStep: "STEP_GOTO",
    # A nested ``steps:`` block has no StepType of its own in the service's enum.
    StepsStep: "STEP_TYPE_UNSPECIFIED",
}


def _label(item: Any) -> str:
    return json_or_repr(item)


def _unhandled_branch_error(errors: list[tuple[str, Any]]) -> dict[str, Any]:
    branches = []
    for branch_id, value in errors:
        payload = json_or_repr(value)
        context = value.get("message") if isinstance(value, dict) and isinstance(value.get("message"), str) else payload
        branches.append({"id": branch_id, "error": {"context": context, "payload": payload}})
    count = len(branches)
    return {
        "message": f"UnhandledBranchError: {count} branch{'es' if count != 1 else ''} or iteration"
                   f"{'s' if count != 1 else ''} raised an unhandled error",
        "tags": ["UnhandledBranchError"],
        "branches": branches,
    }


def backoff_delay(initial: float, multiplier: float, max_delay: float, attempt: int) -> float:
    """The wait before retry ``attempt`` (1-based): ``initial * multiplier ** (attempt - 1)``, at most ``max_delay``.

    A growing delay passes a double's range after about 1,024 doublings (``multiplier: 2``
    with a large ``max_retries``); the service caps it at ``max_delay`` (docs/semantics.md
    §4.11), so an overflow is the cap, not an internal error.
    """
    try:
        delay = initial * multiplier ** (attempt - 1)
    except OverflowError:
        return max_delay
    return min(delay, max_delay)


def _member_size(value: Any, depth: int = 0) -> int:
    """What one member ``depth`` containers down adds to its root's `value_size` (8 for a scalar)."""
    kind = type(value)
    if kind is str or kind is list or kind is dict or kind is bytes:
        return value_size(value, depth)
    return 8


def _key_size(key: str) -> int:
    """What a map key adds to its map's `value_size`."""
    return len(key) if key.isascii() else len(key.encode("utf-8", "surrogatepass"))
