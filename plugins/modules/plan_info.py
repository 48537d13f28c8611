#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: plan_info
short_description: List or show protection plans
version_added: 0.1.0
description:
  - Lists the plans of the current project, newest first, optionally filtered; or shows one
    plan by id or name. Nothing found is an empty list, not an error.
author:
  - karbor.protection developers (@karbor-protection)
options:
  plan:
    description:
      - Id or name of one plan.
    type: str
    aliases: [id, name]
  provider_id:
    description:
      - Only plans of this provider (id).
    type: str
  status:
    description:
      - Only plans with this status.
    type: str
    choices: [started, suspended]
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Every started plan
  karbor.protection.plan_info:
    cloud: mycloud
    status: started
  register: plans
'''

RETURN = r'''
plans:
  description: Matching plans, newest first (see M(karbor.protection.plan) for the fields).
  returned: always
  type: list
  elements: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import KarborModule


class PlanInfoModule(KarborModule):
    argument_spec = dict(
        plan=dict(type='str', aliases=['id', 'name']),
        provider_id=dict(type='str'),
        status=dict(type='str', choices=['started', 'suspended']),
    )

    def run(self):
        engine = self.engine
        if self.params['plan']:
            plan = engine.plans.find(self.params['plan'])
            plans = [plan] if plan else []
        else:
            plans = engine.plans.list()
        if self.params['provider_id']:
            provider = engine.provider(self.params['provider_id'])
            plans = [p for p in plans if p['provider_id'] == provider.id]
        if self.params['status']:
            plans = [p for p in plans if p.get('status') == self.params['status']]
        return {'plans': plans}


def main():
    PlanInfoModule()()


if __name__ == '__main__':
    main()
