# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run skeleton every flow over a checkpoint shares (protect, restore,
delete, verify; copy later): the operations and their contexts, the
operation log, the hook runner with its fault points, and error capture.

What differs between flows is passed in: where per-resource statuses go
(the checkpoint's index, the restore record, the resource sections), whether
the lease is checked before each hook, and whether completions are counted.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import KarborError
from ansible_collections.karbor.protection.plugins.module_utils.common.faults import fault_point
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.common.schema import (
    merged_parameters)
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.flow.executor import FlowExecutor
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext, Progress, VerifyOptions)

StatusSink = Callable[[Resource, str, 'str | None'], None]


def flow_operations(operation: str, provider: Any,
                    roots: list[G.GraphNode]) -> dict[Resource, Operation]:
    """The plugin operation of every resource of the graph."""
    return {node.value: provider.plugin_for(node.value.type).operation_for(
        operation, node.value) for node in G.iter_nodes(roots)}


def operation_context(engine: Any, operation: str, provider: Any, res: Resource,
                      parameters: dict | None, checkpoint: Any, progress: Progress,
                      **fields: Any) -> OperationContext:
    """One resource's context; ``checkpoint`` None for a read ahead (it
    cannot write: the checkpoint does not exist yet)."""
    return OperationContext(
        operation=operation, resource=res,
        parameters=merged_parameters(parameters or {}, res.type, res.id),
        checkpoint=checkpoint,
        section=checkpoint.resource_section(res.id) if checkpoint is not None else None,
        cloud=fields.pop('cloud', None) or engine.cloud,
        new_resources=fields.pop('new_resources', {}), progress=progress,
        timeout=engine.timeout, config=provider.plugin_for(res.type).config, **fields)


def error_message(exc: BaseException) -> str:
    """What a run records when it stops on ``exc``."""
    if isinstance(exc, KarborError):
        return exc.msg
    return 'Unexpected %s: %s' % (type(exc).__name__, exc)


class FlowRun:
    """One run of ``operation`` over a checkpoint's resource graph."""

    def __init__(self, engine: Any, operation: str, provider: Any, roots: list[G.GraphNode],
                 checkpoint: Any, lease: Any, status_sink: StatusSink,
                 parameters: dict | None = None, check_lease: bool = True,
                 counts_completions: bool = True,
                 operations: dict[Resource, Operation] | None = None,
                 restore: Any = None, lock: Any = None,
                 on_new_resource: Callable[[], None] | None = None,
                 progress: Progress | None = None,
                 verification: VerifyOptions | None = None, target: Any = None) -> None:
        self.engine = engine
        #: the engine of the cloud a restore elsewhere creates in (None: the engine's own)
        self.target = target
        self.operation = operation
        self.provider = provider
        self.roots = roots
        self.checkpoint = checkpoint
        self.lease = lease
        self.status_sink = status_sink
        self.check_lease = check_lease
        self.counts_completions = counts_completions
        self.resources = G.resources(roots)
        self.progress = progress or Progress()
        self.progress.add(resources_total=len(self.resources))
        self.lock = lock or threading.Lock()
        self.new_resources: dict[str, str] = {}
        self.operations = operations or flow_operations(operation, provider, roots)
        self.verification = verification
        self.contexts = {node.value: self._context(node, parameters, restore, on_new_resource)
                         for node in G.iter_nodes(roots)}
        self.log: dict | None = None

    def _context(self, node: G.GraphNode, parameters: dict | None, restore: Any,
                 on_new_resource: Callable[[], None] | None) -> OperationContext:
        res = node.value
        return operation_context(
            self.engine, self.operation, self.provider, res, parameters, self.checkpoint,
            self.progress, new_resources=self.new_resources,
            children=[c.value for c in node.child_nodes], restore=restore,
            check_lease=self.lease.check_valid, lock=self.lock, on_new_resource=on_new_resource,
            previous_checkpoints=self._previous_checkpoints, verification=self.verification,
            cloud=self.target.cloud if self.target is not None else None,
            restore_elsewhere=self.target is not None,
            set_status=(lambda status, reason=None, _res=res: self.status_sink(_res, status,
                                                                               reason)))

    def _previous_checkpoints(self, limit: int) -> list:
        """The plan's newest available checkpoints other than this run's."""
        listed = self.engine.checkpoints(self.provider).list(
            self.checkpoint.project_id, plan_id=self.checkpoint.plan.get('id'),
            status=R.CP_AVAILABLE, limit=limit)
        return [older for older in listed if older.id != self.checkpoint.id]

    # -- before the flow ---------------------------------------------------------
    def precheck(self) -> None:
        """Every plugin may refuse the run before anything changes."""
        for res, operation in self.operations.items():
            operation.precheck(self.contexts[res])

    def start_log(self, status: str, started_at: str | None, extra_info: dict | None = None,
                  **ids: Any) -> dict:
        self.log = self.engine.operation_logs.start(
            self.operation, status, started_at, extra_info, checkpoint_id=self.checkpoint.id,
            plan_id=self.checkpoint.plan.get('id'), provider_id=self.provider.id, **ids)
        return self.log

    # -- the flow ------------------------------------------------------------------
    def execute(self) -> None:
        """Every hook in dependency order; raises what stopped the flow
        (FlowError naming each failed resource)."""
        fault_point(self.operation + '.prepare')
        reporting = self.counts_completions
        FlowExecutor(self.engine.max_workers).run(
            self.roots, self.operations, self._run_hook,
            self._on_failure if reporting else None,
            always=('on_complete',) if reporting else ())
        fault_point(self.operation + '.complete')

    def execute_capturing(self) -> str | None:
        """As execute(), but what stopped the flow is returned as the error
        to record (None when every resource succeeded)."""
        try:
            self.execute()
        except Exception as exc:  # pylint: disable=broad-except
            return error_message(exc)
        return None

    def _run_hook(self, res: Resource, hook: str, operation: Operation) -> None:
        if self.check_lease:
            self.lease.check_valid()
        getattr(operation, hook)(self.contexts[res])
        if hook == 'on_main':
            fault_point(self.operation + '.main')
        if hook == 'on_complete' and self.counts_completions:
            self.progress.add(resources_done=1)
            self.status_sink(res, R.RES_AVAILABLE, None)

    def _on_failure(self, res: Resource, hook: str, exc: BaseException) -> None:
        self.status_sink(res, R.RES_ERROR, '%s: %s' % (hook, getattr(exc, 'msg', None) or exc))

    # -- after the flow ------------------------------------------------------------
    def finish_log(self, status: str, error: str | None) -> None:
        if self.log is not None:
            self.engine.operation_logs.finish(self.log, status, error)
