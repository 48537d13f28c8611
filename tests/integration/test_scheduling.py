# -*- coding: utf-8 -*-
"""Issue 5 acceptance: triggers, scheduled operations, the exactly-once runner
and retention, through real ansible-playbook processes against the real test
cloud (the No-Op provider, a local bank in a per-test state_dir).

Time is simulated with KARBOR_FAKE_NOW (the engine's injectable clock), passed
as environment to each ansible-playbook process.
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from conftest import collections_path  # pylint: disable=import-error

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
RUN_SCHEDULED = os.path.join(REPO, 'playbooks', 'run_scheduled.yml')
NOOP = 'b766f37c-d011-4026-8228-28730d734a3f'
UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 6, 1, 0, 0, tzinfo=UTC)

SETUP = r'''---
- name: Plans, triggers and scheduled operations from variables
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/karbor.protection.all:
      cloud: "{{ cloud }}"
      state_dir: "{{ state_dir }}"
  tasks:
    - name: Plans
      karbor.protection.plan:
        name: "{{ item }}"
        provider_id: b766f37c-d011-4026-8228-28730d734a3f
        resources:
          - id: "{{ volume_id }}"
            type: OS::Cinder::Volume
      loop: "{{ plans }}"
      register: plan_results
    - name: Triggers
      karbor.protection.trigger:
        name: "{{ item.name }}"
        pattern: "{{ item.pattern }}"
        format: "{{ item.format | default(omit) }}"
        start_time: "{{ item.start_time | default(omit) }}"
        window: "{{ item.window | default(omit) }}"
        timezone: "{{ item.timezone | default(omit) }}"
      loop: "{{ triggers }}"
      register: trigger_results
    - name: Scheduled operations
      karbor.protection.scheduled_operation:
        name: "{{ item.name }}"
        operation_type: "{{ item.type | default('protect') }}"
        trigger: "{{ item.trigger }}"
        plan: "{{ item.plan }}"
        max_backups: "{{ item.max_backups | default(omit) }}"
        retention_duration: "{{ item.retention_duration | default(omit) }}"
      loop: "{{ operations }}"
      register: operation_results
    - name: Facts
      ansible.builtin.copy:
        content: "{{ {'plans': plan_results.results | map(attribute='plan') | list,
                      'triggers': trigger_results.results | list,
                      'operations': operation_results.results
                                    | map(attribute='scheduled_operation') | list} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
'''

REPORT = r'''---
- name: What the info modules say
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/karbor.protection.all:
      cloud: "{{ cloud }}"
      state_dir: "{{ state_dir }}"
  tasks:
    - name: Triggers
      karbor.protection.trigger_info:
        next_count: 3
      register: triggers
    - name: Scheduled operations
      karbor.protection.scheduled_operation_info:
        history: 1000
      register: operations
    - name: Operation logs
      karbor.protection.operation_log_info:
        limit: 5000
      register: logs
    - name: Checkpoints
      karbor.protection.checkpoint_info:
        plan: "{{ item }}"
      loop: "{{ plans }}"
      register: checkpoints
    - name: Facts
      ansible.builtin.copy:
        content: "{{ {'triggers': triggers.triggers,
                      'operations': operations.scheduled_operations,
                      'logs': logs.operation_logs,
                      'checkpoints': dict(plans | zip(checkpoints.results
                                                      | map(attribute='checkpoints')))} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
'''

DELETE_TRIGGER = r'''---
- name: Delete a trigger
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Delete
      karbor.protection.trigger:
        cloud: "{{ cloud }}"
        state_dir: "{{ state_dir }}"
        name: "{{ trigger }}"
        state: absent
'''

ROLE = r'''---
- name: The awx_schedule role where awx.awx is not installed
  hosts: localhost
  gather_facts: false
  roles:
    - role: karbor.protection.awx_schedule
      vars:
        awx_schedule_cloud: "{{ cloud }}"
        awx_schedule_state_dir: "{{ state_dir }}"
        awx_schedule_require_awx: "{{ require_awx }}"
'''


def iso(moment: datetime.datetime) -> str:
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


class Runner:
    """ansible-playbook processes with a fake clock and extra environment."""

    def __init__(self, cloud, workdir: str) -> None:
        self.cloud = cloud
        self.workdir = workdir
        self.binary = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')

    def playbook(self, name: str, text: str) -> str:
        path = os.path.join(self.workdir, name)
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def start(self, playbook: str, extravars: dict, now: datetime.datetime | None = None,
              env: dict | None = None, args: tuple = ()) -> subprocess.Popen:
        fd, varfile = tempfile.mkstemp(suffix='.json', dir=self.workdir)
        with os.fdopen(fd, 'w') as handle:
            json.dump(extravars, handle)
        environ = dict(os.environ)
        environ.update({
            'ANSIBLE_COLLECTIONS_PATH': collections_path(), 'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_LOCALHOST_WARNING': 'False', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
            'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
            'OS_CLIENT_CONFIG_FILE': self.cloud.clouds_yaml,
            'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
        })
        environ.pop('KARBOR_FAKE_NOW', None)
        if now is not None:
            environ['KARBOR_FAKE_NOW'] = now.isoformat()
        environ.update(env or {})
        cmd = [self.binary, '-i', 'localhost,', '-c', 'local', playbook, '-e', '@' + varfile]
        return subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=REPO, env=environ)

    def run(self, playbook: str, extravars: dict, now=None, env=None, args=(),
            check: bool = True):
        proc = self.start(playbook, extravars, now, env, args)
        out, err = proc.communicate(timeout=900)
        if check:
            assert proc.returncode == 0, 'ansible-playbook %s failed (rc %d):\n%s\n%s' % (
                playbook, proc.returncode, out[-6000:], err[-2000:])
        return proc.returncode, out, err


@pytest.fixture(scope='module')
def volume(cloud):
    os.environ['OS_CLIENT_CONFIG_FILE'] = cloud.clouds_yaml
    import openstack
    conn = openstack.connect(cloud=cloud.a)
    vol = conn.block_storage.create_volume(size=1, name='karbor-sched-%s' % uuid.uuid4().hex[:6])
    conn.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=180)
    yield vol
    conn.block_storage.delete_volume(vol, ignore_missing=True)


@pytest.fixture
def runner(cloud, tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    return Runner(cloud, str(work))


def base_vars(cloud, state_dir, volume, out):
    return {'cloud': cloud.a, 'state_dir': state_dir, 'volume_id': volume.id, 'out': out}


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def bank_checkpoints(state_dir: str) -> list[dict]:
    """Every checkpoint index in the No-Op provider's local bank (deleted ones too)."""
    from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
    bank = LocalBank(os.path.join(state_dir, 'bank'))
    return [bank.get_json(key) for key in bank.iter_all('/checkpoints/')
            if key.endswith('/index.json')]


def claims(state_dir: str) -> list[dict]:
    """The scheduler's fire-time claims in the catalog the runs share (this test's container)."""
    from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
    from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
        ProtectionEngine)
    bank = ProtectionEngine(state_dir=state_dir,
                            cloud=CloudSession({'cloud': 'karbor-a'})).catalog.bank
    return [bank.get_json(key) for key in bank.iter_all('/scheduler/claims/')]


# -- the seed's step 11 ---------------------------------------------------------------------

def test_seed_step_11_trigger_scheduled_operation_and_checkpoint(runner, cloud, volume,
                                                                 tmp_path):
    state_dir = str(tmp_path / 'state')
    setup = runner.playbook('setup.yml', SETUP)
    out = str(tmp_path / 'setup.json')
    five_minutes = {'name': 'every-5-min',
                    'pattern': 'BEGIN:VEVENT\nRRULE:FREQ=MINUTELY;INTERVAL=5;\nEND:VEVENT',
                    'start_time': '2026-06-01 00:00:00'}
    extravars = dict(base_vars(cloud, state_dir, volume, out), plans=['seed-plan'],
                     triggers=[five_minutes],
                     operations=[{'name': 'seed-op', 'trigger': 'every-5-min',
                                  'plan': 'seed-plan'}])
    # Karbor's default minimum interval (3600 s) refuses a 5-minute trigger, clearly
    rc, stdout, stderr = runner.run(setup, extravars, now=T0, check=False)
    assert rc != 0
    assert 'below the minimum interval of 3600 s' in stdout and 'KARBOR_MIN_INTERVAL' in stdout
    assert 'Traceback' not in stdout + stderr
    # with the minimum interval lowered (as devstack did), trigger-create works
    lowered = {'KARBOR_MIN_INTERVAL': '60'}
    runner.run(setup, extravars, now=T0, env=lowered)
    facts = read_json(out)
    trigger = facts['triggers'][0]
    assert trigger['awx_rrule'] == 'DTSTART:20260601T000000Z RRULE:FREQ=MINUTELY;INTERVAL=5'
    assert trigger['next_run_times'][:2] == ['2026-06-01T00:05:00Z', '2026-06-01T00:10:00Z']
    operation = facts['operations'][0]
    assert operation['operation_definition']['plan_id'] == facts['plans'][0]['id']
    # a second identical run changes nothing
    _rc, again, _err = runner.run(setup, extravars, now=T0, env=lowered)
    assert 'changed: [localhost] => (item=' not in again, again[-3000:]
    assert again.count('ok: [localhost] => (item=') == 3

    # check mode: reports the due fire time, claims nothing
    later = T0 + datetime.timedelta(minutes=5, seconds=20)
    run_vars = {'cloud': cloud.a, 'state_dir': state_dir}
    _rc, checked, _err = runner.run(RUN_SCHEDULED, run_vars, now=later, args=('--check',))
    assert '1 run(s), 0 missed' in checked
    assert claims(state_dir) == []

    # the run after the first fire time makes the scheduled checkpoint
    _rc, ran, _err = runner.run(RUN_SCHEDULED, dict(run_vars, awx_job_id=101,
                                                    awx_schedule_id=7), now=later)
    assert '1 run(s), 0 missed' in ran
    report = runner.playbook('report.yml', REPORT)
    report_out = str(tmp_path / 'report.json')
    runner.run(report, dict(run_vars, plans=['seed-plan'], out=report_out), now=later)
    seen = read_json(report_out)
    [checkpoint] = seen['checkpoints']['seed-plan']
    assert checkpoint['status'] == 'available'
    extra = checkpoint['extra_info']
    assert extra['scheduled_operation_id'] == operation['id']
    assert extra['trigger_id'] == trigger['trigger']['id']
    assert extra['fire_time'] == '2026-06-01T00:05:00Z'
    assert extra['created_by'] == 'operation-engine'
    assert (extra['awx_job_id'], extra['awx_schedule_id']) == ('101', '7')
    [run_log] = [lg for lg in seen['logs'] if lg['operation_type'] == 'scheduled_operation']
    assert run_log['status'] == 'success' and run_log['checkpoint_id'] == checkpoint['id']
    protect_logs = [lg for lg in seen['logs'] if lg['operation_type'] == 'protect']
    assert protect_logs[0]['scheduled_operation_id'] == operation['id']
    [op_info] = seen['operations']
    assert op_info['recent_runs'][0]['state'] == 'success'
    assert op_info['next_run_time'] == '2026-06-01T00:10:00Z'

    # the trigger is in use: deleting it is a clear error
    delete = runner.playbook('delete_trigger.yml', DELETE_TRIGGER)
    rc, stdout, stderr = runner.run(delete, dict(run_vars, trigger='every-5-min'), now=later,
                                    check=False)
    assert rc != 0 and 'is used by scheduled operation(s) %s' % operation['id'] in stdout
    assert 'Traceback' not in stdout + stderr


# -- two runners, 40 fire times (100 with KARBOR_LONG_TESTS=1) ----------------------------------

#: fire times of the two-runner test: the AWX-style two-node test (test_awx_schedule.py) runs
#: 50 more in CI; the full 100 are opt-in (CI time)
FIRE_COUNT = 100 if os.environ.get('KARBOR_LONG_TESTS') == '1' else 40

STEPS = [60, 150, 30, 120, 90, 180, 45, 210, 75]  # minutes between simulated runs


def simulated_ticks(fire_times: list[datetime.datetime], start: datetime.datetime = T0,
                    steps: list[int] | None = None) -> list[datetime.datetime]:
    """Irregular clock ticks (``steps`` minutes apart, cycled: several, one or no fire time
    per tick) up to the last but one fire time, then one tick just after the last (alone
    in its tick, so that the final run, and the final retention, is deterministic)."""
    steps = steps or STEPS
    ticks, now, i = [], start, 0
    while now < fire_times[-2]:
        now = min(now + datetime.timedelta(minutes=steps[i % len(steps)]), fire_times[-2])
        ticks.append(now)
        i += 1
    ticks.append(fire_times[-1] + datetime.timedelta(minutes=1))
    return ticks


def test_two_concurrent_runners_execute_every_fire_time_exactly_once(
        runner, cloud, volume, tmp_path):
    state_dir = str(tmp_path / 'state')
    setup = runner.playbook('setup.yml', SETUP)
    out = str(tmp_path / 'setup.json')
    hourly = {'name': 'hourly', 'pattern': 'BEGIN:VEVENT\nRRULE:FREQ=HOURLY;INTERVAL=1\nEND:VEVENT',
              'start_time': '2026-06-01 00:00:00', 'window': 14400}
    runner.run(setup, dict(base_vars(cloud, state_dir, volume, out), plans=['keep10', 'keep1day'],
                           triggers=[hourly],
                           operations=[{'name': 'keep-10', 'type': 'retention_protect',
                                        'trigger': 'hourly', 'plan': 'keep10', 'max_backups': 10},
                                       {'name': 'keep-1-day', 'type': 'retention_protect',
                                        'trigger': 'hourly', 'plan': 'keep1day',
                                        'retention_duration': 1}]), now=T0)
    facts = read_json(out)
    ops = {op['name']: op for op in facts['operations']}
    fire_times = [T0 + datetime.timedelta(hours=k) for k in range(1, FIRE_COUNT + 1)]
    ticks = simulated_ticks(fire_times)
    run_vars = {'cloud': cloud.a, 'state_dir': state_dir}

    started = time.monotonic()
    outputs = []
    for tick in ticks:
        procs = [runner.start(RUN_SCHEDULED, dict(run_vars, awx_job_id='%s-%d' % (iso(tick), n)),
                              now=tick) for n in (1, 2)]
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=900)
            assert proc.returncode == 0, 'run at %s failed:\n%s\n%s' % (
                tick, stdout[-4000:], stderr[-2000:])
            assert 'Traceback' not in stdout + stderr
            outputs.append(stdout)
    elapsed = time.monotonic() - started
    print('\n%d fire times x 2 operations, %d ticks x 2 concurrent ansible-playbook runs: '
          '%.1f s' % (len(fire_times), len(ticks), elapsed))

    # every fire time of each operation executed exactly once, none missed
    all_claims = claims(state_dir)
    assert len(all_claims) == 2 * FIRE_COUNT
    for op in ops.values():
        mine = [c for c in all_claims if c['operation_id'] == op['id']]
        assert sorted(c['fire_time'] for c in mine) == [iso(t) for t in fire_times]
        assert {c['state'] for c in mine} == {'success'}
    # both runners did some of the work
    assert len({c['run_id'] for c in all_claims}) > len(ticks)
    checkpoints = bank_checkpoints(state_dir)
    scheduled = [c for c in checkpoints if c['extra_info'].get('scheduled_operation_id')]
    assert len(scheduled) == 2 * FIRE_COUNT
    for op in ops.values():
        made = [c['extra_info']['fire_time'] for c in scheduled
                if c['extra_info']['scheduled_operation_id'] == op['id']]
        assert sorted(made) == [iso(t) for t in fire_times]  # once each, never twice

    # retention: exactly the expected checkpoints are left
    def executed_at(fire):
        return next(t for t in ticks if t >= fire)

    keep10 = sorted(c['extra_info']['fire_time'] for c in scheduled
                    if c['extra_info']['scheduled_operation_id'] == ops['keep-10']['id']
                    and c['status'] == 'available')
    assert keep10 == [iso(t) for t in fire_times[-10:]]
    final = ticks[-1]
    expected_day = [iso(t) for t in fire_times
                    if executed_at(t) >= final - datetime.timedelta(days=1)]
    keep1day = sorted(c['extra_info']['fire_time'] for c in scheduled
                      if c['extra_info']['scheduled_operation_id'] == ops['keep-1-day']['id']
                      and c['status'] == 'available')
    assert keep1day == expected_day
    assert 20 <= len(keep1day) <= 30
    assert {c['status'] for c in scheduled} == {'available', 'deleted'}

    # the operation logs list every run
    report = runner.playbook('report.yml', REPORT)
    report_out = str(tmp_path / 'report.json')
    runner.run(report, dict(run_vars, plans=['keep10', 'keep1day'], out=report_out), now=final)
    seen = read_json(report_out)
    runs = [lg for lg in seen['logs'] if lg['operation_type'] == 'scheduled_operation']
    assert len(runs) == 2 * FIRE_COUNT and {lg['status'] for lg in runs} == {'success'}
    assert all(lg['checkpoint_id'] and lg['started_at'] and lg['ended_at'] for lg in runs)
    assert len([lg for lg in seen['logs'] if lg['operation_type'] == 'delete']) == \
        2 * FIRE_COUNT - len(keep10) - len(keep1day)
    listed = seen['checkpoints']['keep10']
    assert sorted(c['extra_info']['fire_time'] for c in listed) == keep10
    # newest first by creation time (checkpoints made at one simulated instant tie)
    created = [c['created_at'] for c in listed]
    assert created == sorted(created, reverse=True)


# -- missed fire times, the AWX role ------------------------------------------------------------

def test_fire_times_past_their_window_are_recorded_missed(runner, cloud, volume, tmp_path):
    state_dir = str(tmp_path / 'state')
    setup = runner.playbook('setup.yml', SETUP)
    out = str(tmp_path / 'setup.json')
    trigger = {'name': 'hourly-tight', 'format': 'crontab', 'pattern': '0 * * * *',
               'start_time': '2026-06-01 00:00:00', 'window': 600}
    runner.run(setup, dict(base_vars(cloud, state_dir, volume, out), plans=['tight'],
                           triggers=[trigger],
                           operations=[{'name': 'tight', 'trigger': 'hourly-tight',
                                        'plan': 'tight'}]), now=T0)
    run_vars = {'cloud': cloud.a, 'state_dir': state_dir}
    late = T0 + datetime.timedelta(hours=3, minutes=5)
    procs = [runner.start(RUN_SCHEDULED, run_vars, now=late) for _n in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    states = sorted((c['fire_time'], c['state']) for c in claims(state_dir))
    assert states == [('2026-06-01T01:00:00Z', 'missed'), ('2026-06-01T02:00:00Z', 'missed'),
                      ('2026-06-01T03:00:00Z', 'success')]
    report = runner.playbook('report.yml', REPORT)
    report_out = str(tmp_path / 'report.json')
    runner.run(report, dict(run_vars, plans=['tight'], out=report_out), now=late)
    logs = [lg for lg in read_json(report_out)['logs']
            if lg['operation_type'] == 'scheduled_operation']
    missed = sorted(lg['extra_info']['fire_time'] for lg in logs if lg['status'] == 'missed')
    assert missed == ['2026-06-01T01:00:00Z', '2026-06-01T02:00:00Z']
    assert all('window of 600 s' in lg['error_info'] for lg in logs if lg['status'] == 'missed')


def test_awx_schedule_role_is_guarded_without_awx_collection(runner, cloud, tmp_path):
    playbook = runner.playbook('role.yml', ROLE)
    run_vars = {'cloud': cloud.a, 'state_dir': str(tmp_path / 'state')}
    rc, stdout, _err = runner.run(playbook, dict(run_vars, require_awx=True), check=False)
    assert rc != 0 and 'The awx.awx collection is not installed' in stdout
    _rc, stdout, _err = runner.run(playbook, dict(run_vars, require_awx=False))
    assert 'awx.awx is not installed; skipping' in stdout
