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
    scheduled operations do, or copies or verifies the plan's newest checkpoints.
    M(karbor.protection.scheduled_operation_run) executes the due fire times, each exactly
    once, whatever the type.
  - C(protect) makes a checkpoint. C(retention_protect) makes a checkpoint and then keeps the
    newest I(max_backups) available checkpoints of the plan and deletes those older than
    I(retention_duration) days; it never deletes the newest available checkpoint, one that is
    not available, or one being restored. It also deletes the plan's C(error) checkpoints
    (failed or dead runs) once they are older than 24 hours, freeing their backups; they
    never count among the I(max_backups).
  - C(copy) copies the plan's newest I(count) C(available) checkpoints into the bank of
    I(target_provider_id), as M(karbor.protection.checkpoint_copy) does (a checkpoint already
    copied is left alone). The target's credentials are never stored; they are the
    C(target_*) options of M(karbor.protection.scheduled_operation_run), by default the
    cloud and credentials of the run itself (another container of the same project).
  - C(verify) verifies the plan's newest I(count) C(available) checkpoints at I(level), as
    M(karbor.protection.checkpoint_verify) does; each verification is kept as a record, and a
    verification that finds a problem makes the fire time C(failed).
  - Give a C(copy) or C(verify) operation a trigger that fires after the plan's C(protect)
    operation has had time to finish (say 30 minutes later); it works on the checkpoints that
    are C(available) when it runs.
  - Options of another type (I(max_backups) on C(copy), I(level) on C(protect), ...) are
    refused, and a bad definition (an unknown I(level), a C(copy) without
    I(target_provider_id)) fails before anything is written.
  - Fire times before the operation was created or last enabled, or before its trigger's
    schedule last changed, are neither run nor reported missed.
  - The operation is found by I(id), else by I(name). Options left out keep their stored
    values, so a second identical run reports no change. Bad references (trigger, plan,
    provider) fail with a message that says which.
author:
  - karbor.protection developers (@karbor-protection)
options:
  operation_type:
    description:
      - C(protect), C(retention_protect), C(copy) or C(verify). Defaults to C(protect) for a
        new operation.
    type: str
    choices: [protect, retention_protect, copy, verify]
  trigger:
    description:
      - Id or name of the trigger. Required to create an operation.
    type: str
    aliases: [trigger_id]
  plan:
    description:
      - Id or name of the plan to protect (to copy or verify the checkpoints of). Required to
        create an operation.
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
  target_provider_id:
    description:
      - For C(copy), and required there, the provider (id or name) of the bank the
        checkpoints are copied into, as the providers of the run know it (the same
        I(providers_dir)); stored as its id.
    type: str
  count:
    description:
      - For C(copy) and C(verify), how many of the plan's newest C(available) checkpoints each
        fire time copies or verifies. Defaults to 1.
    type: int
  level:
    description:
      - For C(verify), the level of M(karbor.protection.checkpoint_verify) - C(bank) (objects,
        checksums, backups), C(data) (also the chunks' content) or C(drill) (a restore under
        scratch names, compared and deleted again). Defaults to C(bank).
    type: str
  data_subset:
    description:
      - For C(verify) at level C(data), the percentage (1 to 100) of each image's chunks read.
        Left out, all of them.
    type: int
  operation_definition:
    description:
      - Karbor's form, as C(karbor scheduledoperation-create) takes it - C(plan_id),
        C(provider_id), C(max_backups), C(retention_duration), and for the types Karbor did
        not have C(target_provider_id), C(count), C(level), C(data_subset). Each key means the
        option I(plan), I(provider_id), I(max_backups), ... of the same name; a value given
        both ways must be the same. Numbers may be strings, as in Karbor.
      - The keys of each type, besides C(plan_id) and C(provider_id) - C(protect) none;
        C(retention_protect) C(max_backups), C(retention_duration); C(copy)
        C(target_provider_id) (required), C(count); C(verify) C(level), C(data_subset),
        C(count).
    type: dict
  enabled:
    description:
      - Whether the operation runs. Defaults to C(true) for a new operation. Fire times while
        it is disabled are not run and not reported missed.
    type: bool
extends_documentation_fragment:
  - karbor.protection.record.scheduled_operation
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

- name: Copy the newest checkpoint to the disaster recovery bank, an hour after the backup
  karbor.protection.scheduled_operation:
    cloud: mycloud
    name: db-offsite
    operation_type: copy
    trigger: nightly-plus-1h
    plan: db-volumes
    target_provider_id: dr-bank

- name: Read back every chunk of the newest two checkpoints every Sunday
  karbor.protection.scheduled_operation:
    cloud: mycloud
    name: db-weekly-check
    operation_type: verify
    trigger: sundays
    plan: db-volumes
    level: data
    count: 2

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
      description: C(protect), C(retention_protect), C(copy) or C(verify).
      type: str
    trigger_id:
      description: Trigger id.
      type: str
    operation_definition:
      description: C(plan_id), C(provider_id) and, for C(retention_protect), C(max_backups) and
        C(retention_duration) (-1 is unlimited); for C(copy), C(target_provider_id) (an id) and
        C(count); for C(verify), C(level), C(count) and C(data_subset) when set.
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
from ansible_collections.karbor.protection.plugins.module_utils.engine.operation_definitions import (
    OPERATION_TYPES, OPTION_KEYS, TYPE_KEYS)
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
        operation_type=dict(type='str', choices=list(OPERATION_TYPES)),
        trigger=dict(type='str', aliases=['trigger_id']),
        plan=dict(type='str', aliases=['plan_id']),
        provider_id=dict(type='str'),
        max_backups=dict(type='int'),
        retention_duration=dict(type='int'),
        target_provider_id=dict(type='str'),
        count=dict(type='int'),
        level=dict(type='str'),
        data_subset=dict(type='int'),
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
        for key in OPTION_KEYS:
            if p[key] is not None:
                definition[key] = p[key]
            elif key not in TYPE_KEYS.get(op_type, ()):
                definition.pop(key, None)  # left over from another type
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
