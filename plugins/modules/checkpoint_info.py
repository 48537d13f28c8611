#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: checkpoint_info
short_description: List or show checkpoints
version_added: 0.1.0
description:
  - Lists the checkpoints of a provider in the current project, newest first, by plan,
    status and date range, one page at a time (I(limit), I(marker)); or shows one checkpoint
    with its resource graph.
  - A C(protecting) checkpoint whose run died (its bank lease expired) is marked C(error) on
    the way, so lists never show a zombie.
author:
  - karbor.protection developers (@karbor-protection)
options:
  provider_id:
    description:
      - Provider whose bank is read. Defaults to the provider of I(plan).
    type: str
  plan:
    description:
      - Only checkpoints of this plan (id or name).
    type: str
    aliases: [plan_id]
  id:
    description:
      - Show this checkpoint.
    type: str
    aliases: [checkpoint_id]
  status:
    description:
      - Only checkpoints with this status.
    type: str
    choices: [protecting, available, error, deleting, deleted, error-deleting]
  start_date:
    description:
      - Only checkpoints created on or after this UTC day (C(YYYY-MM-DD)).
    type: str
  end_date:
    description:
      - Only checkpoints created on or before this UTC day (C(YYYY-MM-DD)).
    type: str
  limit:
    description:
      - At most this many checkpoints.
    type: int
  marker:
    description:
      - Start after this checkpoint id (the last one of the previous page).
    type: str
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: The five newest available checkpoints of a plan
  karbor.protection.checkpoint_info:
    cloud: mycloud
    plan: db-volumes
    status: available
    limit: 5
  register: latest
'''

RETURN = r'''
checkpoints:
  description: Checkpoints, newest first (see M(karbor.protection.checkpoint) for the fields).
  returned: always
  type: list
  elements: dict
checkpoint:
  description: The checkpoint asked for with I(id).
  returned: when I(id) is set
  type: dict
'''

import datetime

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import KarborModule


def _day(value, name):
    if value is None:
        return None
    try:
        return datetime.datetime.strptime(value, '%Y-%m-%d').date()
    except ValueError:
        raise InvalidInput('%s %r is not a date; use YYYY-MM-DD.' % (name, value))


class CheckpointInfoModule(KarborModule):
    argument_spec = dict(
        provider_id=dict(type='str'),
        plan=dict(type='str', aliases=['plan_id']),
        id=dict(type='str', aliases=['checkpoint_id']),
        status=dict(type='str', choices=['protecting', 'available', 'error', 'deleting',
                                         'deleted', 'error-deleting']),
        start_date=dict(type='str'),
        end_date=dict(type='str'),
        limit=dict(type='int'),
        marker=dict(type='str'),
    )

    def run(self):
        engine = self.engine
        plan = engine.plans.get(self.params['plan']) if self.params['plan'] else None
        provider_id = self.params['provider_id'] or (plan or {}).get('provider_id')
        if not provider_id:
            raise InvalidInput('Set provider_id or plan to choose the bank to read.')
        if self.params['limit'] is not None and self.params['limit'] < 1:
            raise InvalidInput('limit must be a positive number.')
        if self.params['id']:
            checkpoint = engine.get_checkpoint(provider_id, self.params['id']).to_api()
            return {'checkpoint': checkpoint, 'checkpoints': [checkpoint]}
        start, end = _day(self.params['start_date'], 'start_date'), _day(
            self.params['end_date'], 'end_date')
        if start and end and start > end:
            raise InvalidInput('start_date is after end_date.')
        checkpoints = engine.list_checkpoints(
            provider_id, plan_id=(plan or {}).get('id'), status=self.params['status'],
            start_date=start, end_date=end, limit=self.params['limit'],
            marker=self.params['marker'])
        return {'checkpoints': [c.to_api() for c in checkpoints]}


def main():
    CheckpointInfoModule()()


if __name__ == '__main__':
    main()
