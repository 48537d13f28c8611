# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Protect: a plan into a new checkpoint.

Everything that can be checked is checked before the bank is touched, so
bad input leaves nothing. The checkpoint's index.json goes out with the
run's lease in one round trip; statuses are written as the flow goes, so a
run killed at any line leaves a checkpoint a later run marks ``error``.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.faults import fault_point
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.engine import scope
from ansible_collections.karbor.protection.plugins.module_utils.engine.detach import (
    detach, in_child)
from ansible_collections.karbor.protection.plugins.module_utils.engine.run import (
    FlowRun, flow_operations, operation_context)
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, Progress)
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
    Checkpoint)
from ansible_collections.karbor.protection.plugins.module_utils.storage.index_writer import (
    IndexWriter)
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease


def protect(engine: Any, plan: dict[str, Any], extra_info: dict | None = None,
            wait: bool = True) -> Checkpoint:
    """Create a checkpoint of ``plan``; with ``wait`` false the flow goes on
    in a detached child and the checkpoint is returned ``protecting``."""
    provider = engine.provider(plan['provider_id'])
    resources = scope.plan_resources(engine, provider, plan)
    roots = scope.plan_graph(engine, provider, plan, resources)
    if plan.get('resource_query'):
        # resolved once, recorded in the checkpoint as the plan it protected
        plan = dict(plan, resources=resources, resource_query=None,
                    selected_by=plan['resource_query'])
    collection = engine.checkpoints(provider)
    lease = Lease(collection.bank, **provider.lease_windows())
    extra = {'created_by': 'manual'}
    extra.update(extra_info or {})
    operations = flow_operations('protect', provider, roots)
    try:
        if wait:  # (a detached run forks: threads reading ahead would not follow it)
            _read_ahead(engine, provider, plan, operations, collection.bank)
        # The lease goes out with the checkpoint's first writes (one round
        # trip); a reader never reaps a checkpoint younger than the lease
        # window, so it cannot be taken for a zombie in between.
        checkpoint = collection.create(plan, engine.project_id, lease.owner_id, extra, fields={
            'resource_graph': G.serialize(roots),
            'resources_status': {r.key: R.RES_PROTECTING for r in G.resources(roots)}},
            alongside=lease.acquire)
    except BaseException:
        lease.release()
        _drop_read_ahead(operations)
        raise
    try:
        progress = Progress()
        index = IndexWriter(checkpoint, progress)
        run = FlowRun(engine, 'protect', provider, roots, checkpoint, lease,
                      index.resource_status, parameters=plan.get('parameters') or {},
                      operations=operations, progress=progress)
        run.start_log(R.CP_PROTECTING, checkpoint.data['created_at'], extra,
                      scheduled_operation_id=extra.get('scheduled_operation_id'))
    except BaseException:
        _drop_read_ahead(operations)
        raise

    def work() -> None:
        try:
            _run_flow(run, index)
        finally:
            _drop_read_ahead(operations)

    if wait:
        work()
    else:
        detach(in_child(engine, lease, work))
    return checkpoint


def _run_flow(run: FlowRun, index: IndexWriter) -> None:
    error = run.execute_capturing()
    status = R.CP_ERROR if error else R.CP_AVAILABLE
    lease = run.lease
    # The lease may go with the final index write while the checkpoint is
    # well inside the grace in which no reader reaps it (leaseless or not);
    # older ones keep it until the index says how they ended.
    age = (timeutil.now() - run.checkpoint.created).total_seconds()
    early = age < lease.expire_window / 2
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        released = pool.submit(lease.release) if early else None
        index.finish(status, error)
        fault_point('protect.index')
        released = released or pool.submit(lease.release)
        run.finish_log(status, error)
        released.result()


def _read_ahead(engine: Any, provider: Any, plan: dict,
                operations: dict[Resource, Operation], bank: Any) -> None:
    """Let plugins start reading while the checkpoint's first writes are in
    flight (their contexts have no checkpoint: they cannot write)."""
    for res, operation in operations.items():
        if operation.defines('read_ahead'):
            operation.read_ahead(operation_context(
                engine, 'protect', provider, res, plan.get('parameters') or {}, None,
                Progress()), bank)


def _drop_read_ahead(operations: dict[Resource, Operation]) -> None:
    for operation in operations.values():
        operation.drop_read_ahead()
