# -*- coding: utf-8 -*-
"""Failed runs do not pile up: a protect killed at a fault point leaves an
``error`` checkpoint (once its lease expires), which checkpoint_prune keeps
during the grace period and deletes after it, with its bank objects; and
operation_log_prune trims the logs those runs wrote, never one still
running. Through ansible-playbook on the test cloud (catalog in Swift)."""
from __future__ import annotations

import glob
import json
import os
import time

PROVIDER = '6d2c8b1f-4e1a-4d66-8b72-3c0f7d1e8b22'
PLAYBOOK = '''
- name: One step of the error cleanup test
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/karbor.protection.all:
      state_dir: "{{ state_dir }}"
      providers_dir: "{{ providers_dir }}"
  tasks:
    - name: Plan
      karbor.protection.plan:
        name: error-cleanup
        provider_id: %(provider)s
        resources:
          - id: "{{ volume_id }}"
            type: OS::Cinder::Volume
      register: plan
    - name: Checkpoint
      karbor.protection.checkpoint:
        plan: error-cleanup
      when: step == 'protect'
    - name: Prune
      karbor.protection.checkpoint_prune:
        plan: error-cleanup
        keep: 1
        error_grace_hours: "{{ grace }}"
      register: pruned
      when: step == 'prune'
    - name: Trim logs in check mode
      karbor.protection.operation_log_prune:
        keep: 1
      check_mode: true
      register: logs_dry
      when: step == 'logs'
    - name: Trim logs
      karbor.protection.operation_log_prune:
        keep: 1
      register: logs_trimmed
      when: step == 'logs'
    - name: Logs left
      karbor.protection.operation_log_info:
      register: logs_left
    - name: Checkpoints
      karbor.protection.checkpoint_info:
        plan: error-cleanup
      register: listed
    - name: Report
      ansible.builtin.copy:
        content: "{{ {'pruned': pruned, 'listed': listed.checkpoints, 'logs_dry': logs_dry,
                     'logs_trimmed': logs_trimmed, 'logs_left': logs_left.operation_logs}
                     | to_json }}"
        dest: "{{ state_dir }}/{{ step }}.json"
        mode: "0600"
''' % {'provider': PROVIDER}


def _provider(folder: str, bank: str) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'errors.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = Error cleanup test\n'
                     'bank = karbor-fs-bank-plugin\nplugin = karbor-noop-protection-plugin\n'
                     '[file_system_bank_plugin]\nfile_system_bank_path = %s\n'
                     'lease_expire_window = 6\nlease_renew_window = 2\n'
                     'lease_validity_window = 1\n' % (PROVIDER, bank))


def test_error_checkpoints_cleaned_after_grace_and_logs_trimmed(run_playbook, volume, tmp_path):
    playbook = tmp_path / 'errors.yml'
    playbook.write_text(PLAYBOOK)
    state = tmp_path / 'state'
    state.mkdir()
    bank = str(tmp_path / 'bank')
    providers = str(tmp_path / 'providers.d')
    _provider(providers, bank)

    def step(name: str, env: dict | None = None, check: bool = True, **extra) -> dict:
        extravars = dict({'state_dir': str(state), 'providers_dir': providers,
                          'volume_id': volume.id, 'step': name, 'grace': 24}, **extra)
        result = run_playbook(str(playbook), extravars, env=env, check=check)
        if not check:
            assert result.rc != 0
            return {}
        return json.loads((state / ('%s.json' % name)).read_text())

    step('protect')
    good = step('protect')['listed']
    assert [c['status'] for c in good] == ['available', 'available']
    step('protect', env={'KARBOR_FAULT': 'protect.main'}, check=False)  # killed mid-run
    time.sleep(8)  # the dead run's lease expires
    listed = step('list')['listed']
    failed = [c for c in listed if c['status'] == 'error']
    assert len(failed) == 1, listed
    failed_id = failed[0]['id']
    assert glob.glob(os.path.join(bank, 'checkpoints', failed_id, '*'))

    # within the grace: keep-1 deletes the older available one only, the error one stays
    within = step('prune')
    assert within['pruned']['deleted'] == [good[-1]['id']]
    assert failed_id in [c['id'] for c in within['listed'] if c['status'] == 'error']
    # past the grace (0 hours): the error checkpoint goes, with its bank objects
    after = step('prune', grace=0)
    assert after['pruned']['deleted'] == [failed_id]
    assert [c['status'] for c in after['listed'] if c['status'] != 'deleted'] == ['available']
    left = [p for p in glob.glob(os.path.join(bank, 'checkpoints', failed_id, '**'),
                                 recursive=True) if os.path.isfile(p)]
    assert all(p.endswith('index.json') for p in left), left  # a tombstone at most

    # operation logs: the runs above wrote several; keep 1 trims the rest, check mode first
    logs = step('logs')
    assert len(logs['logs_dry']['deleted']) >= 3
    assert logs['logs_trimmed']['deleted'] == logs['logs_dry']['deleted']
    # the newest ended log stays, and the killed run's log, which never ended (count alone
    # never deletes a log that may belong to a live run)
    assert len(logs['logs_left']) == 2, logs['logs_left']
    assert sorted(bool(log['ended_at']) for log in logs['logs_left']) == [False, True]
    again = step('logs')
    assert again['logs_trimmed']['changed'] is False and again['logs_trimmed']['deleted'] == []
