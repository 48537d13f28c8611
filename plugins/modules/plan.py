#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: plan
short_description: Create, update or delete a protection plan
version_added: 0.1.0
description:
  - A plan names the resources to protect, the provider that protects them and per-type or
    per-resource parameters, as in OpenStack Karbor.
  - Resources are checked when the plan is written; each must exist in the current project
    and the provider must have a plugin for its type. Parameters are validated against the
    provider's C(options_schema) (names and values).
  - The plan is found by I(id), else by I(name). Only the options you set are compared, so a
    second identical run reports no change.
author:
  - karbor.protection developers (@karbor-protection)
options:
  provider_id:
    description:
      - Id or name of the provider. Required to create a plan.
    type: str
  resources:
    description:
      - Resources to protect (or use I(resource_query), or both). Their dependents (a server's volumes and boot image, a
        project's servers, volumes and images) are protected with them.
    type: list
    elements: dict
    suboptions:
      id:
        description: Resource id.
        type: str
        required: true
      type:
        description: Resource type, such as C(OS::Cinder::Volume).
        type: str
        required: true
      name:
        description: Resource name; looked up when left out.
        type: str
      extra_info:
        description: Extra facts kept with the resource.
        type: dict
  resource_query:
    description:
      - A JMESPath expression that selects resources dynamically; it is resolved again at every
        checkpoint, and the checkpoint records what it selected (in
        C(protection_plan.resources), with the expression in
        C(protection_plan.resource_query)).
      - It runs over the project's instances of the types the provider protects, each
        C({id, type, name, status, metadata, tags}); C(metadata) is a volume's or a server's
        metadata or an image's properties. It must give back a list of those instances.
      - For example C([?type=='OS::Cinder::Volume' && metadata.backup=='daily']) protects every
        volume whose metadata has C(backup=daily) at the time of each checkpoint.
      - Fixed I(resources) may be given too; the checkpoint protects both. A checkpoint fails,
        changing nothing, when the plan resolves to no resource at all.
      - Preview what it selects with M(karbor.protection.protectable_info) and its I(query).
      - Set it to an empty string to remove it.
    type: str
  parameters:
    description:
      - Protect options keyed by C(<resource type>) (for every resource of the type) or
        C(<resource type>#<resource id>) (for one resource, overriding the type's options).
    type: dict
  status:
    description:
      - C(started) or C(suspended). Informational, as in Karbor.
    type: str
    choices: [started, suspended]
extends_documentation_fragment:
  - karbor.protection.record.plan
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Protect two volumes with incremental Cinder backups
  karbor.protection.plan:
    cloud: mycloud
    name: db-volumes
    provider_id: cf56bd3e-97a7-4078-b6d5-f36246333fd9
    resources:
      - id: 0b3e1c2a-9f8e-4d6c-b5a4-3f2e1d0c9b8a
        type: OS::Cinder::Volume
      - id: 5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a
        type: OS::Cinder::Volume
    parameters:
      OS::Cinder::Volume:
        backup_mode: auto
        full_backup_every: 7  # a full backup every 7th, so retention can delete old chains
    status: started
  register: plan

- name: Every volume labelled backup=daily, whichever exist at each checkpoint
  karbor.protection.plan:
    cloud: mycloud
    name: daily-volumes
    provider_id: cf56bd3e-97a7-4078-b6d5-f36246333fd9
    resource_query: "[?type=='OS::Cinder::Volume' && metadata.backup=='daily']"

- name: Delete it
  karbor.protection.plan:
    cloud: mycloud
    name: db-volumes
    state: absent
'''

RETURN = r'''
plan:
  description: The plan (what it would be, in check mode).
  returned: when I(state=present)
  type: dict
  contains:
    id:
      description: Plan id.
      type: str
    name:
      description: Plan name.
      type: str
    description:
      description: Free text.
      type: str
    provider_id:
      description: Provider id.
      type: str
    status:
      description: C(started) or C(suspended).
      type: str
    resources:
      description: Fixed resources (id, type, name, extra_info).
      type: list
      elements: dict
    resource_query:
      description: The JMESPath expression resolved at each checkpoint, if any.
      type: str
    parameters:
      description: Protect options per type or per resource.
      type: dict
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
from ansible_collections.karbor.protection.plugins.module_utils.module.record_state import (
    RecordStateModule, state_argument_spec)


def _resource_differs(current, wanted):
    have = {(r['type'], r['id']): r for r in current}
    want = {(r['type'], str(r['id'])): r for r in wanted}
    if set(have) != set(want):
        return True
    for key, item in want.items():
        if item.get('name') and item['name'] != have[key].get('name'):
            return True
        if item.get('extra_info') and any(
                have[key].get('extra_info', {}).get(k) != v for k, v in item['extra_info'].items()):
            return True
    return False


class PlanModule(RecordStateModule):
    catalog_kind = 'plans'
    result_key = 'plan'
    new_noun = 'a plan'
    argument_spec = dict(
        state_argument_spec(),
        provider_id=dict(type='str'),
        resources=dict(type='list', elements='dict', options=dict(
            id=dict(type='str', required=True),
            type=dict(type='str', required=True),
            name=dict(type='str'),
            extra_info=dict(type='dict'))),
        resource_query=dict(type='str'),
        parameters=dict(type='dict'),
        description=dict(type='str'),
        status=dict(type='str', choices=['started', 'suspended']),
    )

    def _wanted(self):
        fields = {}
        for key in ('name', 'provider_id', 'resource_query', 'parameters', 'description',
                    'status'):
            if self.params[key] is not None:
                fields[key] = self.params[key]
        if self.params['resources'] is not None:
            fields['resources'] = [{k: v for k, v in r.items() if v is not None}
                                   for r in self.params['resources']]
        return fields

    def new_fields(self):
        wanted = self._wanted()
        missing = [k for k in ('name', 'provider_id') if not wanted.get(k)]
        if not wanted.get('resources') and not wanted.get('resource_query'):
            missing.append('resources or resource_query')
        if missing:
            raise InvalidInput('To create plan %r set %s.'
                               % (self.params['name'], ', '.join(missing)))
        return wanted

    def changes(self, record):
        changes = {}
        for key, value in self._wanted().items():
            if key == 'resources':
                if _resource_differs(record['resources'], value):
                    changes[key] = value
            elif key == 'provider_id':
                provider = self.engine.provider(value)
                if provider.id != record['provider_id']:
                    changes[key] = provider.id
            elif key == 'resource_query':
                if (record.get(key) or '') != value:
                    changes[key] = value or None
            elif record.get(key) != value:
                changes[key] = value
        return changes


def main():
    PlanModule()()


if __name__ == '__main__':
    main()
