# -*- coding: utf-8 -*-
"""Issue 6 acceptance: playbooks/backup.yml twice (the second run changes
nothing but the new checkpoint), playbooks/restore.yml brings every resource
back, and the schedule role (idempotent, argument specs, prune), all through
real ansible-playbook processes against the real test cloud.

Which tasks changed is read from a test-only JSON callback
(callback_plugins/task_log.py), not from the text output."""
from __future__ import annotations

import io
import json
import os
import time
import uuid

import pytest

OS_INFRA_LOCAL = '6659007d-6f66-4a0f-9cb4-17d6aded0bb9'
NOOP = 'b766f37c-d011-4026-8228-28730d734a3f'
HERE = os.path.dirname(os.path.abspath(__file__))
PATTERN_OFFSET = 8192
DAILY = 'BEGIN:VEVENT\nRRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=0\nEND:VEVENT'


def tag() -> str:
    return 'it6-%s' % uuid.uuid4().hex[:8]


def read_log(path) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding='utf-8') as handle:
        return [json.loads(line) for line in handle if line.strip()]


def run_logged(run_playbook, tmp_path, label, playbook, extravars, check=True, env=None):
    """Run a playbook with the task_log callback; return (result, task records)."""
    log = tmp_path / ('%s.jsonl' % label)
    full_env = {'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
                'ANSIBLE_CALLBACKS_ENABLED': 'task_log', 'KARBOR_TASK_LOG': str(log)}
    full_env.update(env or {})
    result = run_playbook(playbook, extravars, check=check, env=full_env)
    return result, read_log(log)


def records_of(run_playbook, tmp_path, label, playbook, extravars, env=None) -> list[dict]:
    """The task records of a playbook run that must succeed."""
    return run_logged(run_playbook, tmp_path, label, playbook, extravars, env=env)[1]


def changed_tasks(records) -> list[str]:
    return [r['task'] for r in records if r['changed']]


def task(records, suffix) -> dict:
    found = [r for r in records if r['task'].endswith(suffix)]
    assert len(found) == 1, 'task %r: %s' % (suffix, [r['task'] for r in records])
    return found[0]


def ended_checkpoint(records) -> dict:
    """The checkpoint as the protect role saw it end (it starts detached, then polls)."""
    return task(records, 'Record the checkpoint as it ended')['result']['ansible_facts'][
        'protect_result']


def volume_file(cloud, volume_id):
    return os.path.join(cloud.base, 'data', 'cinder', 'volumes', 'volume-%s' % volume_id)


def engine_for(cloud, state_dir):
    from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
    from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
    return ProtectionEngine(state_dir=str(state_dir), cloud=CloudSession({'cloud': cloud.a}))


@pytest.fixture
def sample(cloud):
    """A project-a volume with a known pattern and an image with random bytes."""
    conn = cloud.connect(cloud.a)
    name = tag()
    vol = conn.block_storage.create_volume(size=1, name=name + '-vol')
    conn.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=120)
    payload = ('karbor playbooks %s ' % vol.id).encode() * 200
    with open(volume_file(cloud, vol.id), 'r+b') as handle:
        handle.seek(PATTERN_OFFSET)
        handle.write(payload)
    data = os.urandom(3 * 1024 * 1024 + 777)
    image = conn.image.create_image(name=name + '-img', disk_format='raw',
                                    container_format='bare', allow_duplicates=True)
    image.upload(conn.image, data=io.BytesIO(data), size=len(data))
    conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
    image = conn.image.get_image(image.id)
    made = {'conn': conn, 'name': name, 'volume': vol, 'payload': payload, 'image': image,
            'data': data, 'extra_volumes': [], 'extra_images': []}
    yield made
    for volume_id in [vol.id] + made['extra_volumes']:
        delete_volume_eventually(conn, volume_id)
    for image_id in [image.id] + made['extra_images']:
        conn.image.delete_image(image_id, ignore_missing=True)


def delete_volume_eventually(conn, volume_id):
    """Best-effort cleanup: a failed run may leave the volume busy for a while."""
    import openstack.exceptions
    deadline = time.time() + 120
    while True:
        try:
            conn.block_storage.delete_volume(volume_id, ignore_missing=True)
            return
        except openstack.exceptions.SDKException:
            if time.time() > deadline:
                return
            time.sleep(3)


def test_backup_twice_then_restore(cloud, sample, run_playbook, tmp_path):
    conn, vol, image = sample['conn'], sample['volume'], sample['image']
    state_dir = tmp_path / 'state'
    env = {'KARBOR_STATE_DIR': str(state_dir)}
    plan_name = sample['name']
    backup_vars = {
        'protect_plan_name': plan_name,
        'protect_provider_id': OS_INFRA_LOCAL,
        'protect_resources': [{'id': vol.id, 'type': 'OS::Cinder::Volume'},
                              {'id': image.id, 'type': 'OS::Glance::Image'}],
        'protect_keep': 3,
    }
    engine = engine_for(cloud, state_dir)
    checkpoint_ids = []
    try:
        first = records_of(run_playbook, tmp_path, 'backup1', 'playbooks/backup.yml',
                           backup_vars, env=env)
        assert task(first, 'Ensure the plan')['changed'] is True  # created
        assert task(first, 'Start the checkpoint')['changed'] is True
        first_plan = task(first, 'Ensure the plan')['result']['plan']
        first_cp = ended_checkpoint(first)
        checkpoint_ids.append(first_cp['id'])
        assert first_cp['status'] == 'available', first_cp
        assert first_cp['id'] == task(first, 'Start the checkpoint')['result']['checkpoint']['id']

        second = records_of(run_playbook, tmp_path, 'backup2', 'playbooks/backup.yml',
                            backup_vars, env=env)
        assert not [r for r in second if r['status'] == 'failed']
        # the second run changes nothing but the new checkpoint
        assert changed_tasks(second) == ['karbor.protection.protect : Start the checkpoint'], \
            [(r['task'], r['status']) for r in second]
        assert task(second, 'Ensure the plan')['changed'] is False
        second_plan = task(second, 'Ensure the plan')['result']['plan']
        assert second_plan == first_plan
        second_cp = ended_checkpoint(second)
        checkpoint_ids.append(second_cp['id'])
        assert second_cp['id'] != first_cp['id']
        assert second_cp['status'] == 'available', second_cp
        # keep 3 of 2: the prune runs and deletes nothing
        pruned = task(second, 'Delete the checkpoints beyond the newest 3')
        assert pruned['changed'] is False and pruned['result']['deleted'] == []
        # exactly one new checkpoint, in the bank too
        in_bank = [c.id for c in
                   engine.list_checkpoints(OS_INFRA_LOCAL, plan_id=first_plan['id'])]
        assert sorted(in_bank) == sorted(checkpoint_ids)

        # the originals go away; restore.yml brings them back under their own names
        conn.block_storage.delete_volume(vol.id)
        conn.block_storage.wait_for_delete(vol, wait=120)
        conn.image.delete_image(image.id)
        restored = records_of(run_playbook, tmp_path, 'restore', 'playbooks/restore.yml', {
            'restore_plan': plan_name,
            'restore_parameters': {
                'OS::Cinder::Volume#%s' % vol.id: {'restore_name': vol.name},
                'OS::Glance::Image#%s' % image.id: {'restore_name': image.name}},
        }, env=env)
        result = task(restored, ' : Restore')['result']['restore']
        assert result['checkpoint_id'] == second_cp['id']  # the newest one
        assert task(restored, 'Check every resource came back')['status'] == 'ok'
        new = result['new_resources']
        assert sorted(new) == sorted([vol.id, image.id])
        sample['extra_volumes'].append(new[vol.id])
        sample['extra_images'].append(new[image.id])
        new_vol = conn.block_storage.get_volume(new[vol.id])
        assert new_vol.name == vol.name and new_vol.size == vol.size
        assert new_vol.status == 'available'
        with open(volume_file(cloud, new_vol.id), 'rb') as handle:
            handle.seek(PATTERN_OFFSET)
            assert handle.read(len(sample['payload'])) == sample['payload']
        new_image = conn.image.get_image(new[image.id])
        assert new_image.name == image.name
        assert new_image.size == image.size == len(sample['data'])
        assert new_image.checksum == image.checksum
        assert new_image.status == 'active'
    finally:
        # every checkpoint of the plan, newest first, also those of a run that failed
        try:
            plan_id = engine.plans.get(plan_name)['id']
            left = engine.list_checkpoints(OS_INFRA_LOCAL, plan_id=plan_id)
        except Exception:  # pylint: disable=broad-except
            left = []  # no plan: nothing was protected
        for checkpoint in sorted(left, key=lambda c: c.data.get('created_at') or '',
                                 reverse=True):
            try:
                engine.delete_checkpoint(OS_INFRA_LOCAL, checkpoint.id)
            except Exception:  # pylint: disable=broad-except
                pass  # best effort: the test's verdict is already decided


SCHEDULE_PLAYBOOK = 'schedule_role.yml'


def schedule_state(cloud, state_dir):
    """(operations by name, triggers by name) in the catalog."""
    engine = engine_for(cloud, state_dir)
    ops = {o['name']: o for o in engine.catalog.scheduled_operations.iter(engine.project_id)}
    triggers = {t['name']: t for t in engine.catalog.triggers.iter(engine.project_id)}
    return ops, triggers


def test_schedule_role(cloud, run_playbook, tmp_path):
    state_dir = tmp_path / 'state'
    prefix = tag()
    nightly = {'name': prefix + '-nightly', 'plan': prefix, 'operation': 'retention_protect',
               'max_backups': 7, 'retention_duration': 30,
               'trigger': {'pattern': DAILY, 'timezone': 'Europe/Berlin', 'window': 1800}}
    hourly = {'name': prefix + '-hourly', 'plan': prefix, 'description': 'every hour',
              'trigger': {'format': 'crontab', 'pattern': '0 * * * *'}}
    base = {'state_dir': str(state_dir), 'schedule_state_dir': str(state_dir),
            'plan_name': prefix, 'provider_id': NOOP, 'hand_made': prefix + '-by-hand'}

    def run(label, entries, check=True, **extra):
        extravars = dict(base, schedule_operations=entries)
        extravars.update(extra)
        return run_logged(run_playbook, tmp_path, label, SCHEDULE_PLAYBOOK, extravars,
                          check=check)[1]

    first = run('first', [nightly, hourly])
    assert task(first, 'Ensure the triggers')['changed'] is True
    assert task(first, 'Ensure the scheduled operations')['changed'] is True
    ops, triggers = schedule_state(cloud, state_dir)
    assert {nightly['name'], hourly['name']} <= set(ops)
    assert ops[nightly['name']]['operation_type'] == 'retention_protect'
    assert ops[nightly['name']]['operation_definition']['max_backups'] == 7
    assert ops[nightly['name']]['trigger_id'] == triggers[nightly['name']]['id']
    assert ops[hourly['name']]['description'] == 'every hour [owner: karbor.protection.schedule]'
    assert triggers[nightly['name']]['properties']['timezone'] == 'Europe/Berlin'
    assert triggers[hourly['name']]['properties']['format'] == 'crontab'

    # idempotent: nothing changes on the second run
    second = run('second', [nightly, hourly])
    assert changed_tasks(second) == [], [(r['task'], r['status']) for r in second]
    assert schedule_state(cloud, state_dir)[0] == ops

    # schedule_awx hands exactly these triggers to the awx_schedule role (awx.awx is not
    # installed here, so that role stops before calling AWX when told not to require it)
    with_awx = run('awx', [nightly, hourly], schedule_awx=True, awx_schedule_require_awx=False)
    assert changed_tasks(with_awx) == []
    picked = task(with_awx, 'Pick the triggers to schedule')['result']['ansible_facts']
    assert sorted(t['name'] for t in picked['awx_schedule_selected']) == \
        sorted([nightly['name'], hourly['name']])
    assert task(with_awx, 'Skip without awx.awx')['status'] == 'ok'

    # a change to one entry changes that entry only
    moved = dict(hourly, trigger={'format': 'crontab', 'pattern': '30 * * * *'})
    third = run('third', [nightly, moved])
    trig = task(third, 'Ensure the triggers')['result']['results']
    assert [r['item']['name'] for r in trig if r['changed']] == [hourly['name']]
    assert changed_tasks(third) == ['karbor.protection.schedule : Ensure the triggers']

    # dropped from the list without prune: left alone (and a hand-made operation exists)
    fourth = run('fourth', [nightly], make_hand_made=True)
    ops, triggers = schedule_state(cloud, state_dir)
    assert hourly['name'] in ops and base['hand_made'] in ops
    assert [t for t in changed_tasks(fourth) if 'schedule :' in t] == []

    # prune: the dropped entry's operation and trigger go; the hand-made one stays
    fifth = run('fifth', [nightly], schedule_prune=True)
    ops, triggers = schedule_state(cloud, state_dir)
    assert hourly['name'] not in ops and hourly['name'] not in triggers
    assert nightly['name'] in ops and nightly['name'] in triggers
    assert base['hand_made'] in ops and base['hand_made'] in triggers
    assert task(fifth, 'Delete the pruned scheduled operations')['changed'] is True
    sixth = run('sixth', [nightly], schedule_prune=True)
    assert changed_tasks(sixth) == []

    # state absent removes one entry without prune
    seventh = run('seventh', [dict(nightly, state='absent')])
    assert task(seventh, 'Delete the operations of entries marked absent')['changed'] is True
    assert task(seventh, 'Delete the triggers of entries marked absent')['changed'] is True
    ops, triggers = schedule_state(cloud, state_dir)
    assert nightly['name'] not in ops and nightly['name'] not in triggers
    assert base['hand_made'] in ops


@pytest.mark.parametrize('entry, message', [
    ({'name': 'x', 'plan': 'p', 'trigger': {'format': 'crontab'}},
     'missing required arguments: pattern found in schedule_operations -> trigger'),
    ({'name': 'x', 'plan': 'p', 'operation': 'backup', 'trigger': {'pattern': DAILY}},
     'value of operation must be one of: protect, retention_protect, copy, verify, got: backup'),
    ({'plan': 'p', 'trigger': {'pattern': DAILY}},
     'missing required arguments: name found in schedule_operations'),
    ({'name': 'x', 'plan': 'p', 'max_backups': 'many', 'trigger': {'pattern': DAILY}},
     "argument 'max_backups' is of type str found in 'schedule_operations'"),
    ({'name': 'x', 'plan': 'p'}, 'schedule_operations entries x need trigger.pattern'),
])
def test_schedule_role_rejects_bad_variables(cloud, run_playbook, tmp_path, entry, message):
    state_dir = tmp_path / 'state'
    result, records = run_logged(run_playbook, tmp_path, 'bad', SCHEDULE_PLAYBOOK, {
        'state_dir': str(state_dir), 'schedule_state_dir': str(state_dir),
        'plan_name': 'p', 'provider_id': NOOP, 'make_plan': False,
        'schedule_operations': [entry]}, check=False)
    assert result.rc != 0
    failed = [r for r in records if r['status'] == 'failed']
    assert len(failed) == 1, records
    assert message in failed[0]['result']['msg'], failed[0]['result']['msg']
    assert message in result.stdout + result.stderr
    # it failed before touching the catalog
    assert not [r for r in records if r['action'].startswith('karbor.protection.')
                and r['status'] != 'skipped']
