# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the hooks of a resource graph in dependency order on a bounded
thread pool.

Links (P depends on child C), as in Karbor's resource flow:
  each node: prepare_begin -> prepare_finish -> main -> complete
  P.prepare_begin -> C.prepare_begin
  C.prepare_finish -> P.prepare_finish
  C.complete -> P.complete
A failed hook skips every task that depends on it; independent resources
still finish, so what they made is recorded and can be cleaned up.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Callable

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import FlowError, KarborError
from ansible_collections.karbor.protection.plugins.module_utils.flow.graph import GraphNode, iter_nodes
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    HOOKS, Operation)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource

TaskKey = tuple  # (Resource, hook)


class _Task:
    __slots__ = ('key', 'deps', 'dependents', 'state')

    def __init__(self, key: TaskKey) -> None:
        self.key = key
        self.deps: set = set()
        self.dependents: set = set()
        self.state = 'pending'  # pending, running, done, failed, skipped


def build_tasks(roots: list[GraphNode]) -> dict[TaskKey, _Task]:
    """The task DAG of a graph (exposed for tests)."""
    tasks: dict[TaskKey, _Task] = {}

    def task(res: Resource, hook: str) -> _Task:
        key = (res, hook)
        if key not in tasks:
            tasks[key] = _Task(key)
        return tasks[key]

    def link(before: _Task, after: _Task) -> None:
        after.deps.add(before.key)
        before.dependents.add(after.key)

    for node in iter_nodes(roots):
        res = node.value
        chain = [task(res, hook) for hook in HOOKS]
        for first, second in zip(chain, chain[1:]):
            link(first, second)
        for child in node.child_nodes:
            link(task(res, 'on_prepare_begin'), task(child.value, 'on_prepare_begin'))
            link(task(child.value, 'on_prepare_finish'), task(res, 'on_prepare_finish'))
            link(task(child.value, 'on_complete'), task(res, 'on_complete'))
    return tasks


class _FlowState:
    """The tasks of one run and what is known of them; every change under one lock."""

    def __init__(self, roots: list[GraphNode]) -> None:
        self.tasks = build_tasks(roots)
        self.failures: dict[str, str] = {}
        self.lock = threading.Lock()
        self.remaining = {k: set(t.deps) for k, t in self.tasks.items()}

    def initial(self) -> list[_Task]:
        return [t for t in self.tasks.values() if not t.deps]

    def _skip_downstream(self, task: _Task) -> None:
        stack = list(task.dependents)
        while stack:
            dep = self.tasks[stack.pop()]
            if dep.state == 'pending':
                dep.state = 'skipped'
                stack.extend(dep.dependents)

    def finish(self, task: _Task, error: BaseException | None) -> list[_Task]:
        """Record a task's end; the tasks it made ready (none when it failed:
        everything downstream of a failure is skipped)."""
        with self.lock:
            if error is not None:
                task.state = 'failed'
                res, hook = task.key
                message = error.msg if isinstance(error, KarborError) else (
                    '%s: %s' % (type(error).__name__, error))
                self.failures.setdefault(res.key, '%s failed: %s' % (hook, message))
                self._skip_downstream(task)
                return []
            task.state = 'done'
            newly_ready = []
            for key in task.dependents:
                self.remaining[key].discard(task.key)
                dep = self.tasks[key]
                if not self.remaining[key] and dep.state == 'pending':
                    newly_ready.append(dep)
            return newly_ready

    def raise_failures(self) -> None:
        if self.failures:
            raise FlowError('%d resource(s) failed: %s' % (
                len(self.failures),
                '; '.join('%s: %s' % item for item in sorted(self.failures.items()))),
                failures=self.failures)


class FlowExecutor:
    """Executes one operation (protect, restore, delete) over a graph."""

    def __init__(self, max_workers: int = 8) -> None:
        self.max_workers = max(1, int(max_workers))

    def run(self, roots: list[GraphNode], operations: dict[Resource, Operation],
            run_hook: Callable[[Resource, str, Operation], None],
            on_failure: Callable[[Resource, str, BaseException], None] | None = None,
            always: tuple[str, ...] = ()) -> None:
        """Call ``run_hook(resource, hook, operation)`` for every defined hook
        (and for the hooks in ``always``, so callers can track completion).

        Raises FlowError listing every failed resource once all runnable
        tasks have finished.
        """
        state = _FlowState(roots)
        ready = state.initial()

        def execute(task: _Task) -> None:
            res, hook = task.key
            run_hook(res, hook, operations[res])

        def needs_running(task: _Task) -> bool:
            res, hook = task.key
            return hook in always or operations[res].defines(hook)

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.max_workers,
                                                   thread_name_prefix='karbor-flow') as pool:
            running: dict[concurrent.futures.Future, _Task] = {}
            while ready or running:
                while ready:
                    task = ready.pop()
                    if task.state != 'pending':
                        continue
                    task.state = 'running'
                    if needs_running(task):
                        running[pool.submit(execute, task)] = task
                    else:  # nothing to call: done at once
                        ready.extend(state.finish(task, None))
                if not running:
                    break
                done, _pending = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    task = running.pop(future)
                    error = future.exception()
                    if error is not None and on_failure is not None:
                        _report_failure(on_failure, task, error)
                    ready.extend(state.finish(task, error))
        state.raise_failures()


def _report_failure(on_failure: Callable[[Resource, str, BaseException], None], task: _Task,
                    error: BaseException) -> None:
    """The caller's failure hook must not stop the flow."""
    try:
        on_failure(task.key[0], task.key[1], error)
    except Exception:  # pylint: disable=broad-except
        pass
