#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: operation_log_info
short_description: List operation logs (protect, restore, delete and scheduled runs)
version_added: 0.1.0
description:
  - Lists the operation logs of the current project, newest first, as Karbor's operation log
    API did. The engine writes one per protect, restore and delete; the scheduler writes one per
    fire time of a scheduled operation (C(operation_type=scheduled_operation)) with its state
    (C(in_progress), C(success), C(failed), C(missed)), start and end, the checkpoint made and
    the error.
author:
  - karbor.protection developers (@karbor-protection)
options:
  id:
    description:
      - Show this log.
    type: str
  scheduled_operation:
    description:
      - Only logs of this scheduled operation (id or name).
    type: str
    aliases: [scheduled_operation_id]
  operation_type:
    description:
      - Only logs of this type.
    type: str
    choices: [protect, restore, delete, scheduled_operation]
  status:
    description:
      - Only logs with this status, such as C(success), C(failed), C(missed), C(available).
    type: str
  plan:
    description:
      - Only logs of this plan (id or name).
    type: str
    aliases: [plan_id]
  checkpoint_id:
    description:
      - Only logs of this checkpoint.
    type: str
  limit:
    description:
      - At most this many logs.
    type: int
    default: 100
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: The last 20 runs of a scheduled operation
  karbor.protection.operation_log_info:
    cloud: mycloud
    scheduled_operation: db-nightly
    operation_type: scheduled_operation
    limit: 20
  register: runs

- name: Missed fire times
  karbor.protection.operation_log_info:
    cloud: mycloud
    status: missed
'''

RETURN = r'''
operation_logs:
  description: Logs, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Log id.
      type: str
    operation_type:
      description: C(protect), C(restore), C(delete) or C(scheduled_operation).
      type: str
    status:
      description: The outcome or current state.
      type: str
    checkpoint_id:
      description: Checkpoint made or used.
      type: str
    plan_id:
      description: Plan.
      type: str
    provider_id:
      description: Provider.
      type: str
    restore_id:
      description: Restore, for restores.
      type: str
    scheduled_operation_id:
      description: Scheduled operation, for scheduled runs and their checkpoints.
      type: str
    started_at:
      description: Start (UTC, ISO 8601); null for a missed fire time.
      type: str
    ended_at:
      description: End (UTC, ISO 8601).
      type: str
    error_info:
      description: What went wrong.
      type: str
    extra_info:
      description: For scheduled runs C(fire_time), C(trigger_id), C(operation_type),
        C(run_id), the AWX ids and the retention outcome.
      type: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import KarborModule


class OperationLogInfoModule(KarborModule):
    argument_spec = dict(
        id=dict(type='str'),
        scheduled_operation=dict(type='str', aliases=['scheduled_operation_id']),
        operation_type=dict(type='str', choices=['protect', 'restore', 'delete',
                                                 'scheduled_operation']),
        status=dict(type='str'),
        plan=dict(type='str', aliases=['plan_id']),
        checkpoint_id=dict(type='str'),
        limit=dict(type='int', default=100),
    )

    def run(self):
        engine = self.engine
        p = self.params
        if p['limit'] < 1:
            raise InvalidInput('limit must be a positive number.')
        if p['id']:
            log = engine.operation_logs.get(p['id'])
            return {'operation_logs': [log]}
        filters = {'operation_type': p['operation_type'], 'status': p['status'],
                   'checkpoint_id': p['checkpoint_id']}
        if p['scheduled_operation']:
            record = engine.scheduled_operations.find(p['scheduled_operation'])
            # a deleted operation's logs stay: an id still filters
            filters['scheduled_operation_id'] = record['id'] if record else \
                p['scheduled_operation']
            if record is None and len(p['scheduled_operation']) != 36:
                raise NotFound('Scheduled operation %r does not exist; give its id to list the '
                               'logs of a deleted one.' % p['scheduled_operation'])
        if p['plan']:
            plan = engine.plans.find(p['plan'])
            filters['plan_id'] = plan['id'] if plan else p['plan']
        return {'operation_logs': engine.operation_logs.list(limit=p['limit'], **filters)}


def main():
    OperationLogInfoModule()()


if __name__ == '__main__':
    main()
