"""Hot reload of the workflow folder of ``wfcallbacks serve``.

A cheap poll, not an OS file-watching API: every ``interval`` seconds (half a
second by default) the folder is listed and each workflow file is ``stat``-ed.
A file counts as changed when its identity (inode, size, modification and
change times) differs from the last look; its bytes are then read and compared
with what was last deployed, so a save that rewrites the same text is no new
revision. Replacing a file by rename (what most editors do on save) gives it a
new inode, so it is never missed even when size and time stamps agree. The poll
runs on the serve loop's thread between turns, never in a loop of its own: no
busy waiting, no extra thread, and deploys never race the interpreter.

What a change does, as a redeploy on the service does: the workflow gets a new
revision; executions already running keep the `Workflow` object (and so the
revision) they started with; the next execution uses the new one. A file that no
longer deploys keeps its last good revision serving and its error is kept here
(``file:line:column: message``), printed once, shown by the Workflows API's
workflow resource (``stateError``) and by the web UI. A removed file removes its
workflow, like ``workflows.delete``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WorkflowSyntaxError

if TYPE_CHECKING:
    from ..runtime import Workflow, WorkflowRuntime

#: The files ``serve`` deploys, as ``WorkflowRuntime.deploy`` reads them.
WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")
_NAME_SUFFIXES = (".workflows.yaml", ".workflows.json", ".yaml", ".yml", ".json")


def workflow_name(path: Path) -> str:
    """The name ``WorkflowRuntime.deploy`` gives a workflow deployed from ``path``."""
    base = path.name
    for suffix in _NAME_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace(".", "-").replace("_", "-") or "workflow"


def describe_problem(exc: WorkflowSyntaxError, path: Path) -> str:
    """``file:line:column: message (step S)``, the form editors and terminals link to; one line per problem."""
    lines = []
    for problem in exc.problems:
        where = problem.file if problem.file not in ("", "<workflow>") else str(path)
        step = f" (step {problem.step})" if problem.step else ""
        lines.append(f"{where}:{problem.line}:{problem.column}: {problem.message}{step}")
    return "\n".join(lines)


@dataclass
class WatchedFile:
    """What the watcher knows about one workflow file."""

    path: Path
    name: str
    identity: tuple[int, int, int, int]
    digest: str = ""
    #: The deploy problem of the file's current contents ('' when they deployed).
    error: str = ""
    #: Whether a revision of this file is deployed (the last good one when ``error`` is set).
    deployed: bool = False


#: The change the watcher saw: (kind, workflow name, text) with kind ``deployed``, ``failed`` or ``removed``.
Change = tuple[str, str, str]


class FolderWatcher:
    """Polls a folder and redeploys, keeps or removes the workflows of its files."""

    def __init__(self, runtime: WorkflowRuntime, folder: Path, *, interval: float = 0.5,
                 on_change: Callable[[Change], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.runtime = runtime
        self.folder = folder
        self.interval = interval
        self.on_change = on_change
        self._monotonic = monotonic
        self._next_poll = 0.0
        #: Watched files by path.
        self.files: dict[Path, WatchedFile] = {}

    # ------------------------------------------------------------------ reading
    def errors(self) -> dict[str, str]:
        """Deploy problems by workflow name (files whose current contents do not deploy)."""
        return {f.name: f.error for f in self.files.values() if f.error}

    def error_for(self, name: str) -> str:
        """The deploy problem of workflow ``name``'s file, or ''."""
        return next((f.error for f in self.files.values() if f.name == name and f.error), "")

    def file_for(self, name: str) -> Path | None:
        """The file workflow ``name`` comes from, if it is watched."""
        return next((f.path for f in self.files.values() if f.name == name), None)

    # ------------------------------------------------------------------ polling
    def poll_if_due(self) -> list[Change]:
        """`poll` when ``interval`` has passed since the last poll (called by every turn of the serve loop)."""
        now = self._monotonic()
        if now < self._next_poll:
            return []
        self._next_poll = now + self.interval
        return self.poll()

    def poll(self) -> list[Change]:
        """Look at the folder once; deploy what changed; return the changes."""
        seen: dict[Path, tuple[int, int, int, int]] = {}
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            entries = []  # the folder itself went away (or is being replaced): every file counts as removed
        for entry in entries:
            if not entry.name.endswith(WORKFLOW_SUFFIXES) or entry.name.startswith("."):
                continue  # editors' swap and backup files (.x.yaml.swp, .#x.yaml) are not workflows
            try:
                info = entry.stat()
            except OSError:
                continue  # removed between the listing and the stat: the next poll sees it gone
            if not entry.is_file():
                continue
            seen[Path(entry.path)] = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        changes: list[Change] = []
        for path in sorted(set(self.files) - set(seen)):
            changes.extend(self._remove(self.files.pop(path)))
        for path in sorted(seen):
            known = self.files.get(path)
            if known is not None and known.identity == seen[path]:
                continue
            if known is None:
                known = self.files[path] = WatchedFile(path, workflow_name(path), seen[path])
            known.identity = seen[path]
            changes.extend(self._reload(known))
        for change in changes:
            if self.on_change is not None:
                self.on_change(change)
        return changes

    def _reload(self, watched: WatchedFile) -> list[Change]:
        try:
            data = watched.path.read_bytes()
        except OSError:
            return []  # replaced or removed while we looked: the next poll sees the result
        digest = hashlib.sha256(data).hexdigest()
        if digest == watched.digest:
            return []  # touched or rewritten with the same text: not a new revision
        watched.digest = digest
        runtime = self.runtime
        try:
            with runtime._kernel.lock:  # the API reads workflows under this lock on the server's threads
                workflow = runtime.deploy(watched.path)
        except WorkflowSyntaxError as exc:
            watched.error = describe_problem(exc, watched.path)
            return [("failed", watched.name, watched.error)]
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            watched.error = f"{watched.path}:1:1: cannot read the file: {exc}"
            return [("failed", watched.name, watched.error)]
        watched.error = ""
        watched.deployed = True
        watched.name = workflow.name
        return [("deployed", workflow.name, revision_of(runtime, workflow))]

    def _remove(self, watched: WatchedFile) -> list[Change]:
        runtime = self.runtime
        if any(f.name == watched.name for f in self.files.values()):
            return []  # another file (x.yml beside x.yaml) still provides this name
        if not watched.deployed:
            return [("removed", watched.name, "")] if watched.error else []
        from .. import api

        with runtime._kernel.lock:
            runtime._workflows.pop(watched.name, None)
            api._state(runtime).workflows.pop(watched.name, None)  # as workflows.delete does
        return [("removed", watched.name, "")]

    def adopt(self) -> None:
        """Take the folder's current files as known (``serve`` deployed them itself at start)."""
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            if not entry.name.endswith(WORKFLOW_SUFFIXES) or entry.name.startswith(".") or not entry.is_file():
                continue
            path = Path(entry.path)
            info = entry.stat()
            watched = WatchedFile(path, workflow_name(path), (info.st_ino, info.st_size, info.st_mtime_ns,
                                                              info.st_ctime_ns))
            try:
                watched.digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                continue
            watched.deployed = watched.name in self.runtime._workflows
            if watched.deployed:
                revision_of(self.runtime, self.runtime._workflows[watched.name])
            self.files[path] = watched


def revision_of(runtime: WorkflowRuntime, workflow: Workflow) -> str:
    """The ``revisionId`` the Workflows API gives ``workflow`` (fixed now, so later reads agree)."""
    from .. import api

    with runtime._kernel.lock:
        return str(api.workflow_json(runtime, workflow)["revisionId"])


__all__ = ["WORKFLOW_SUFFIXES", "Change", "FolderWatcher", "WatchedFile", "describe_problem", "revision_of",
           "workflow_name"]
