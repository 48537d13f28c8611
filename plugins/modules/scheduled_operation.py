#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: scheduled_operation
short_description: Create, update or delete a scheduled operation
version_added: 0.1.0
description:
  - A scheduled operation protects a plan whenever its trigger fires, as OpenStack Karbor's
    scheduled operations do. M(karbor.protection.scheduled_operation_run) executes the due
    fire times, each exactly once.
  - C(protect) makes a checkpoint. C(retention_protect) makes a checkpoint and then keeps the
    newest I(max_backups) available checkpoints of the plan and deletes those older than
    I(retention_duration) days; it never deletes the newest available checkpoint, one that is
    not available, or one being restored. It also deletes the plan's C(error) checkpoints
    (failed or dead runs) once they are older than 24 hours, freeing their backups; they
    never count among the I(max_backups).
  - Fire times before the operation was created or last enabled, or before its trigger's
    schedule last changed, are neither run nor reported missed.
  - The operation is found by I(id), else by I(name). Options left out keep their stored
    values, so a second identical run reports no change. Bad references (trigger, plan,
    provider) fail with a message that says which.
author:
  - karbor.protection developers (@karbor-protection)
options:
  name:
    description:
      - Operation name, unique in the project. Required to create an operation.
      - At most 255 characters, without control characters.
    type: str
  id:
    description:
      - Operation id, to update, rename or delete an operation by id.
    type: str
  description:
    description:
      - Free text.
    type: str
  operation_type:
    description:
      - C(protect) or C(retention_protect). Defaults to C(protect) for a new operation.
    type: str
    choices: [protect, retention_protect]
  trigger:
    description:
      - Id or name of the trigger. Required to create an operation.
    type: str
    aliases: [trigger_id]
  plan:
    description:
      - Id or name of the plan to protect. Required to create an operation.
    type: str
    aliases: [plan_id]
  provider_id:
    description:
      - Provider id or name; must be the plan's provider. Defaults to it.
    type: str
  max_backups:
    description:
      - For C(retention_protect), how many available checkpoints of the plan to keep. 0 or
        less means no limit (stored as -1, as in Karbor).
    type: int
  retention_duration:
    description:
      - For C(retention_protect), delete available checkpoints of the plan older than this
        many days. 0 or less means no limit (stored as -1).
    type: int
  operation_definition:
    description:
      - Karbor's form, as C(karbor scheduledoperation-create) takes it - C(plan_id),
        C(provider_id), C(max_backups), C(retention_duration). Each key means the option
        I(plan), I(provider_id), I(max_backups), I(retention_duration); a value given both
        ways must be the same. Numbers may be strings, as in Karbor.
    type: dict
  enabled:
    description:
      - Whether the operation runs. Defaults to C(true) for a new operation. Fire times while
        it is disabled are not run and not reported missed.
    type: bool
  state:
    description:
      - C(present) creates or updates the operation, C(absent) deletes it (with its claims;
        its operation logs stay).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Protect the plan nightly, keep 14 checkpoints and none older than 30 days
  karbor.protection.scheduled_operation:
    cloud: mycloud
    name: db-nightly
    operation_type: retention_protect
    trigger: nightly
    plan: db-volumes
    max_backups: 14
    retention_duration: 30

- name: Pause it
  karbor.protection.scheduled_operation:
    cloud: mycloud
    name: db-nightly
    enabled: false

- name: Delete it
  karbor.protection.scheduled_operation:
    cloud: mycloud
    name: db-nightly
    state: absent
'''

RETURN = r'''
scheduled_operation:
  description: The operation (what it would be, in check mode), in Karbor's shape.
  returned: when I(state=present)
  type: dict
  contains:
    id:
      description: Operation id.
      type: str
    name:
      description: Operation name.
      type: str
    description:
      description: Free text.
      type: str
    operation_type:
      description: C(protect) or C(retention_protect).
      type: str
    trigger_id:
      description: Trigger id.
      type: str
    operation_definition:
      description: C(plan_id), C(provider_id) and, for C(retention_protect), C(max_backups) and
        C(retention_duration) (-1 is unlimited).
      type: dict
    enabled:
      description: Whether it runs.
      type: bool
    enabled_at:
      description: When it was created or last enabled (UTC, ISO 8601).
      type: str
    project_id:
      description: Owning project.
      type: str
    created_at:
      description: Creation time (UTC, ISO 8601).
      type: str
    updated_at:
      description: Last change (UTC, ISO 8601).
      type: str
'''

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.module import karbor_forms
from ansible_collections.karbor.protection.plugins.module_utils.module.record_state import (
    RecordStateModule, state_argument_spec)

COMPARED = ('name', 'description', 'operation_type', 'trigger_id', 'operation_definition',
            'enabled')


class ScheduledOperationModule(RecordStateModule):
    catalog_kind = 'scheduled_operations'
    result_key = 'scheduled_operation'
    new_noun = 'one'
    argument_spec = dict(
        state_argument_spec(),
        description=dict(type='str'),
        operation_type=dict(type='str', choices=['protect', 'retention_protect']),
        trigger=dict(type='str', aliases=['trigger_id']),
        plan=dict(type='str', aliases=['plan_id']),
        provider_id=dict(type='str'),
        max_backups=dict(type='int'),
        retention_duration=dict(type='int'),
        enabled=dict(type='bool'),
        operation_definition=dict(type='dict'),
    )

    def run(self):
        karbor_forms.operation_definition(self.params)
        return super().run()

    def _wanted(self, record):
        """The options over the stored fields, with trigger, plan and provider resolved."""
        p = self.params
        current = record or {}
        definition = dict(current.get('operation_definition') or {})
        if p['plan'] is not None:
            definition['plan_id'] = p['plan']
            if p['provider_id'] is None:
                definition.pop('provider_id', None)  # follows the (new) plan
        if p['provider_id'] is not None:
            definition['provider_id'] = p['provider_id']
        op_type = p['operation_type'] or current.get('operation_type') or 'protect'
        for key in ('max_backups', 'retention_duration'):
            if p[key] is not None:
                definition[key] = p[key]
            elif op_type == 'protect':
                definition.pop(key, None)  # left over from a retention_protect
        fields = {
            'name': p['name'] or current.get('name'),
            'description': p['description'] if p['description'] is not None
            else current.get('description', ''),
            'operation_type': op_type,
            'trigger_id': p['trigger'] or current.get('trigger_id'),
            'operation_definition': definition,
            'enabled': p['enabled'] if p['enabled'] is not None else current.get('enabled', True),
        }
        return self.service.validate(fields)

    def new_fields(self):
        missing = [k for k in ('trigger', 'plan') if not self.params[k]]
        if missing:
            raise InvalidInput('To create scheduled operation %r set %s.'
                               % (self.params['name'], ' and '.join(missing)))
        return self._wanted(None)

    def changes(self, record):
        fields = self._wanted(record)
        return {} if all(record.get(k) == fields[k] for k in COMPARED) else fields


def main():
    ScheduledOperationModule()()


if __name__ == '__main__':
    main()
