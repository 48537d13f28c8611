# -*- coding: utf-8 -*-
"""Karbor's walkthrough forms through ansible-playbook: a trigger given as
``type``/``properties`` and a scheduled operation given as ``trigger_id`` and
``operation_definition`` make the same records as the flat options (a second
run in the other form changes nothing); values given both ways must agree."""
from __future__ import annotations

import json

NOOP = 'b766f37c-d011-4026-8228-28730d734a3f'
PLAYBOOK = '''
- name: Karbor's forms
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/karbor.protection.all:
      state_dir: "{{ state_dir }}"
  tasks:
    - name: Plan
      karbor.protection.plan:
        name: forms-plan
        provider_id: %(noop)s
        resource_query: "[?type=='OS::Cinder::Volume' && metadata.backup=='forms']"
      register: plan
    - name: Trigger in Karbor's form
      karbor.protection.trigger:
        name: forms-trigger
        type: time
        properties:
          pattern: "FREQ=DAILY;BYHOUR=4"
          format: calendar
          window: "3600"
      register: karbor_trigger
    - name: Scheduled operation in Karbor's form
      karbor.protection.scheduled_operation:
        name: forms-operation
        operation_type: retention_protect
        trigger_id: "{{ karbor_trigger.trigger.id }}"
        operation_definition:
          plan_id: "{{ plan.plan.id }}"
          provider_id: %(noop)s
          max_backups: "3"
      register: karbor_operation
    - name: The same trigger, flat
      karbor.protection.trigger:
        name: forms-trigger
        pattern: "FREQ=DAILY;BYHOUR=4"
        format: calendar
        window: 3600
      register: flat_trigger
    - name: The same operation, flat
      karbor.protection.scheduled_operation:
        name: forms-operation
        operation_type: retention_protect
        trigger: forms-trigger
        plan: forms-plan
        max_backups: 3
      register: flat_operation
    - name: A value given both ways, differently
      karbor.protection.trigger:
        name: forms-trigger
        pattern: "FREQ=DAILY;BYHOUR=5"
        properties:
          pattern: "FREQ=DAILY;BYHOUR=6"
      register: twice
      ignore_errors: true
    - name: An unknown key
      karbor.protection.scheduled_operation:
        name: forms-operation
        operation_definition:
          plan: forms-plan
      register: unknown
      ignore_errors: true
    - name: Report
      ansible.builtin.copy:
        content: "{{ {'plan': plan, 'karbor_trigger': karbor_trigger,
                     'karbor_operation': karbor_operation, 'flat_trigger': flat_trigger,
                     'flat_operation': flat_operation, 'twice': twice,
                     'unknown': unknown} | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
''' % {'noop': NOOP}


def test_karbor_forms_make_the_same_records(run_playbook, tmp_path):
    playbook = tmp_path / 'forms.yml'
    playbook.write_text(PLAYBOOK)
    result_file = tmp_path / 'result.json'
    run_playbook(str(playbook), {'state_dir': str(tmp_path / 'state'),
                                 'result_file': str(result_file)})
    got = json.loads(result_file.read_text())
    trigger = got['karbor_trigger']['trigger']
    assert got['karbor_trigger']['changed'] is True
    assert 'RRULE:FREQ=DAILY;BYHOUR=4' in trigger['properties']['pattern']
    assert trigger['properties']['window'] == 3600
    operation = got['karbor_operation']['scheduled_operation']
    assert got['karbor_operation']['changed'] is True
    assert operation['trigger_id'] == trigger['id']
    assert operation['operation_definition']['plan_id'] == got['plan']['plan']['id']
    assert operation['operation_definition']['max_backups'] == 3
    # the flat options describe the same records: nothing changes
    assert got['flat_trigger']['changed'] is False
    assert got['flat_trigger']['trigger']['id'] == trigger['id']
    assert got['flat_operation']['changed'] is False
    assert got['flat_operation']['scheduled_operation']['id'] == operation['id']
    # clear errors, nothing changed
    assert got['twice']['failed'] is True and 'given twice' in got['twice']['msg']
    assert got['unknown']['failed'] is True
    assert 'operation_definition has no key plan' in got['unknown']['msg']
    assert 'plan_id' in got['unknown']['msg']
