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
scratch names, compares and deletes what came back (engine/drill.py), in
the engine's project or, with a ``target`` engine, in another project or
cloud (a restore elsewhere: engine/target.py).

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
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.engine import drill
from ansible_collections.karbor.protection.plugins.module_utils.engine.restore import (
    reading)
from ansible_collections.karbor.protection.plugins.module_utils.engine.run import (
    FlowRun, error_message, flow_operations)
from ansible_collections.karbor.protection.plugins.module_utils.engine.target import (
    elsewhere_target, target_description, target_label)
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


def drill_target(engine: Any, level: str, target: Any) -> Any:
    """The engine a drill restores into (None: the engine's own project).
    Why here: a target that refuses its credentials, or one given for a level
    that restores nothing, fails before anything is read or written."""
    if target is None:
        return None
    if level != 'drill':
        raise InvalidInput('target_cloud / target_auth name where a drill restores; they '
                           'apply to level drill only, not level %s.' % level)
    return elsewhere_target(engine, target)


def prepare_verify(engine: Any, provider_id: str, checkpoint_id: str, level: str = 'bank',
                   data_subset: int | None = None):
    """Every check made before the bank is read further: a bad input fails here."""
    options = verify_options(level, data_subset)
    provider = engine.provider(provider_id)
    collection = engine.checkpoints(provider)
    checkpoint = collection.get_available(checkpoint_id, engine.project_id, 'verified')
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
           data_subset: int | None = None, dry_run: bool = False,
           target: Any = None) -> dict[str, Any]:
    """Verify a checkpoint; the verification record (with ``dry_run``, what
    it would be: nothing is written). ``target``: the engine of another
    project or cloud a drill restores into (level drill only)."""
    target = drill_target(engine, level, target)
    provider, collection, checkpoint, roots, options = prepare_verify(
        engine, provider_id, checkpoint_id, level, data_subset)
    started = timeutil.now()
    with reading(provider, collection, checkpoint.id, dry_run) as lease:
        run, fields = _run_flow(engine, provider, roots, checkpoint, lease, options, dry_run,
                                timeutil.isoformat(started))
        if options.level == 'drill':
            if not dry_run:
                fields['id'] = str(uuid.uuid4())  # the drill's names carry it
            fields['drill_target'] = target_description(target)
            fields.update(drilled(engine, provider, checkpoint, roots, fields, dry_run, target))
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
            fields: dict[str, Any], dry_run: bool, target: Any = None) -> dict[str, Any]:
    """The checks' record with the drill's outcome merged in; no drill in
    check mode, when the checks failed (it would restore a known-bad copy),
    or when the restore into ``target`` would refuse a resource (each one is
    failed with the restore's reason, check mode too)."""
    merged = {'restore_id': None, 'restore_status': None, 'restore_duration': None,
              'cleanup': None, 'drill_skipped': None}
    refused = drill.target_refusals(engine, provider, checkpoint, roots,
                                    fields.get('id') or 'check-mode', target)
    if refused:
        merged.update(merge_failures(fields, {
            key: ['drill: a restore into project %s cannot make it: %s'
                  % (target_label(target), reason)] for key, reason in refused.items()},
            []))
        merged['drill_skipped'] = ('a restore into project %s cannot make %d resource(s) '
                                   '(see resources_reason); nothing was restored.'
                                   % (target_label(target), len(refused)))
        return merged
    if dry_run:
        merged['drill_skipped'] = 'check mode: only the checks ran; nothing was restored.'
        return merged
    if fields['status'] != R.VERIFY_SUCCESS:
        merged['drill_skipped'] = 'the checks failed; nothing was restored.'
        return merged
    outcome = drill.run_drill(engine, provider, checkpoint, roots, fields['id'], target)
    merged.update({key: outcome[key] for key in ('restore_id', 'restore_status',
                                                 'restore_duration', 'cleanup')})
    merged.update(merge_failures(fields, outcome['failures'], outcome['problems']))
    return merged


def merge_failures(fields: dict[str, Any], failures: dict[str, list[str]],
                   problems: list[str]) -> dict[str, Any]:
    """The checks' statuses, reasons and problems with the drill's added
    (a resource's reasons are joined after what the checks found), and the
    status they give."""
    statuses, reasons = dict(fields['resources_status']), dict(fields['resources_reason'])
    for key, found in failures.items():
        statuses[key] = R.RES_FAILED
        reasons[key] = ' '.join(([reasons[key]] if reasons.get(key) else []) + found)
    problems = list(fields['problems']) + problems
    failed = problems or fields.get('error') or any(s != R.RES_OK for s in statuses.values())
    return {'status': R.VERIFY_FAIL if failed else R.VERIFY_SUCCESS,
            'resources_status': statuses, 'resources_reason': reasons, 'problems': problems}
