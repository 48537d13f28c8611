# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one claimed fire time of a scheduled operation does, by its type.

The scheduler (scheduler.py) claims the fire time and keeps its claim and
log; this file only runs it, through the engine's own services: a protect
is ``engine.protect`` (then ``engine.retention``), a copy
``engine.copy_checkpoints`` (what checkpoint_copy runs), a verify
``engine.verify`` (what checkpoint_verify runs). No flow is repeated here, so
a scheduled copy or verify is the same run as one made by hand.

Each executor fills the run's entry (the checkpoints it handled and, under
one of ``DETAILS``, what it did) and raises a KarborError when the fire time
failed; the scheduler records both in the claim and the log.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine.time_trigger import iso

CREATED_BY = 'operation-engine'  # Karbor's value for scheduled checkpoints
#: what an execution records beside its state, in the entry, the claim and the log
DETAILS = ('retention', 'copied', 'verify')
#: what a copy records of each checkpoint it copied
COPY_FIELDS = ('checkpoint_id', 'changed', 'objects_sent', 'bytes_sent')


@dataclass
class FireTime:
    """One claimed fire time and what its run may use."""

    engine: Any
    operation: dict[str, Any]
    fire: datetime.datetime
    #: the AWX ids of the job (scheduler.AWX_FIELDS), recorded with what is made
    context: dict[str, str]
    #: the engine of a copy's target, made on first use: credentials come with the run,
    #: never from the bank
    target: Callable[[], Any]

    @property
    def definition(self) -> dict[str, Any]:
        return self.operation.get('operation_definition') or {}

    def origin(self) -> dict[str, Any]:
        """Which operation and fire time made something (extra_info, copied_from)."""
        found = {'scheduled_operation_id': self.operation['id'],
                 'trigger_id': self.operation['trigger_id'], 'fire_time': iso(self.fire)}
        found.update(self.context)
        return found


def scheduled_plan(run: FireTime) -> dict[str, Any]:
    definition = run.definition
    plan = run.engine.plans.find(definition['plan_id']) if definition.get('plan_id') else None
    if plan is None:
        raise NotFound('Plan %s of scheduled operation %s no longer exists; point the '
                       'operation at another plan or delete it.'
                       % (definition.get('plan_id'), run.operation['id']))
    return plan


def newest_available(run: FireTime, plan: dict[str, Any], doing: str) -> list[str]:
    """Ids of the plan's newest ``count`` available checkpoints, newest first."""
    count = int(run.definition.get('count') or 1)
    newest = run.engine.list_checkpoints(plan['provider_id'], plan_id=plan['id'],
                                         status=R.CP_AVAILABLE, limit=count)
    ids = [checkpoint.id for checkpoint in newest][:count]
    if not ids:
        raise NotFound('Plan %s (%s) has no available checkpoint to %s; protect it first (a '
                       'protect operation on an earlier trigger, or a checkpoint by hand).'
                       % (plan.get('name'), plan['id'], doing))
    return ids


def protect(run: FireTime, entry: dict[str, Any]) -> None:
    """A checkpoint of the plan; for retention_protect, then the retention."""
    plan = scheduled_plan(run)
    extra = {'created_by': CREATED_BY, 'name': '%s@%s' % (
        run.operation.get('name') or run.operation['id'], iso(run.fire))}
    extra.update(run.origin())
    checkpoint = run.engine.protect(plan, extra, wait=True)
    entry['checkpoint_id'] = checkpoint.id
    entry['checkpoint_ids'] = [checkpoint.id]
    entry['checkpoint_status'] = checkpoint.status
    if checkpoint.status != R.CP_AVAILABLE:
        raise KarborError('Checkpoint %s of plan %s ended %s: %s' % (
            checkpoint.id, plan.get('name'), checkpoint.status,
            checkpoint.data.get('error') or 'no reason recorded'))
    if run.operation['operation_type'] == 'retention_protect':
        definition = run.definition
        outcome = run.engine.retention.prune(plan, definition.get('max_backups'),
                                             definition.get('retention_duration'))
        entry['retention'] = outcome
        entry['deleted_checkpoints'] = outcome['deleted']
        if outcome['errors']:
            raise KarborError('Checkpoint %s was made but retention could not delete %s.' % (
                checkpoint.id, '; '.join('%s: %s' % (e['id'], e['error'])
                                         for e in outcome['errors'])))


def copy(run: FireTime, entry: dict[str, Any]) -> None:
    """The plan's newest ``count`` available checkpoints into the target
    provider's bank; a complete copy is left alone (nothing sent)."""
    plan = scheduled_plan(run)
    ids = newest_available(run, plan, 'copy')
    entry['checkpoint_id'], entry['checkpoint_ids'] = ids[0], ids
    origin = run.origin()
    if getattr(run.engine, 'cloud', None) is not None:
        origin['project_name'] = run.engine.cloud.project_name
    result = run.engine.copy_checkpoints(run.target(), plan['provider_id'],
                                         run.definition['target_provider_id'], ids, origin)
    entry['copied'] = {
        'target_provider_id': result['target_provider_id'],
        'target_project_id': result['target_project_id'],
        'objects_sent': result['objects_sent'], 'objects_skipped': result['objects_skipped'],
        'bytes_sent': result['bytes_sent'], 'bytes_skipped': result['bytes_skipped'],
        'copies': [{key: one[key] for key in COPY_FIELDS} for one in result['copies']],
        'warnings': result['copy_warnings']}


def _problem(record: dict[str, Any]) -> str:
    reasons = [record.get('error')] + list(record.get('problems') or []) + [
        '%s: %s' % item for item in sorted((record.get('resources_reason') or {}).items())]
    return ' '.join(r for r in reasons if r) or 'no reason recorded'


def verify(run: FireTime, entry: dict[str, Any]) -> None:
    """Each of the plan's newest ``count`` available checkpoints verified
    (each whatever the others found); a problem fails the fire time, and the
    verification records keep what was found."""
    plan = scheduled_plan(run)
    ids = newest_available(run, plan, 'verify')
    entry['checkpoint_id'], entry['checkpoint_ids'] = ids[0], ids
    level, subset = run.definition.get('level') or 'bank', run.definition.get('data_subset')
    done, failures = [], []
    for checkpoint_id in ids:
        outcome: dict[str, Any] = {'checkpoint_id': checkpoint_id, 'verification_id': None,
                                   'status': None, 'error': None}
        try:
            record = run.engine.verify(plan['provider_id'], checkpoint_id, level, subset)
        except KarborError as exc:
            outcome['error'] = exc.msg
        else:
            outcome.update(verification_id=record['id'], status=record['status'])
            if record['status'] != R.VERIFY_SUCCESS:
                outcome['error'] = _problem(record)
        done.append(outcome)
        if outcome['error']:
            which = ' (verification %s, %s)' % (outcome['verification_id'], outcome['status']) \
                if outcome['verification_id'] else ''
            failures.append('checkpoint %s%s: %s' % (checkpoint_id, which, outcome['error']))
    entry['verify'] = {'level': level, 'data_subset': subset, 'verifications': done}
    if failures:
        raise KarborError('Verification at level %s found problems in %d of %d checkpoint(s): '
                          '%s' % (level, len(failures), len(ids), '; '.join(failures)))


EXECUTORS: dict[str, Callable[[FireTime, dict[str, Any]], None]] = {
    'protect': protect, 'retention_protect': protect, 'copy': copy, 'verify': verify}


def execute(run: FireTime, entry: dict[str, Any]) -> None:
    """Run the fire time by its operation's type; KarborError when it failed."""
    op_type = run.operation.get('operation_type')
    executor = EXECUTORS.get(op_type)
    if executor is None:
        raise KarborError('Scheduled operation %s has operation_type %r, which this version '
                          'does not run; use one of %s.'
                          % (run.operation['id'], op_type, ', '.join(sorted(EXECUTORS))))
    executor(run, entry)
