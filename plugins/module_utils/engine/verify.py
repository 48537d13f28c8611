# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify: whether a checkpoint could be restored, without restoring it
(Karbor's verification API, which only asked plugins for a status).

Level ``bank``: every object of the checkpoint is read back (its sha256 is
checked), and each resource's plugin checks what the checkpoint names
outside itself (a Cinder backup exists and is available; an image's chunks
are in the bank and referenced). Level ``data`` also reads and hashes the
chunks: all of them, or ``data_subset`` percent picked at random. Level
``drill`` makes the checks of level bank, then restores the checkpoint under
scratch names, compares and deletes what came back (engine/drill.py).

Every resource is checked whatever the others find, and every problem names
the object or backup at fault. A reader marker keeps deletes away while the
run reads (as for a restore); the verification record is written once, when
the run has ended. With ``dry_run`` (check mode) the checks run and nothing
is written: no lease, marker, log or record (and a drill restores nothing).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.engine import drill
from ansible_collections.karbor.protection.plugins.module_utils.engine.restore import (
    reading)
from ansible_collections.karbor.protection.plugins.module_utils.engine.run import (
    FlowRun, error_message, flow_operations)
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    VERIFY_LEVELS, Operation, OperationContext, VerifyOptions)
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
    Checkpoint)
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease


def verify_options(level: str, data_subset: int | None) -> VerifyOptions:
    """The options checked before anything is read."""
    if level not in VERIFY_LEVELS:
        raise InvalidInput('Verification level %r does not exist; use one of: %s.'
                           % (level, ', '.join(VERIFY_LEVELS)))
    subset = 100 if data_subset is None else data_subset
    if isinstance(subset, bool) or not isinstance(subset, int) or not 1 <= subset <= 100:
        raise InvalidInput('data_subset is the percentage of chunks read at level data: a '
                           'whole number from 1 to 100; got %r.' % (data_subset,))
    return VerifyOptions(level, subset)


def prepare_verify(engine: Any, provider_id: str, checkpoint_id: str, level: str = 'bank',
                   data_subset: int | None = None):
    """Every check made before the bank is read further: a bad input fails here."""
    options = verify_options(level, data_subset)
    provider = engine.provider(provider_id)
    collection = engine.checkpoints(provider)
    checkpoint = collection.get(checkpoint_id, engine.project_id)
    if checkpoint.status != R.CP_AVAILABLE:
        raise Conflict('Checkpoint %s is %s; only available checkpoints can be verified.'
                       % (checkpoint.id, checkpoint.status))
    roots = G.deserialize(checkpoint.resource_graph or '[{}, []]')
    for res in G.resources(roots):
        provider.plugin_for(res.type)
    if options.level == 'drill':
        drill.check_drillable(provider, G.resources(roots))
    return provider, collection, checkpoint, roots, options


def split_problems(checkpoint: Checkpoint, problems: dict[str, str],
                   resources: list[Resource]) -> tuple[dict[str, list[str]], list[str]]:
    """Bank problems by resource id (its section's objects), and the others
    (objects of the checkpoint no resource of its graph owns)."""
    prefix = '/checkpoints/%s/resource-data/' % checkpoint.id
    ids = {res.id for res in resources}
    by_resource: dict[str, list[str]] = {}
    others = []
    for key in sorted(problems):
        owner = key[len(prefix):].split('/', 1)[0] if key.startswith(prefix) else None
        if owner in ids:
            by_resource.setdefault(owner, []).append(problems[key])
        else:
            others.append(problems[key])
    return by_resource, others


class CheckedResource(Operation):
    """A plugin's verify operation together with what the read-back of the
    resource's bank objects found. It records the outcome instead of raising,
    so a failed resource never stops the checks of the resources above it."""

    def __init__(self, inner: Operation, found: list[str]) -> None:
        self.inner = inner
        self.found = found

    def on_main(self, ctx: OperationContext) -> None:
        problems = list(self.found)
        try:
            self.inner.on_main(ctx)
        except Exception as exc:  # pylint: disable=broad-except
            message = error_message(exc)
            if message not in problems:  # (a damaged object the plugin read again)
                problems.append(message)
        ctx.progress.add(resources_done=1)
        ctx.set_status(R.RES_FAILED if problems else R.RES_OK, ' '.join(problems) or None)


def verify(engine: Any, provider_id: str, checkpoint_id: str, level: str = 'bank',
           data_subset: int | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Verify a checkpoint; the verification record (with ``dry_run``, what
    it would be: nothing is written)."""
    provider, collection, checkpoint, roots, options = prepare_verify(
        engine, provider_id, checkpoint_id, level, data_subset)
    started = timeutil.now()
    with reading(provider, collection, checkpoint.id, dry_run) as lease:
        run, fields = _run_flow(engine, provider, roots, checkpoint, lease, options, dry_run,
                                timeutil.isoformat(started))
        if options.level == 'drill':
            if not dry_run:
                fields['id'] = str(uuid.uuid4())  # the drill's names carry it
            fields.update(drilled(engine, provider, checkpoint, roots, fields, dry_run))
        run.finish_log(fields['status'], fields['error'] or (' '.join(fields['problems'])
                                                             or None))
    ended = timeutil.now()
    fields.update({'provider_id': provider.id, 'checkpoint_id': checkpoint.id,
                   'plan_id': checkpoint.plan.get('id'), 'level': options.level,
                   'data_subset': options.data_subset if options.reads_data else None,
                   'started_at': timeutil.isoformat(started),
                   'ended_at': timeutil.isoformat(ended),
                   'duration': round((ended - started).total_seconds(), 3)})
    return engine.verifications.create(fields, dry_run=dry_run)


def _run_flow(engine: Any, provider: Any, roots: list[G.GraphNode], checkpoint: Checkpoint,
              lease: Lease, options: VerifyOptions, dry_run: bool,
              started_at: str) -> dict[str, Any]:
    resources = G.resources(roots)
    count, found = checkpoint.bank.check_all('/checkpoints/%s/' % checkpoint.id)
    by_resource, others = split_problems(checkpoint, found, resources)
    operations = {res: CheckedResource(op, by_resource.get(res.id, [])) for res, op in
                  flow_operations('verify', provider, roots).items()}
    lock = threading.Lock()
    statuses: dict[str, str] = {}
    reasons: dict[str, str] = {}

    def record_status(res: Resource, status: str, reason: str | None = None) -> None:
        with lock:
            statuses[res.key] = status
            if reason:
                reasons[res.key] = reason

    run = FlowRun(engine, 'verify', provider, roots, checkpoint, lease, record_status,
                  check_lease=False, counts_completions=False, operations=operations,
                  lock=lock, verification=options)
    if not dry_run:
        run.start_log(R.VERIFY_IN_PROGRESS, started_at, {'level': options.level})
    error = run.execute_capturing()
    failed = error or others or any(s != R.RES_OK for s in statuses.values())
    status = R.VERIFY_FAIL if failed else R.VERIFY_SUCCESS
    return run, {'status': status, 'resources_status': statuses, 'resources_reason': reasons,
                 'problems': others, 'error': error, 'objects_read': count,
                 'progress': run.progress.to_dict()}


def drilled(engine: Any, provider: Any, checkpoint: Checkpoint, roots: list[G.GraphNode],
            fields: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """The checks' record with the drill's outcome merged in; no drill in
    check mode or when the checks failed (it would restore a known-bad copy)."""
    merged = {'restore_id': None, 'restore_status': None, 'restore_duration': None,
              'cleanup': None, 'drill_skipped': None}
    if dry_run:
        merged['drill_skipped'] = 'check mode: only the checks ran; nothing was restored.'
        return merged
    if fields['status'] != R.VERIFY_SUCCESS:
        merged['drill_skipped'] = 'the checks failed; nothing was restored.'
        return merged
    outcome = drill.run_drill(engine, provider, checkpoint, roots, fields['id'])
    statuses, reasons = dict(fields['resources_status']), dict(fields['resources_reason'])
    for key, found in outcome['failures'].items():
        statuses[key] = R.RES_FAILED
        reasons[key] = ' '.join(([reasons[key]] if reasons.get(key) else []) + found)
    problems = list(fields['problems']) + outcome['problems']
    failed = problems or any(s != R.RES_OK for s in statuses.values())
    merged.update({key: outcome[key] for key in ('restore_id', 'restore_status',
                                                 'restore_duration', 'cleanup')})
    merged.update({'status': R.VERIFY_FAIL if failed else R.VERIFY_SUCCESS,
                   'resources_status': statuses, 'resources_reason': reasons,
                   'problems': problems})
    return merged
