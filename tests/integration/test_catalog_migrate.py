# -*- coding: utf-8 -*-
"""catalog_migrate moves a catalog that earlier runs kept on disk into the
project's Swift catalog, through ansible-playbook against the test cloud's
Swift: records keep their ids, a second run copies nothing, a record that
differs on both sides fails the task and is left alone, and catalog: local
is refused."""
from __future__ import annotations

import json

NOOP = 'b766f37c-d011-4026-8228-28730d734a3f'
PLAYBOOK = '''
- name: A local catalog moved into Swift
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/karbor.protection.all:
      state_dir: "{{ state_dir }}"
  tasks:
    - name: A plan and a trigger made the old way, on this machine's disk
      karbor.protection.plan:
        name: migrated-plan
        provider_id: %(noop)s
        resource_query: "[?type=='OS::Cinder::Volume' && metadata.backup=='migrated']"
        description: "{{ description }}"
        catalog: local
      register: local_plan
    - name: Trigger
      karbor.protection.trigger:
        name: migrated-trigger
        pattern: "FREQ=DAILY;BYHOUR=3"
        format: calendar
        catalog: local
      register: local_trigger
    - name: What a move would copy
      karbor.protection.catalog_migrate:
      check_mode: true
      register: planned
      ignore_errors: true
    - name: The Swift catalog before the move
      karbor.protection.plan_info:
        plan: migrated-plan
        catalog: swift
      register: before
    - name: Move
      karbor.protection.catalog_migrate:
        source_state_dir: "{{ state_dir }}"
      register: moved
      ignore_errors: true
    - name: The Swift catalog after the move
      karbor.protection.plan_info:
        plan: migrated-plan
        catalog: swift
      register: after
    - name: Trigger in Swift
      karbor.protection.trigger_info:
        name: migrated-trigger
        catalog: swift
      register: trigger_after
    - name: Move to a local catalog
      karbor.protection.catalog_migrate:
        catalog: local
      register: to_local
      ignore_errors: true
    - name: Report
      ansible.builtin.copy:
        content: "{{ {'local_plan': local_plan, 'local_trigger': local_trigger,
                     'planned': planned, 'before': before, 'moved': moved, 'after': after,
                     'trigger_after': trigger_after, 'to_local': to_local} | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
''' % {'noop': NOOP}


def _run(run_playbook, tmp_path, description: str, name: str) -> dict:
    playbook = tmp_path / 'migrate.yml'
    playbook.write_text(PLAYBOOK)
    result_file = tmp_path / ('%s.json' % name)
    run_playbook(str(playbook), {'state_dir': str(tmp_path / 'state'),
                                 'description': description,
                                 'result_file': str(result_file)})
    return json.loads(result_file.read_text())


def test_catalog_migrate_moves_once_and_never_overwrites(run_playbook, tmp_path):
    first = _run(run_playbook, tmp_path, 'first', 'first')
    plan_id = first['local_plan']['plan']['id']
    trigger_id = first['local_trigger']['trigger']['id']
    # check mode lists what it would copy and writes nothing
    planned = first['planned']
    assert planned['changed'] is True
    assert any(plan_id in key for key in planned['copied']), planned
    assert any(trigger_id in key for key in planned['copied']), planned
    assert first['before']['plans'] == []
    # the move copies those objects; the plan and trigger keep their ids in Swift
    moved = first['moved']
    assert not moved.get('failed'), moved
    assert moved['changed'] is True and sorted(moved['copied']) == sorted(planned['copied'])
    assert moved['conflicts'] == [] and moved['present'] == 0
    assert not any('/locks/' in key for key in moved['copied']), moved['copied']
    assert [p['id'] for p in first['after']['plans']] == [plan_id]
    assert first['after']['plans'][0]['description'] == 'first'
    assert [t['id'] for t in first['trigger_after']['triggers']] == [trigger_id]
    # a local target is refused with what to do
    assert first['to_local']['failed'] is True
    assert 'catalog: swift' in first['to_local']['msg'], first['to_local']

    # the same local catalog again: nothing to copy; then the local plan changes and the
    # move reports that conflict and leaves the Swift record as it was
    second = _run(run_playbook, tmp_path, 'second', 'second')
    assert second['local_plan']['changed'] is True  # the description changed, locally
    assert second['planned']['copied'] != [] or second['planned']['conflicts'] != []
    moved = second['moved']
    assert moved['failed'] is True, moved
    assert [key for key in moved['conflicts'] if plan_id in key], moved
    assert 'differ' in moved['msg']
    assert moved['copied'] == [] and moved['present'] >= 1
    assert second['after']['plans'][0]['description'] == 'first'


def test_catalog_migrate_second_run_copies_nothing(run_playbook, tmp_path):
    first = _run(run_playbook, tmp_path, 'same', 'first')
    assert first['moved']['changed'] is True and first['moved']['copied']
    second = _run(run_playbook, tmp_path, 'same', 'second')
    assert second['local_plan']['changed'] is False
    moved = second['moved']
    assert not moved.get('failed'), moved
    assert moved['changed'] is False and moved['copied'] == [] and moved['conflicts'] == []
    assert moved['present'] == len(first['moved']['copied'])
