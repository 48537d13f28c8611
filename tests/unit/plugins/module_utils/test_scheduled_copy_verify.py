# -*- coding: utf-8 -*-
"""Scheduled copy and verify operations: their definitions are checked before
anything is written, and a claimed fire time dispatches to the engine's own
copy and verify (faked here: the integration test runs them for real) and
records what they did, under the same claims as a protect."""
from __future__ import annotations

import os
import uuid

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine import scheduler as S
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.test_scheduler import (
    PROVIDER, T0, FakeCheckpoint, FakeEngine, hours, make_trigger, run_together)

TARGET_PROVIDER = 'cf56bd3e-97a7-4078-b6d5-f36246333fd9'


class FakeTargetProvider:
    id = TARGET_PROVIDER


class CopyVerifyEngine(FakeEngine):
    """FakeEngine with the copy and verify calls the scheduler makes, recorded."""

    def __init__(self, root):
        super().__init__(root)
        self.copied = []  # (target, checkpoint ids, origin)
        self.verified = []  # (checkpoint id, level, data_subset)
        self.bad = set()  # checkpoint ids whose verification fails

    def provider(self, provider_id):
        if provider_id in (TARGET_PROVIDER, 'dr-bank'):
            return FakeTargetProvider()
        return super().provider(provider_id)

    def list_checkpoints(self, provider_id, plan_id=None, status=None, limit=None):
        found = super().list_checkpoints(provider_id, plan_id, status)
        found = sorted(found, key=lambda c: c.data['created_at'], reverse=True)
        return found[:limit] if limit else found

    def copy_checkpoints(self, target, provider_id, target_provider_id, checkpoint_ids, origin,
                         dry_run=False):
        with self.lock:
            self.copied.append((target, list(checkpoint_ids), dict(origin)))
        copies = [{'checkpoint_id': cid, 'changed': True, 'objects_sent': 3, 'bytes_sent': 300,
                   'objects_skipped': 1, 'bytes_skipped': 10, 'warnings': []}
                  for cid in checkpoint_ids]
        return {'objects_sent': 3 * len(copies), 'objects_skipped': len(copies),
                'bytes_sent': 300 * len(copies), 'bytes_skipped': 10 * len(copies),
                'changed': True, 'copies': copies, 'copy_warnings': [],
                'target_provider_id': target_provider_id, 'target_project_id': 'project-b'}

    def verify(self, provider_id, checkpoint_id, level='bank', data_subset=None, dry_run=False):
        with self.lock:
            self.verified.append((checkpoint_id, level, data_subset))
        bad = checkpoint_id in self.bad
        return {'id': 'v-%s' % checkpoint_id, 'checkpoint_id': checkpoint_id,
                'status': 'fail' if bad else 'success', 'error': None, 'problems': [],
                'resources_reason': {'OS::Glance::Image#i1': 'chunk x is missing'} if bad
                else {}}


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setenv('KARBOR_FAKE_NOW', T0.isoformat())
    eng = CopyVerifyEngine(str(tmp_path))
    eng.plan = eng.catalog.plans.new(eng.project_id, {
        'name': 'p', 'provider_id': PROVIDER, 'resources': []})
    return eng


def checkpoint(engine, created_at, status='available'):
    made = FakeCheckpoint(str(uuid.uuid4()), status, created_at, {'plan_id': engine.plan['id']})
    engine.checkpoints.append(made)
    return made


def operation(engine, trigger, op_type, **definition):
    return engine.scheduled_operations.create({
        'name': '%s-op' % op_type, 'operation_type': op_type, 'trigger_id': trigger['id'],
        'operation_definition': dict(definition, plan_id='p'), 'enabled': True})


def run(engine, now, **kwargs):
    os.environ['KARBOR_FAKE_NOW'] = now.isoformat()
    return S.Scheduler(engine, **kwargs).run()


def claims_of(engine, op):
    return engine.scheduled_operations.claims(op)


# -- definitions ---------------------------------------------------------------------------

@pytest.mark.parametrize('op_type, definition, error, match', [
    ('copy', {}, InvalidInput, 'copy operation needs target_provider_id'),
    ('copy', {'target_provider_id': 'nope'}, NotFound, 'target_provider_id: Provider nope'),
    ('copy', {'target_provider_id': 'dr-bank', 'max_backups': 3}, InvalidInput,
     'max_backups applies to retention_protect operations only'),
    ('copy', {'target_provider_id': 'dr-bank', 'count': 0}, InvalidInput,
     'count is how many .* copies: a whole number of 1 or more'),
    ('copy', {'target_provider_id': 'dr-bank', 'level': 'data'}, InvalidInput,
     'level applies to verify operations only'),
    ('verify', {'level': 'everything'}, InvalidInput,
     "Verification level 'everything' does not exist; use one of: bank, data"),
    ('verify', {'level': 'data', 'data_subset': 0}, InvalidInput, 'data_subset is the percentage'),
    ('verify', {'count': 'many'}, InvalidInput, "count is .*verifies.*got 'many'"),
    ('verify', {'target_provider_id': 'dr-bank'}, InvalidInput,
     'target_provider_id applies to copy operations only'),
    ('protect', {'count': 2}, InvalidInput, 'count applies to copy and verify operations only'),
    ('retention_protect', {'level': 'bank'}, InvalidInput, 'level applies to verify'),
    ('verify', {'bogus': 1}, InvalidInput, 'operation_definition has no key bogus'),
])
def test_a_bad_definition_fails_and_writes_nothing(engine, op_type, definition, error, match):
    trigger = make_trigger(engine)
    with pytest.raises(error, match=match):
        operation(engine, trigger, op_type, **definition)
    assert engine.scheduled_operations.list() == []


def test_definitions_are_normalized(engine):
    trigger = make_trigger(engine)
    copy = operation(engine, trigger, 'copy', target_provider_id='dr-bank')
    assert copy['operation_definition'] == {'plan_id': engine.plan['id'], 'provider_id': PROVIDER,
                                            'target_provider_id': TARGET_PROVIDER, 'count': 1}
    verify = engine.scheduled_operations.validate({
        'name': 'v', 'operation_type': 'verify', 'trigger_id': trigger['id'],
        'operation_definition': {'plan_id': 'p', 'level': 'data', 'data_subset': '10',
                                 'count': '2'}})
    assert verify['operation_definition'] == {'plan_id': engine.plan['id'],
                                              'provider_id': PROVIDER, 'level': 'data',
                                              'data_subset': 10, 'count': 2}
    plain = engine.scheduled_operations.validate(dict(verify, operation_definition={
        'plan_id': 'p'}))
    assert plain['operation_definition']['level'] == 'bank'
    assert 'data_subset' not in plain['operation_definition']


# -- dispatch and records ------------------------------------------------------------------

def test_copy_copies_the_newest_checkpoints_and_records_what_was_sent(engine):
    trigger = make_trigger(engine, window=86400)
    op = operation(engine, trigger, 'copy', target_provider_id='dr-bank', count=2)
    old, mid = checkpoint(engine, '2026-01-01T00:10:00Z'), checkpoint(engine, '2026-01-01T00:20:00Z')
    new = checkpoint(engine, '2026-01-01T00:30:00Z')
    checkpoint(engine, '2026-01-01T00:40:00Z', status='error')
    target = object()
    report = run(engine, hours(1, 1), target=lambda: target)
    entry, = report['runs']
    assert entry['state'] == 'success' and entry['operation_type'] == 'copy'
    assert entry['checkpoint_ids'] == [new.id, mid.id] and old.id not in entry['checkpoint_ids']
    assert entry['copied']['objects_sent'] == 6 and entry['copied']['bytes_sent'] == 600
    copied_to, ids, origin = engine.copied[0]
    assert copied_to is target and ids == [new.id, mid.id]
    assert origin['scheduled_operation_id'] == op['id']
    assert origin['fire_time'] == '2026-01-01T01:00:00Z'
    claim, = claims_of(engine, op)
    assert claim['state'] == 'success' and claim['checkpoint_ids'] == [new.id, mid.id]
    assert claim['copied']['copies'][0] == {'checkpoint_id': new.id, 'changed': True,
                                            'objects_sent': 3, 'bytes_sent': 300}
    log = engine.operation_logs.get(entry['log_id'])
    assert log['status'] == 'success' and log['checkpoint_id'] == new.id
    assert log['extra_info']['copied']['target_project_id'] == 'project-b'


def test_copy_without_a_target_argument_copies_within_the_runs_own_cloud(engine):
    operation(engine, make_trigger(engine), 'copy', target_provider_id='dr-bank')
    checkpoint(engine, '2026-01-01T00:10:00Z')
    assert run(engine, hours(1, 1))['runs'][0]['state'] == 'success'
    assert engine.copied[0][0] is engine


def test_an_unreachable_target_fails_the_fire_time_like_a_failed_protect(engine):
    op = operation(engine, make_trigger(engine), 'copy', target_provider_id='dr-bank')
    checkpoint(engine, '2026-01-01T00:10:00Z')

    def unreachable():
        raise KarborError('Cannot connect to the cloud \'dr\': the identity service is down.')
    report = run(engine, hours(1, 1), target=unreachable)
    entry, = report['runs']
    assert report['failed_runs'] == [entry] and 'identity service is down' in entry['error']
    claim, = claims_of(engine, op)
    assert claim['state'] == 'failed' and 'identity service is down' in claim['error']
    assert engine.operation_logs.get(entry['log_id'])['status'] == 'failed'
    assert run(engine, hours(1, 2))['runs'] == []  # at most once: not retried


def test_copy_or_verify_with_nothing_available_is_a_clear_failure(engine):
    operation(engine, make_trigger(engine), 'verify')
    checkpoint(engine, '2026-01-01T00:10:00Z', status='error')
    entry, = run(engine, hours(1, 1))['runs']
    assert entry['state'] == 'failed' and 'has no available checkpoint to verify' in entry['error']


def test_verify_verifies_each_and_a_problem_fails_the_fire_time(engine):
    trigger = make_trigger(engine, window=86400)
    op = operation(engine, trigger, 'verify', level='data', data_subset=20, count=2)
    good, bad = checkpoint(engine, '2026-01-01T00:10:00Z'), checkpoint(engine, '2026-01-01T00:20:00Z')
    engine.bad.add(bad.id)
    entry, = run(engine, hours(1, 1))['runs']
    assert engine.verified == [(bad.id, 'data', 20), (good.id, 'data', 20)]
    assert entry['state'] == 'failed'
    assert 'found problems in 1 of 2' in entry['error'] and 'chunk x is missing' in entry['error']
    assert [(v['checkpoint_id'], v['verification_id'], v['status'])
            for v in entry['verify']['verifications']] == [
        (bad.id, 'v-' + bad.id, 'fail'), (good.id, 'v-' + good.id, 'success')]
    claim, = claims_of(engine, op)
    assert claim['state'] == 'failed' and claim['verify']['verifications'][1]['status'] == 'success'
    log = engine.operation_logs.get(entry['log_id'])
    assert log['status'] == 'failed' and log['extra_info']['verify']['level'] == 'data'
    engine.bad.clear()
    assert run(engine, hours(2, 1))['runs'][0]['state'] == 'success'


def test_concurrent_runners_copy_and_verify_each_fire_time_once(engine):
    trigger = make_trigger(engine, window=86400)
    operation(engine, trigger, 'copy', target_provider_id='dr-bank')
    operation(engine, trigger, 'verify')
    checkpoint(engine, '2026-01-01T00:10:00Z')
    reports = run_together(engine, hours(6, 1), 6)
    executed = [(r['operation_type'], r['fire_time']) for rep in reports for r in rep['runs']]
    assert len(executed) == 12 and len(set(executed)) == 12
    assert {state for rep in reports for state in [r['state'] for r in rep['runs']]} == {'success'}
    assert len(engine.copied) == 6 and len(engine.verified) == 6
    assert len({origin['fire_time'] for _t, _ids, origin in engine.copied}) == 6
