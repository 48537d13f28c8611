# -*- coding: utf-8 -*-
"""Issue 16: scheduled copy and verify operations, exactly once per fire time,
through AWX-style jobs on two nodes (tests/integration/awx_job.py).

A setup job makes a plan of a small Glance image (a Swift-bank provider of its
own container in project A), an hourly trigger and two operations on it: a
``copy`` into a provider of project B, whose credentials come with each run
(as an AWX custom credential's file injector gives them: a file named by
KARBOR_TARGET_AUTH_FILE; nothing of them is stored), and a ``verify`` at level
``data``; bad definitions fail in the same job and leave nothing. Before each
simulated fire time the test takes a checkpoint of the plan; then two
``run_scheduled.yml`` jobs start together at the fire time. Each fire time is
claimed once per operation, the target bank holds exactly one copy per fire
time (its ``copied_from`` names the operation and fire time), and there is
exactly one verification record per fire time.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import time
import uuid

import yaml
from awx_job import AwxJobs  # pylint: disable=import-error
from conftest import delete_container  # pylint: disable=import-error
from test_awx_schedule import image  # noqa: F401 pylint: disable=import-error,unused-import

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
    ProtectionEngine)

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 8, 1, 0, 0, tzinfo=UTC)
FIRE_TIMES = [T0 + datetime.timedelta(hours=k) for k in range(1, 4)]
MIB = 1024 * 1024
JOB_ENV = {'KARBOR_PROVIDERS_DIR': '{pdd}/project/providers',
           'KARBOR_TARGET_AUTH_FILE': '{pdd}/project/target-auth.json'}
SCHEDULE = {'awx_schedule_id': 9, 'awx_schedule_name': 'offsite', 'karbor_log_max_age_days': 0}

SETUP = r'''---
- name: Copy and verify schedules
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Ensure the plan
      karbor.protection.plan:
        name: "{{ plan_name }}"
        provider_id: "{{ source_provider }}"
        resources: [{id: "{{ image_id }}", type: "OS::Glance::Image"}]
      register: karbor_plan
    - name: Ensure the trigger
      karbor.protection.trigger:
        name: hourly
        pattern: "BEGIN:VEVENT\nRRULE:FREQ=HOURLY;INTERVAL=1\nEND:VEVENT"
        start_time: "{{ start_time }}"
        window: 1800
    - name: A copy without target_provider_id
      karbor.protection.scheduled_operation:
        name: bad-copy
        operation_type: copy
        trigger: hourly
        plan: "{{ plan_name }}"
      ignore_errors: true
    - name: A verify at an unknown level
      karbor.protection.scheduled_operation:
        name: bad-verify
        operation_type: verify
        trigger: hourly
        plan: "{{ plan_name }}"
        level: everything
      ignore_errors: true
    - name: A copy with max_backups
      karbor.protection.scheduled_operation:
        name: bad-copy-2
        operation_type: copy
        trigger: hourly
        plan: "{{ plan_name }}"
        target_provider_id: "{{ target_provider }}"
        max_backups: 3
      ignore_errors: true
    - name: Ensure the copy
      karbor.protection.scheduled_operation:
        name: offsite
        operation_type: copy
        trigger: hourly
        plan: "{{ plan_name }}"
        target_provider_id: "{{ target_provider }}"
    - name: Ensure the verify
      karbor.protection.scheduled_operation:
        name: check
        operation_type: verify
        trigger: hourly
        plan: "{{ plan_name }}"
        level: data
    - name: Operations
      karbor.protection.scheduled_operation_info:
'''


def provider_file(folder: str, label: str) -> tuple[str, str]:
    """A Swift-bank provider of its own container (in the project of whoever uses it)."""
    provider_id = str(uuid.uuid4())
    container = 'karbor-it-schedcv-%s-%s' % (label, provider_id[:8])
    with open(os.path.join(folder, provider_id + '.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = schedcv-%s-%s\nbank = swift\n'
                     'plugin = karbor-image-protection-plugin\n'
                     '[image_backup_plugin]\nbackup_image_object_size = %d\n'
                     '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                     % (provider_id, label, provider_id[:8], MIB, container))
    return provider_id, container


def iso(moment: datetime.datetime) -> str:
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def test_two_nodes_copy_and_verify_each_fire_time_once(awx, cloud, image, tmp_path):
    started = time.monotonic()
    project = str(tmp_path / 'project')
    shutil.copytree(awx.project_dir, project)
    providers = os.path.join(project, 'providers')
    os.makedirs(providers)
    source, source_container = provider_file(providers, 'src')
    target, target_container = provider_file(providers, 'dst')
    with open(cloud.clouds_yaml, encoding='utf-8') as handle:
        target_auth = yaml.safe_load(handle)['clouds'][cloud.b]['auth']
    with open(os.path.join(project, 'target-auth.json'), 'w', encoding='utf-8') as handle:
        json.dump(target_auth, handle)  # what the custom credential's file injector writes
    with open(os.path.join(project, 'copy_verify_setup.yml'), 'w', encoding='utf-8') as handle:
        handle.write(SETUP)
    jobs = AwxJobs(cloud, str(tmp_path / 'jobs'), project, awx.collections, awx.template_env)
    engine = ProtectionEngine(state_dir=str(tmp_path / 'state'), providers_dir=providers,
                              cloud=CloudSession({'cloud': cloud.a}))
    target_engine = ProtectionEngine(state_dir=str(tmp_path / 'state-b'),
                                     providers_dir=providers,
                                     cloud=CloudSession({'cloud': cloud.b}))
    plan_name = 'schedcv-%s' % uuid.uuid4().hex[:6]
    results = []
    try:
        setup = jobs.run('copy_verify_setup.yml', {
            'plan_name': plan_name, 'image_id': image.id, 'source_provider': source,
            'target_provider': target, 'start_time': T0.strftime('%Y-%m-%d %H:%M:%S')},
            dict(JOB_ENV, KARBOR_FAKE_NOW=T0.isoformat()))
        results.append(setup)
        # bad definitions fail with what to fix, and leave nothing
        assert 'needs target_provider_id' in setup.result(
            'A copy without target_provider_id')['msg']
        assert "Verification level 'everything' does not exist" in setup.result(
            'A verify at an unknown level')['msg']
        assert 'max_backups applies to retention_protect operations only' in setup.result(
            'A copy with max_backups')['msg']
        listed = setup.result('Operations')['scheduled_operations']
        assert sorted(op['name'] for op in listed) == ['check', 'offsite']
        ops = {op['name']: op for op in listed}
        assert ops['offsite']['operation_definition']['target_provider_id'] == target
        assert ops['check']['operation_definition']['level'] == 'data'
        assert 'auth' not in json.dumps(ops['offsite'])  # no credentials in the catalog
        plan = engine.plans.get(plan_name)

        made, jobs_at = [], {}
        for fire in FIRE_TIMES:
            checkpoint = engine.protect(plan, {'name': 'before-%s' % iso(fire)}, wait=True)
            assert checkpoint.status == 'available', checkpoint.data.get('error')
            made.append(checkpoint.id)
            tick = fire + datetime.timedelta(minutes=1)
            pair = [jobs.job('run_scheduled.yml', SCHEDULE,
                             dict(JOB_ENV, KARBOR_FAKE_NOW=tick.isoformat())) for _node in (0, 1)]
            for job in pair:
                job.start()
            jobs_at[iso(fire)] = {str(job.job_id) for job in pair}
            runs = []
            for job in pair:
                result = job.wait()
                results.append(result)
                runs.extend(result.result('Run what is due')['runs'])
            # this fire time, once per operation, across both nodes
            assert sorted((r['operation_name'], r['fire_time'], r['state']) for r in runs) == [
                ('check', iso(fire), 'success'), ('offsite', iso(fire), 'success')], runs
            done = {r['operation_name']: r for r in runs}
            assert done['offsite']['checkpoint_ids'] == [checkpoint.id]
            assert done['offsite']['copied']['target_provider_id'] == target
            assert done['offsite']['copied']['copies'][0]['changed']
            assert done['offsite']['copied']['objects_sent'] > 0
            verification = done['check']['verify']['verifications'][0]
            assert (verification['checkpoint_id'], verification['status']) == (
                checkpoint.id, 'success')

        # the claims: one per operation and fire time, each with what was done
        bank = engine.catalog.bank
        claims = [bank.get_json(key) for key in bank.iter_all('/scheduler/claims/')]
        assert sorted((c['operation_id'], c['fire_time']) for c in claims) == sorted(
            (ops[name]['id'], iso(fire)) for name in ops for fire in FIRE_TIMES)
        assert {c['state'] for c in claims} == {'success'}
        for claim in claims:
            assert claim['awx_job_id'] in jobs_at[claim['fire_time']]
        copy_claims = sorted((c for c in claims if c['operation_id'] == ops['offsite']['id']),
                             key=lambda c: c['fire_time'])
        assert [c['copied']['copies'][0]['checkpoint_id'] for c in copy_claims] == made
        # the target bank (project B): one copy per fire time, none twice
        copies = target_engine.list_checkpoints(target)
        origins = sorted((c.extra_info['copied_from'] for c in copies),
                         key=lambda o: o['fire_time'])
        assert [o['fire_time'] for o in origins] == [iso(f) for f in FIRE_TIMES]
        assert [o['checkpoint_id'] for o in origins] == made
        assert {o['scheduled_operation_id'] for o in origins} == {ops['offsite']['id']}
        assert {c.status for c in copies} == {'available'}
        assert all(c.project_id != engine.project_id for c in copies)
        # the verifications: one per fire time
        verifications = engine.verifications.list()
        assert sorted(v['checkpoint_id'] for v in verifications) == sorted(made)
        assert {(v['status'], v['level']) for v in verifications} == {('success', 'data')}
        logs = engine.operation_logs.list(operation_type='scheduled_operation')
        assert sorted((lg['scheduled_operation_id'], lg['extra_info']['fire_time'], lg['status'])
                      for lg in logs) == sorted(
            (ops[name]['id'], iso(fire), 'success') for name in ops for fire in FIRE_TIMES)
    finally:
        delete_container(cloud.connect(cloud.a), source_container)
        delete_container(cloud.connect(cloud.b), target_container)
        print('\n%d fire times x copy + verify, %d AWX jobs: %.1f s'
              % (len(FIRE_TIMES), len(results), time.monotonic() - started))
    for result in results:
        assert 'Traceback' not in result.stdout, result.stdout[-4000:]
