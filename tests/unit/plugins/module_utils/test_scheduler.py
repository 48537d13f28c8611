# -*- coding: utf-8 -*-
"""The scheduler's due computation and exactly-once claims, over a real
local-bank catalog; only protect/list/delete of checkpoints are faked (the
real engine needs the cloud; the integration suite runs it for real)."""
from __future__ import annotations

import datetime
import os
import threading
import uuid

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.engine import scheduler as S
from ansible_collections.karbor.protection.plugins.module_utils.engine.operation_logs import (
    OperationLogService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.plans import PlanService
from ansible_collections.karbor.protection.plugins.module_utils.engine.retention import Retention
from ansible_collections.karbor.protection.plugins.module_utils.engine.scheduled_operations import (
    ScheduledOperationService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.triggers import (
    TriggerService)
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import Catalog
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
from ansible_collections.karbor.protection.plugins.module_utils.engine.time_trigger import TimeTrigger

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 1, 1, tzinfo=UTC)
PROVIDER = 'b766f37c-d011-4026-8228-28730d734a3f'


def hours(n, minutes=0):
    return T0 + datetime.timedelta(hours=n, minutes=minutes)


class FakeCheckpoint:
    def __init__(self, cid, status, created_at, extra):
        self.id = cid
        self.status = status
        self.extra_info = extra
        self.data = {'created_at': created_at, 'error': 'boom' if status == 'error' else None}


class FakeProvider:
    id = PROVIDER


class FakeEngine:
    project_id = 'project-a'

    def _project(self):
        return self.project_id

    def __init__(self, root):
        self.catalog = Catalog(LocalBank(os.path.join(root, 'catalog')))
        self.operation_logs = OperationLogService(self.catalog.operation_logs, self._project)
        self.plans = PlanService(self.catalog.plans, self._project,
                                 self.catalog.scheduled_operations, self.provider, lambda: None)
        self.triggers = TriggerService(self.catalog.triggers, self._project,
                                       self.catalog.scheduled_operations)
        self.scheduled_operations = ScheduledOperationService(
            self.catalog.scheduled_operations, self._project, self.plans, self.triggers,
            self.provider)
        self.retention = Retention(self, lambda: self.catalog.bank)
        self.lock = threading.Lock()
        self.checkpoints = []
        self.fail_next = False

    def provider(self, provider_id):
        if provider_id != PROVIDER:
            raise NotFound('Provider %s does not exist.' % provider_id)
        return FakeProvider()

    def protect(self, plan, extra_info, wait=True):
        with self.lock:
            status = 'error' if self.fail_next else 'available'
            cp = FakeCheckpoint(str(uuid.uuid4()), status, timeutil.isoformat(timeutil.now()),
                                dict(extra_info, plan_id=plan['id']))
            self.checkpoints.append(cp)
            return cp

    def list_checkpoints(self, provider_id, plan_id=None, status=None):
        with self.lock:
            return [c for c in self.checkpoints
                    if c.extra_info['plan_id'] == plan_id and status in (None, c.status)]

    def get_checkpoint(self, provider_id, checkpoint_id):
        with self.lock:
            return [c for c in self.checkpoints if c.id == checkpoint_id][0]

    def delete_checkpoint(self, provider_id, checkpoint_id):
        with self.lock:
            for cp in self.checkpoints:
                if cp.id == checkpoint_id:
                    cp.status = 'deleted'


@pytest.fixture
def clock(monkeypatch):
    def set_now(moment):
        monkeypatch.setenv('KARBOR_FAKE_NOW', moment.isoformat())
    set_now(T0)
    return set_now


@pytest.fixture
def engine(tmp_path, clock):
    eng = FakeEngine(str(tmp_path))
    eng.plan = eng.catalog.plans.new(eng.project_id, {
        'name': 'p', 'provider_id': PROVIDER, 'resources': []})
    return eng


def make_trigger(engine, rule='FREQ=HOURLY', window=900, name='hourly'):
    props = TimeTrigger('RRULE:' + rule, 'calendar', T0, window=window).properties()
    return engine.catalog.triggers.new(engine.project_id, {'name': name, 'type': 'time',
                                                           'properties': props})


def make_operation(engine, trigger, op_type='protect', name='op', **definition):
    fields = engine.scheduled_operations.validate({
        'name': name, 'operation_type': op_type, 'trigger_id': trigger['name'],
        'operation_definition': dict(definition, plan_id='p'), 'enabled': True})
    fields['enabled_at'] = timeutil.isoformat(timeutil.now())
    return engine.catalog.scheduled_operations.new(engine.project_id, fields)


def run(engine, now, **kwargs):
    os.environ['KARBOR_FAKE_NOW'] = now.isoformat()
    return S.Scheduler(engine, **kwargs).run()


def run_together(engine, now, runners):
    """The reports of ``runners`` schedulers started at the same moment."""
    os.environ['KARBOR_FAKE_NOW'] = now.isoformat()
    barrier = threading.Barrier(runners)
    reports = []

    def runner():
        sched = S.Scheduler(engine)
        barrier.wait()
        reports.append(sched.run())

    threads = [threading.Thread(target=runner) for _n in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return reports


def test_due_fire_times_run_and_passed_windows_are_missed(engine):
    op = make_operation(engine, make_trigger(engine))
    report = run(engine, hours(3, 10))
    # 01:00 and 02:00 are past their 15-minute window; 03:00 is still open
    assert [m['fire_time'] for m in report['missed']] == ['2026-01-01T01:00:00Z',
                                                          '2026-01-01T02:00:00Z']
    assert [(r['fire_time'], r['state']) for r in report['runs']] == [
        ('2026-01-01T03:00:00Z', 'success')]
    cp = engine.checkpoints[0]
    assert cp.extra_info['scheduled_operation_id'] == op['id']
    assert cp.extra_info['fire_time'] == '2026-01-01T03:00:00Z'
    assert cp.extra_info['created_by'] == 'operation-engine'
    # nothing is due twice
    again = run(engine, hours(3, 14))
    assert again['runs'] == [] and again['missed'] == [] and not again['changed']
    logs = engine.catalog.operation_logs.list(engine.project_id, operation_type='scheduled_operation')
    assert sorted((lg['extra_info']['fire_time'], lg['status']) for lg in logs) == [
        ('2026-01-01T01:00:00Z', 'missed'), ('2026-01-01T02:00:00Z', 'missed'),
        ('2026-01-01T03:00:00Z', 'success')]
    done = [lg for lg in logs if lg['status'] == 'success'][0]
    assert done['checkpoint_id'] == cp.id and done['started_at'] and done['ended_at']


def test_fire_times_before_the_operation_existed_are_not_owed(engine, clock):
    trigger = make_trigger(engine)
    clock(hours(5, 30))
    make_operation(engine, trigger)
    report = run(engine, hours(6, 1))
    assert [r['fire_time'] for r in report['runs']] == ['2026-01-01T06:00:00Z']
    assert report['missed'] == []


def test_claims_not_the_cursor_decide(engine):
    op = make_operation(engine, make_trigger(engine, window=7200))
    first = run(engine, hours(2, 30))
    assert len(first['runs']) == 2
    engine.catalog.bank.delete(S.cursor_key(engine.project_id, op['id']))
    second = run(engine, hours(2, 31))
    assert second['runs'] == [] and second['already_claimed'] == 0
    assert len(engine.checkpoints) == 2


def test_concurrent_runners_execute_each_fire_time_once(engine):
    make_operation(engine, make_trigger(engine, window=86400), name='a')
    make_operation(engine, make_trigger(engine, window=86400, name='h2'), name='b')
    reports = run_together(engine, hours(12), 8)
    executed = [(r['operation_name'], r['fire_time']) for rep in reports for r in rep['runs']]
    assert len(executed) == 24 and len(set(executed)) == 24
    assert sum(rep['already_claimed'] for rep in reports) >= 0
    assert len(engine.checkpoints) == 24
    fire_times = [(c.extra_info['scheduled_operation_id'], c.extra_info['fire_time'])
                  for c in engine.checkpoints]
    assert len(set(fire_times)) == 24


def test_awx_ids_are_recorded(engine):
    make_operation(engine, make_trigger(engine))
    os.environ['KARBOR_FAKE_NOW'] = hours(1, 1).isoformat()
    report = S.Scheduler(engine, context={'awx_job_id': 42, 'awx_schedule_id': '7',
                                          'awx_schedule_name': None, 'other': 'x'}).run()
    assert report['runs'][0]['state'] == 'success'
    extra = engine.checkpoints[0].extra_info
    assert extra['awx_job_id'] == '42' and extra['awx_schedule_id'] == '7'
    assert 'awx_schedule_name' not in extra and 'other' not in extra
    log = engine.catalog.operation_logs.get(engine.project_id, report['runs'][0]['log_id'])
    assert log['extra_info']['awx_job_id'] == '42'


def test_a_failed_run_is_logged_and_not_retried(engine):
    make_operation(engine, make_trigger(engine))
    engine.fail_next = True
    report = run(engine, hours(1, 1))
    assert report['failed_runs'] and report['runs'][0]['state'] == 'failed'
    assert 'ended error: boom' in report['runs'][0]['error']
    engine.fail_next = False
    assert run(engine, hours(1, 2))['runs'] == []
    log = engine.catalog.operation_logs.get(engine.project_id, report['runs'][0]['log_id'])
    assert log['status'] == 'failed' and 'boom' in log['error_info']


def test_retention_protect_prunes_after_a_good_checkpoint(engine):
    make_operation(engine, make_trigger(engine, window=86400), 'retention_protect',
                   max_backups=3)
    report = run(engine, hours(6, 5))
    assert [r['state'] for r in report['runs']] == ['success'] * 6
    alive = [c.extra_info['fire_time'] for c in engine.checkpoints if c.status == 'available']
    assert alive == ['2026-01-01T04:00:00Z', '2026-01-01T05:00:00Z', '2026-01-01T06:00:00Z']


def test_check_mode_claims_nothing(engine):
    make_operation(engine, make_trigger(engine))
    os.environ['KARBOR_FAKE_NOW'] = hours(2, 5).isoformat()
    report = S.Scheduler(engine).run(check_mode=True)
    assert [r['state'] for r in report['runs']] == ['would_run']
    assert [r['state'] for r in report['missed']] == ['would_miss']
    assert list(engine.catalog.bank.iter_all('/scheduler/')) == []
    assert engine.checkpoints == []


def test_disabled_operations_do_not_run(engine):
    op = make_operation(engine, make_trigger(engine))
    op['enabled'] = False
    engine.catalog.scheduled_operations.save(op)
    assert run(engine, hours(1, 1))['operations_checked'] == 0


def test_max_fire_times_bounds_one_run_and_the_next_continues(engine):
    make_operation(engine, make_trigger(engine, window=60))
    first = run(engine, hours(10, 30), max_fire_times=4)
    assert len(first['missed']) == 4
    second = run(engine, hours(10, 30), max_fire_times=100)
    assert [m['fire_time'][11:13] for m in second['missed']] == [
        '05', '06', '07', '08', '09', '10']


def test_deleted_trigger_or_plan_is_a_clear_failure(engine):
    trigger = make_trigger(engine)
    op = make_operation(engine, trigger)
    engine.catalog.plans.delete(engine.plan)
    report = run(engine, hours(1, 1))
    assert 'no longer exists' in report['runs'][0]['error']
    engine.catalog.triggers.delete(trigger)
    report = run(engine, hours(2, 1))
    assert 'trigger %s no longer exists' % op['trigger_id'] in report['runs'][0]['error'].lower()


def test_validation_of_operations(engine):
    trigger = make_trigger(engine)
    base = {'name': 'x', 'operation_type': 'protect', 'trigger_id': trigger['id'],
            'operation_definition': {'plan_id': 'p'}}
    with pytest.raises(NotFound, match='Trigger .nope. does not exist'):
        engine.scheduled_operations.validate(dict(base, trigger_id='nope'))
    with pytest.raises(NotFound, match='Plan .nope. does not exist'):
        engine.scheduled_operations.validate(dict(base, operation_definition={'plan_id': 'nope'}))
    with pytest.raises(InvalidInput, match='one of protect, retention_protect, copy, verify'):
        engine.scheduled_operations.validate(dict(base, operation_type='restore'))
    with pytest.raises(InvalidInput, match='retention_protect operations only'):
        engine.scheduled_operations.validate(dict(base, operation_definition={'plan_id': 'p',
                                                                              'max_backups': 3}))
    with pytest.raises(NotFound):
        engine.scheduled_operations.validate(dict(base, operation_definition={
            'plan_id': 'p', 'provider_id': 'cf56bd3e-97a7-4078-b6d5-f36246333fd9'}))
    good = engine.scheduled_operations.validate(dict(base, operation_type='retention_protect',
                                                     operation_definition={'plan_id': 'p',
                                                                           'max_backups': 0}))
    assert good['operation_definition'] == {'plan_id': engine.plan['id'], 'provider_id': PROVIDER,
                                            'max_backups': -1, 'retention_duration': -1}


def test_a_used_trigger_cannot_be_deleted(engine):
    trigger = make_trigger(engine)
    op = make_operation(engine, trigger)
    with pytest.raises(Conflict, match='used by scheduled operation'):
        engine.triggers.delete(trigger)
    engine.catalog.scheduled_operations.delete(op)
    engine.triggers.delete(trigger)
    with pytest.raises(KarborError):
        engine.triggers.get('hourly')


def test_claims_survive_folder_churn(tmp_path):
    """Deletion claims are created and released in one folder by many runs; a run whose
    release empties the folder removes it, which must not fail another run's claim."""
    bank = LocalBank(str(tmp_path))
    errors = []

    def churn(worker):
        try:
            for i in range(300):
                key = '/scheduler/deletions/p/a/b/%d-%d' % (worker, i)
                bank.put(key, {'i': i}, exclusive=True)
                bank.delete(key)
        except KarborError as exc:  # pragma: no cover - the failure being tested
            errors.append(exc.msg)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(bank.iter_all('/')) == []
