#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: trigger_info
short_description: List or show time triggers with their next fire times and AWX rrule
version_added: 0.1.0
description:
  - Lists the triggers of the current project, or shows one by I(name) or I(id). Each comes
    with its next fire times, its AWX schedule C(rrule) and the scheduled operations that use
    it. The role C(karbor.protection.awx_schedule) reads triggers with this module.
author:
  - karbor.protection developers (@karbor-protection)
options:
  name:
    description:
      - Only the trigger with this name or id.
    type: str
    aliases: [id]
  next_count:
    description:
      - How many upcoming fire times to return per trigger.
    type: int
    default: 5
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Every trigger with its next three fire times
  karbor.protection.trigger_info:
    cloud: mycloud
    next_count: 3
  register: triggers

- name: One trigger's AWX rrule
  karbor.protection.trigger_info:
    cloud: mycloud
    name: nightly
  register: nightly

- name: Show it
  ansible.builtin.debug:
    msg: "{{ nightly.triggers[0].awx_rrule }}"
'''

RETURN = r'''
triggers:
  description: Triggers, by name. Each has the fields of the I(trigger) that
    M(karbor.protection.trigger) returns (C(id), C(name), C(type), C(properties), ...), and
    these.
  returned: always
  type: list
  elements: dict
  contains:
    next_run_times:
      description: Upcoming fire times (UTC, ISO 8601).
      type: list
      elements: str
    awx_rrule:
      description: The AWX schedule C(rrule), or null when AWX cannot express the trigger.
      type: str
    awx_rrule_note:
      description: Why there is no AWX rrule, or what it leaves to C(run_scheduled.yml).
      type: str
    scheduled_operation_ids:
      description: Scheduled operations using the trigger.
      type: list
      elements: str
'''

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import KarborError
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import KarborModule
from ansible_collections.karbor.protection.plugins.module_utils.engine.triggers import (
    time_trigger)


class TriggerInfoModule(KarborModule):
    count_options = ('next_count',)
    argument_spec = dict(
        name=dict(type='str', aliases=['id']),
        next_count=dict(type='int', default=5),
    )

    def run(self):
        engine = self.engine
        records = sorted(engine.triggers.matching(self.params['name']),
                         key=lambda r: (r.get('name') or '', r['id']))
        users = {}
        for op in engine.scheduled_operations.list():
            users.setdefault(op.get('trigger_id'), []).append(op['id'])
        result = []
        for record in records:
            item = dict(record)
            try:
                item.update(time_trigger(record).describe(self.params['next_count']))
            except KarborError as exc:
                item.update({'next_run_times': [], 'awx_rrule': None, 'awx_rrule_note': exc.msg})
            item['scheduled_operation_ids'] = sorted(users.get(record['id'], []))
            result.append(item)
        return {'triggers': result}


def main():
    TriggerInfoModule()()


if __name__ == '__main__':
    main()
