#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: scheduled_operation_info
short_description: List or show scheduled operations with their next and recent runs
version_added: 0.1.0
description:
  - Lists the scheduled operations of the current project (optionally of one trigger or plan),
    or shows one by I(name) or I(id), each with its next fire time and the claims of its most
    recent fire times (C(running), C(success), C(failed) or C(missed)).
author:
  - karbor.protection developers (@karbor-protection)
options:
  name:
    description:
      - Only the operation with this name or id.
    type: str
    aliases: [id]
  trigger:
    description:
      - Only operations of this trigger (id or name).
    type: str
    aliases: [trigger_id]
  plan:
    description:
      - Only operations of this plan (id or name).
    type: str
    aliases: [plan_id]
  history:
    description:
      - How many recent fire times to return per operation.
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
- name: Operations of a plan, with their last ten fire times
  karbor.protection.scheduled_operation_info:
    cloud: mycloud
    plan: db-volumes
    history: 10
  register: ops
'''

RETURN = r'''
scheduled_operations:
  description: Operations, by name. Each has the fields of the I(scheduled_operation) that
    M(karbor.protection.scheduled_operation) returns (C(id), C(name), C(operation_type),
    C(trigger_id), C(operation_definition), C(enabled), ...), and these.
  returned: always
  type: list
  elements: dict
  contains:
    next_run_time:
      description: Its trigger's next fire time (UTC, ISO 8601), null if none.
      type: str
    recent_runs:
      description: Claims of its most recent fire times, newest first, with C(fire_time),
        C(state), C(checkpoint_id), C(error), C(log_id), C(run_id) and the AWX ids.
      type: list
      elements: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import KarborModule
from ansible_collections.karbor.protection.plugins.module_utils.engine.triggers import (
    next_fire_time)


class ScheduledOperationInfoModule(KarborModule):
    count_options = ('history',)
    argument_spec = dict(
        name=dict(type='str', aliases=['id']),
        trigger=dict(type='str', aliases=['trigger_id']),
        plan=dict(type='str', aliases=['plan_id']),
        history=dict(type='int', default=5),
    )

    def run(self):
        engine = self.engine
        records = engine.scheduled_operations.matching(self.params['name'])
        if self.params['trigger']:
            trigger_id = engine.triggers.get(self.params['trigger'])['id']
            records = [r for r in records if r.get('trigger_id') == trigger_id]
        if self.params['plan']:
            plan_id = engine.plans.get(self.params['plan'])['id']
            records = [r for r in records
                       if (r.get('operation_definition') or {}).get('plan_id') == plan_id]
        triggers = {t['id']: t for t in engine.triggers.list()}
        result = []
        for record in sorted(records, key=lambda r: (r.get('name') or '', r['id'])):
            item = dict(record)
            trigger = triggers.get(record.get('trigger_id'))
            item['next_run_time'] = next_fire_time(trigger) if trigger and \
                record.get('enabled', True) else None
            item['recent_runs'] = engine.scheduled_operations.claims(record, self.params['history']) \
                if self.params['history'] else []
            result.append(item)
        return {'scheduled_operations': result}


def main():
    ScheduledOperationInfoModule()()


if __name__ == '__main__':
    main()
