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
        tasks = build_tasks(roots)
        failures: dict[str, str] = {}
        lock = threading.Lock()
        ready = [t for t in tasks.values() if not t.deps]
        remaining = {k: set(t.deps) for k, t in tasks.items()}

        def skip_downstream(task: _Task) -> None:
            stack = list(task.dependents)
            while stack:
                key = stack.pop()
                dep = tasks[key]
                if dep.state == 'pending':
                    dep.state = 'skipped'
                    stack.extend(dep.dependents)

        def finish(task: _Task, error: BaseException | None) -> list[_Task]:
            newly_ready = []
            with lock:
                if error is not None:
                    task.state = 'failed'
                    res, hook = task.key
                    message = error.msg if isinstance(error, KarborError) else (
                        '%s: %s' % (type(error).__name__, error))
                    failures.setdefault(res.key, '%s failed: %s' % (hook, message))
                    skip_downstream(task)
                    return newly_ready
                task.state = 'done'
                for key in task.dependents:
                    remaining[key].discard(task.key)
                    dep = tasks[key]
                    if not remaining[key] and dep.state == 'pending':
                        newly_ready.append(dep)
            return newly_ready

        def execute(task: _Task) -> None:
            res, hook = task.key
            run_hook(res, hook, operations[res])

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.max_workers,
                                                   thread_name_prefix='karbor-flow') as pool:
            running: dict[concurrent.futures.Future, _Task] = {}
            while ready or running:
                while ready:
                    task = ready.pop()
                    if task.state != 'pending':
                        continue
                    res, hook = task.key
                    if hook not in always and not operations[res].defines(hook):
                        task.state = 'running'
                        ready.extend(finish(task, None))
                        continue
                    task.state = 'running'
                    running[pool.submit(execute, task)] = task
                if not running:
                    break
                done, _pending = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    task = running.pop(future)
                    error = future.exception()
                    if error is not None and on_failure is not None:
                        try:
                            on_failure(task.key[0], task.key[1], error)
                        except Exception:  # pylint: disable=broad-except
                            pass
                    ready.extend(finish(task, error))
        if failures:
            raise FlowError('%d resource(s) failed: %s' % (
                len(failures), '; '.join('%s: %s' % item for item in sorted(failures.items()))),
                failures=failures)
