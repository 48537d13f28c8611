# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runner that executes the due fire times of scheduled operations, exactly once.

Karbor's operation engine kept "next run" state per node and computed the
next time from *now*, so with several nodes runs were missed, and after an
outage occurrences silently collapsed. Here any number of runners (AWX
schedules, cron, people) may start at any time:

* the fire times of an operation are a pure function of its trigger, so
  every runner sees the same ones in (last processed, now];
* each (operation, fire time) is *claimed* in the catalog bank with an
  exclusive create before anything happens; the one runner whose create wins
  executes it (scheduled_execution.py: a protect, copy or verify, whatever
  the type, under the same claim), the others skip it, so two runners
  started at the same moment execute each fire time once;
* a fire time whose window has passed is claimed as ``missed`` and logged,
  never dropped silently;
* a per-operation cursor only saves work; correctness rests on the claims.

A runner that dies after claiming leaves the claim ``running``: that fire
time is not retried (at most once), and the engine marks its checkpoint
``error`` once the run's bank lease expires.
"""

from __future__ import annotations

import datetime
import os
import socket
import uuid
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine import (
    scheduled_execution)
from ansible_collections.karbor.protection.plugins.module_utils.engine.time_trigger import iso
from ansible_collections.karbor.protection.plugins.module_utils.engine.triggers import (
    time_trigger)

RUN_LOG_TYPE = 'scheduled_operation'
AWX_FIELDS = ('awx_job_id', 'awx_schedule_id', 'awx_schedule_name', 'awx_job_launch_type')

STATE_RUNNING = 'running'
STATE_SUCCESS = 'success'
STATE_FAILED = 'failed'
STATE_MISSED = 'missed'
DEFAULT_MAX_FIRE_TIMES = 1000


# -- claims ------------------------------------------------------------------------------

def claim_prefix(project_id: str, operation_id: str) -> str:
    return '/scheduler/claims/%s/%s/' % (project_id, operation_id)


def claim_key(project_id: str, operation_id: str, fire_time: datetime.datetime) -> str:
    return claim_prefix(project_id, operation_id) + timeutil.sort_key(fire_time)


def cursor_key(project_id: str, operation_id: str) -> str:
    return '/scheduler/cursors/%s/%s' % (project_id, operation_id)


class Scheduler:
    """Runs the due fire times of a project's enabled scheduled operations."""

    def __init__(self, engine, now: datetime.datetime | None = None,
                 max_fire_times: int = DEFAULT_MAX_FIRE_TIMES,
                 context: dict[str, Any] | None = None,
                 target: Callable[[], Any] | None = None) -> None:
        """``target``: makes the engine copy operations copy into (the run's
        target_* credentials); None: this engine's cloud and credentials."""
        self.engine = engine
        self._make_target = target
        self._target = None
        self.bank = engine.catalog.bank
        self.now = (now or timeutil.now()).astimezone(timeutil.UTC)
        self.max_fire_times = max_fire_times
        self.context = {k: str(v) for k, v in (context or {}).items()
                        if k in AWX_FIELDS and v not in (None, '')}
        self.run_id = str(uuid.uuid4())

    @property
    def project_id(self) -> str:
        return self.engine.project_id

    def target(self) -> Any:
        """The copy target's engine, made once, when a copy first needs it (a
        run without copies never reaches the target cloud)."""
        if self._target is None:
            self._target = self._make_target() if self._make_target else self.engine
        return self._target

    # -- what is due ----------------------------------------------------------------
    def baseline(self, operation: dict, trigger: dict,
                 cursors: dict[str, Any] | None = None) -> datetime.datetime:
        """Fire times after this one are this operation's business: not before
        it was enabled, not before its trigger's schedule last changed, not
        before what was already processed. ``enabled_at`` and ``schedule_since``
        are kept by the scheduled_operations and triggers services. ``cursors``:
        those read in one batch by ``read_cursors`` (an operation not in it is read alone)."""
        moments = [operation.get('enabled_at') or operation['created_at'],
                   trigger.get('schedule_since') or trigger['created_at']]
        try:
            cursor = cursors[operation['id']] if cursors and operation['id'] in cursors \
                else self.bank.get_json(cursor_key(operation['project_id'], operation['id']))
            moments.append(cursor['fire_time'])
        except (NotFound, KeyError, TypeError):
            pass
        except KarborError:
            pass  # a damaged cursor only costs work: the claims decide
        return max(timeutil.parse_time(m) for m in moments)

    def read_cursors(self, operations: list[dict]) -> dict[str, Any]:
        """Operation id -> its cursor (None: none yet), all in one concurrent batch
        (one round trip each on Swift otherwise); empty when one is damaged, so
        that baseline() reads each alone."""
        try:
            found = self.bank.get_json_many([cursor_key(op['project_id'], op['id'])
                                             for op in operations])
        except KarborError:
            return {}
        return {op['id']: cursor for op, cursor in zip(operations, found)}

    def pending(self, operation: dict, trigger: dict,
                cursors: dict[str, Any] | None = None) -> list[tuple[datetime.datetime, str]]:
        """(fire time, 'run' or 'missed') not yet claimed, oldest first."""
        schedule = time_trigger(trigger)
        window = datetime.timedelta(seconds=schedule.window)
        result = []
        for fire in schedule.between(self.baseline(operation, trigger, cursors), self.now,
                                     self.max_fire_times):
            if self.bank.exists(claim_key(operation['project_id'], operation['id'], fire)):
                continue
            result.append((fire, 'run' if self.now <= fire + window else 'missed'))
        return result

    def _advance_cursor(self, operation: dict, fire: datetime.datetime) -> None:
        key = cursor_key(operation['project_id'], operation['id'])
        try:
            current = timeutil.parse_time(self.bank.get_json(key)['fire_time'])
            if current >= fire:
                return
        except (KarborError, KeyError, TypeError):
            pass
        self.bank.put(key, {'fire_time': timeutil.isoformat(fire), 'run_id': self.run_id})

    def _claim(self, operation: dict, fire: datetime.datetime, state: str) -> dict | None:
        claim = {'operation_id': operation['id'], 'trigger_id': operation['trigger_id'],
                 'fire_time': iso(fire), 'state': state,
                 'claimed_at': timeutil.isoformat(self.now), 'run_id': self.run_id,
                 'host': socket.gethostname(), 'pid': os.getpid()}
        claim.update(self.context)
        key = claim_key(operation['project_id'], operation['id'], fire)
        try:
            self.bank.claim(key, claim)
        except Conflict:
            return None  # another runner has it
        claim['_key'] = key
        return claim

    def _finish_claim(self, claim: dict, **fields: Any) -> None:
        claim.update(fields)
        key = claim.pop('_key')
        self.bank.put(key, claim)
        claim['_key'] = key

    # -- running -----------------------------------------------------------------------
    def select(self, operations: list[str] | None = None,
               triggers: list[str] | None = None) -> list[dict]:
        """Enabled operations, optionally only the named ones / those of named triggers."""
        ops = [op for op in self.engine.scheduled_operations.list() if op.get('enabled', True)]
        if operations:
            wanted = set()
            for name in operations:
                wanted.add(self.engine.scheduled_operations.get(name)['id'])
            ops = [op for op in ops if op['id'] in wanted]
        if triggers:
            ids = {self.engine.triggers.get(name)['id'] for name in triggers}
            ops = [op for op in ops if op.get('trigger_id') in ids]
        return sorted(ops, key=lambda op: (op.get('created_at', ''), op['id']))

    def run(self, operations: list[str] | None = None, triggers: list[str] | None = None,
            check_mode: bool = False) -> dict[str, Any]:
        report: dict[str, Any] = {'runs': [], 'missed': [], 'already_claimed': 0,
                                  'operations_checked': 0, 'now': iso(self.now),
                                  'run_id': self.run_id}
        selected = self.select(operations, triggers)
        # one concurrent listing of the triggers and one batch of cursors, not a round trip
        # of each per operation
        triggers_by_id = {t['id']: t for t in self.engine.triggers.list()} if selected else {}
        cursors = self.read_cursors(selected)
        for operation in selected:
            report['operations_checked'] += 1
            trigger = triggers_by_id.get(operation['trigger_id'])
            if trigger is None:
                report['runs'].append(self._error_entry(
                    operation, None, 'Its trigger %s no longer exists; give the operation '
                    'another trigger or delete it.' % operation['trigger_id']))
                continue
            try:
                pending = self.pending(operation, trigger, cursors)
            except KarborError as exc:
                report['runs'].append(self._error_entry(operation, None, exc.msg))
                continue
            window = time_trigger(trigger).window
            last = None
            for fire, what in pending:
                if check_mode:
                    entry = self._entry(operation, fire, 'would_run' if what == 'run'
                                        else 'would_miss')
                    report['runs' if what == 'run' else 'missed'].append(entry)
                    continue
                if timeutil.now() > fire + datetime.timedelta(seconds=window):
                    what = 'missed'  # the window closed while earlier fire times ran
                if what == 'missed':
                    entry = self._record_missed(operation, fire, window)
                    if entry is None:
                        report['already_claimed'] += 1
                    else:
                        report['missed'].append(entry)
                else:
                    entry = self.execute(operation, fire)
                    if entry is None:
                        report['already_claimed'] += 1
                    else:
                        report['runs'].append(entry)
                last = fire
            if last is not None and not check_mode:
                self._advance_cursor(operation, last)
        report['changed'] = bool(report['runs'] or report['missed'])
        report['failed_runs'] = [r for r in report['runs'] if r['state'] == STATE_FAILED]
        return report

    def _entry(self, operation: dict, fire: datetime.datetime | None, state: str,
               **fields: Any) -> dict[str, Any]:
        entry = {'operation_id': operation['id'], 'operation_name': operation.get('name'),
                 'operation_type': operation.get('operation_type'),
                 'trigger_id': operation.get('trigger_id'),
                 'fire_time': iso(fire) if fire else None, 'state': state,
                 'checkpoint_id': None, 'checkpoint_ids': [], 'deleted_checkpoints': [],
                 'error': None, 'log_id': None}
        entry.update(fields)
        return entry

    def _error_entry(self, operation: dict, fire, message: str) -> dict[str, Any]:
        return self._entry(operation, fire, STATE_FAILED, error=message)

    def _new_log(self, operation: dict, fire: datetime.datetime, status: str,
                 started: bool, **fields: Any) -> dict[str, Any]:
        definition = operation.get('operation_definition') or {}
        extra = {'fire_time': iso(fire), 'trigger_id': operation['trigger_id'],
                 'operation_type': operation['operation_type'],
                 'operation_name': operation.get('name'), 'run_id': self.run_id}
        extra.update(self.context)
        return self.engine.operation_logs.start(
            RUN_LOG_TYPE, status, timeutil.isoformat(self.now) if started else None, extra,
            plan_id=definition.get('plan_id'), provider_id=definition.get('provider_id'),
            scheduled_operation_id=operation['id'], **fields)

    def _record_missed(self, operation: dict, fire: datetime.datetime,
                       window: int) -> dict | None:
        claim = self._claim(operation, fire, STATE_MISSED)
        if claim is None:
            return None
        message = ('Fire time %s passed its window of %d s before a run picked it up (first '
                   'seen at %s); it was not run (Karbor: dropped_out_of_window).'
                   % (iso(fire), window, iso(self.now)))
        log = self._new_log(operation, fire, STATE_MISSED, False,
                            ended_at=timeutil.isoformat(self.now), error_info=message)
        self._finish_claim(claim, log_id=log['id'], error=message)
        return self._entry(operation, fire, STATE_MISSED, error=message, log_id=log['id'])

    def execute(self, operation: dict, fire: datetime.datetime) -> dict | None:
        """Claim and run one fire time; None when another runner has it."""
        claim = self._claim(operation, fire, STATE_RUNNING)
        if claim is None:
            return None
        log = self._new_log(operation, fire, 'in_progress', True)
        self._finish_claim(claim, log_id=log['id'])
        entry = self._entry(operation, fire, STATE_RUNNING, log_id=log['id'])
        run = scheduled_execution.FireTime(self.engine, operation, fire, self.context,
                                           self.target)
        try:
            scheduled_execution.execute(run, entry)
            entry['state'] = STATE_SUCCESS
        except KarborError as exc:
            entry['state'], entry['error'] = STATE_FAILED, exc.msg
        except Exception as exc:  # pylint: disable=broad-except
            entry['state'] = STATE_FAILED
            entry['error'] = 'Unexpected %s: %s' % (type(exc).__name__, exc)
        log['checkpoint_id'] = entry['checkpoint_id']
        details = {key: entry[key] for key in scheduled_execution.DETAILS if entry.get(key)}
        log['extra_info'].update(details, checkpoint_ids=entry['checkpoint_ids'])
        self.engine.operation_logs.finish(log, entry['state'], entry['error'])
        self._finish_claim(claim, state=entry['state'], checkpoint_id=entry['checkpoint_id'],
                           checkpoint_ids=entry['checkpoint_ids'], error=entry['error'],
                           ended_at=log['ended_at'], **details)
        return entry
