# -*- coding: utf-8 -*-
"""Issue 16: the schedule role makes scheduled ``copy`` and ``verify``
operations from entries of schedule_operations, through real ansible-playbook
processes against the real test cloud.

The copy's target is a second provider (the built-in OS Infra Provider with
its local file-system bank) given by name: the operation stores its id, and a
second run with the same variable reports no change. The definitions are read
back with scheduled_operation_info in the same playbook. Bad entries fail with
a message naming the entry and the option before any trigger or operation is
written, even for the good entries listed with them."""
from __future__ import annotations

import pytest
from test_playbooks import (  # pylint: disable=import-error
    NOOP, changed_tasks, run_logged, schedule_state, tag, task)

PLAYBOOK = 'schedule_role_copy_verify.yml'
TARGET_NAME = 'OS Infra Provider with local file system bank'
TARGET_ID = '6659007d-6f66-4a0f-9cb4-17d6aded0bb9'
NIGHTLY_3AM = 'BEGIN:VEVENT\nRRULE:FREQ=DAILY;BYHOUR=3;BYMINUTE=0\nEND:VEVENT'
SUNDAYS = 'BEGIN:VEVENT\nRRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=5;BYMINUTE=0\nEND:VEVENT'
WRITERS = ('karbor.protection.trigger', 'karbor.protection.scheduled_operation')


def run(run_playbook, tmp_path, label, prefix, entries, check=True):
    """(result, task records) of the playbook with these entries."""
    state_dir = tmp_path / 'state'
    return run_logged(run_playbook, tmp_path, label, PLAYBOOK, {
        'state_dir': str(state_dir), 'schedule_state_dir': str(state_dir),
        'plan_name': prefix, 'provider_id': NOOP, 'schedule_operations': entries}, check=check)


def read_back(records) -> dict:
    """The operations by name, as scheduled_operation_info returned them."""
    found = task(records, 'Read the operations back')['result']['scheduled_operations']
    return {o['name']: o for o in found}


def test_schedule_role_copy_and_verify(run_playbook, tmp_path):
    prefix = tag()
    copy = {'name': prefix + '-offsite', 'plan': prefix, 'operation': 'copy',
            'target_provider_id': TARGET_NAME, 'count': 2, 'description': 'to the DR bank',
            'trigger': {'pattern': NIGHTLY_3AM, 'timezone': 'Europe/Berlin'}}
    verify = {'name': prefix + '-check', 'plan': prefix, 'operation': 'verify',
              'level': 'data', 'data_subset': 10,
              'trigger': {'pattern': SUNDAYS, 'window': 3600}}

    first = run(run_playbook, tmp_path, 'first', prefix, [copy, verify])[1]
    assert task(first, 'Ensure the triggers')['changed'] is True
    ensured = task(first, 'Ensure the scheduled operations')['result']['results']
    assert [r['item']['name'] for r in ensured if r['changed']] == [copy['name'], verify['name']]
    plan_id = task(first, 'Plan')['result']['plan']['id']
    ops = read_back(first)
    assert ops[copy['name']]['operation_type'] == 'copy'
    assert ops[copy['name']]['operation_definition'] == {
        'plan_id': plan_id, 'provider_id': NOOP, 'target_provider_id': TARGET_ID, 'count': 2}
    assert ops[copy['name']]['description'] == \
        'to the DR bank [owner: karbor.protection.schedule]'
    assert ops[verify['name']]['operation_type'] == 'verify'
    assert ops[verify['name']]['operation_definition'] == {
        'plan_id': plan_id, 'provider_id': NOOP, 'level': 'data', 'data_subset': 10, 'count': 1}
    assert ops[copy['name']]['enabled'] is True and ops[verify['name']]['enabled'] is True
    summary = [r['msg'] for r in task(first, 'Summary')['result']['results']]
    assert any('copy of plan %s to %s' % (prefix, TARGET_NAME) in m for m in summary), summary

    # idempotent: the same variable (the target still given by name) changes nothing
    second = run(run_playbook, tmp_path, 'second', prefix, [copy, verify])[1]
    assert changed_tasks(second) == [], [(r['task'], r['status']) for r in second]
    assert read_back(second) == ops

    # count left out goes back to 1; only that operation changes
    third = run(run_playbook, tmp_path, 'third', prefix,
                [{k: v for k, v in copy.items() if k != 'count'}, verify])[1]
    ensured = task(third, 'Ensure the scheduled operations')['result']['results']
    assert [r['item']['name'] for r in ensured if r['changed']] == [copy['name']]
    assert changed_tasks(third) == ['karbor.protection.schedule : Ensure the scheduled operations']
    assert read_back(third)[copy['name']]['operation_definition']['count'] == 1
    assert read_back(third)[verify['name']] == ops[verify['name']]


@pytest.mark.parametrize('bad, message', [
    ({'operation': 'copy'},
     'operation is copy but all of the following are missing: target_provider_id found in '
     'schedule_operations'),
    ({'operation': 'verify', 'level': 'everything'},
     'value of level must be one of: bank, data, drill, got: everything'),
    ({'operation': 'verify', 'max_backups': 3},
     'entry {name}: max_backups applies to retention_protect operations only, not verify'),
    ({'operation': 'copy', 'target_provider_id': TARGET_NAME, 'level': 'data'},
     'entry {name}: level applies to verify operations only, not copy'),
    ({'operation': 'copy', 'target_provider_id': TARGET_NAME, 'count': 0},
     'entry {name}: count is how many of the newest available checkpoints each fire time '
     'copies, 1 or more; got 0'),
    ({'operation': 'verify', 'level': 'data', 'data_subset': 101},
     'entry {name}: data_subset is the percentage of chunks read at level data, 1 to 100; '
     'got 101'),
    ({'operation': 'copy', 'target_provider_id': 'no-such-bank'},
     "schedule_operations: target_provider_id no-such-bank is not a provider of this run "
     "(Provider 'no-such-bank' does not exist"),
])
def test_schedule_role_refuses_bad_copy_verify(cloud, run_playbook, tmp_path, bad, message):
    prefix = tag()
    good = {'name': prefix + '-nightly', 'plan': prefix, 'trigger': {'pattern': NIGHTLY_3AM}}
    entry = dict({'name': prefix + '-bad', 'plan': prefix, 'trigger': {'pattern': SUNDAYS}}, **bad)
    message = message.format(name=entry['name'])
    result, records = run(run_playbook, tmp_path, 'bad', prefix, [good, entry], check=False)
    assert result.rc != 0
    failed = [r for r in records if r['status'] == 'failed']
    assert len(failed) == 1, records
    assert message in failed[0]['result']['msg'], failed[0]['result']['msg']
    # it failed before any trigger or operation was written, the good entry's too
    assert not [r for r in records if r['action'] in WRITERS and r['status'] != 'skipped']
    ops, triggers = schedule_state(cloud, tmp_path / 'state')
    assert not [n for n in list(ops) + list(triggers) if n.startswith(prefix)], (ops, triggers)
