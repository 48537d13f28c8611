# -*- coding: utf-8 -*-
"""Ansible-playbook runs that create one new plan, trigger and scheduled
operation at the same moment make one of each (the others find the first's)."""
from __future__ import annotations

import json
import subprocess
import time

from conftest import REPO, ansible_playbook_cmd, playbook_env

NOOP = 'b766f37c-d011-4026-8228-28730d734a3f'
RUNS = 3
PLAYBOOK = '''
- name: Ensure one named plan, trigger and scheduled operation
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/karbor.protection.all:
      state_dir: "{{ state_dir }}"
  tasks:
    - name: Plan
      karbor.protection.plan:
        name: racing-plan
        provider_id: %s
        resource_query: "[?type=='OS::Cinder::Volume' && metadata.backup=='racing']"
      register: plan
    - name: Trigger
      karbor.protection.trigger:
        name: racing-trigger
        pattern: "FREQ=DAILY;BYHOUR=2"
        format: calendar
      register: trigger
    - name: Scheduled operation
      karbor.protection.scheduled_operation:
        name: racing-operation
        trigger: racing-trigger
        plan: racing-plan
      register: operation
    - name: Report
      ansible.builtin.copy:
        content: "{{ {'plan': plan, 'trigger': trigger, 'operation': operation} | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
''' % NOOP


def catalog_records(engine, kind: str) -> list[str]:
    """The records of one kind in the catalog the runs share (this test's Swift container)."""
    return engine.catalog.bank.list('/%s/' % kind)


def test_runs_at_once_create_one_plan_trigger_and_operation(cloud, tmp_path):  # noqa: ARG001
    """The runs start while this test holds the three names' locks, so they all reach the
    plan at once (process start-up jitter would otherwise keep them apart): none may create
    anything before the locks are released, and then one of each is made."""
    from contextlib import ExitStack
    from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
    from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
        ProtectionEngine)
    playbook = tmp_path / 'racing.yml'
    playbook.write_text(PLAYBOOK)
    state_dir = str(tmp_path / 'state')
    engine = ProtectionEngine(state_dir=state_dir, cloud=CloudSession({'cloud': 'karbor-a'}))
    procs, results = [], []
    with ExitStack() as held:
        for kind, name in (('plans', 'racing-plan'), ('triggers', 'racing-trigger'),
                           ('scheduled_operations', 'racing-operation')):
            held.enter_context(engine.name_lock(kind, name))
        for n in range(RUNS):
            result_file = str(tmp_path / ('result-%d.json' % n))
            results.append(result_file)
            cmd = ansible_playbook_cmd(str(playbook), {'state_dir': state_dir,
                                                       'result_file': result_file},
                                       str(tmp_path))
            procs.append(subprocess.Popen(cmd, cwd=REPO, env=playbook_env('karbor-a'),
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True))
        time.sleep(15)  # every run has started and reached the plan task
        assert catalog_records(engine, 'plans') == [], 'a plan was made under the lock'
        assert all(proc.poll() is None for proc in procs)
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-4000:]
    runs = []
    for result_file in results:
        with open(result_file, encoding='utf-8') as handle:
            runs.append(json.load(handle))
    for key, field in (('plan', 'plan'), ('trigger', 'trigger'),
                       ('operation', 'scheduled_operation')):
        ids = {run[key][field]['id'] for run in runs}
        assert len(ids) == 1, '%s: the runs made %s' % (key, ids)
        assert sorted(run[key]['changed'] for run in runs) == [False] * (RUNS - 1) + [True], key
    for kind in ('plans', 'triggers', 'scheduled_operations'):
        found = catalog_records(engine, kind)
        assert len(found) == 1, '%s in the catalog: %s' % (kind, found)
