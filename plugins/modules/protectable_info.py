#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: protectable_info
short_description: Discover protectable resource types and instances
version_added: 0.1.0
description:
  - Without options, lists the protectable resource types.
  - With I(type), shows that type and the types that depend on it (C(dependent_types)), and
    with I(instances=true) lists its instances in the current project.
  - With I(type) and I(id), shows one instance with the resources it depends on
    (C(dependent_resources)), which a plan protects along with it.
author:
  - karbor.protection developers (@karbor-protection)
options:
  type:
    description:
      - A resource type such as C(OS::Nova::Server).
    type: str
    aliases: [protectable_type]
  instances:
    description:
      - List the instances of I(type).
    type: bool
    default: false
  id:
    description:
      - Id of one instance of I(type) to show.
    type: str
    aliases: [instance_id]
  query:
    description:
      - A JMESPath expression, as a plan's I(resource_query), to preview what it selects now.
      - It runs over the project's instances of every protectable type (or of I(type) only),
        each C({id, type, name, status, metadata, tags}); C(metadata) is a volume's or a
        server's metadata or an image's properties.
      - The matches are returned in C(selected).
    type: str
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Protectable types
  karbor.protection.protectable_info:
  register: types

- name: Servers of the project, each with its volumes and boot image
  karbor.protection.protectable_info:
    cloud: mycloud
    type: OS::Nova::Server
    instances: true
  register: servers

- name: Preview a plan's resource_query (volumes whose metadata says backup=daily)
  karbor.protection.protectable_info:
    cloud: mycloud
    query: "[?type=='OS::Cinder::Volume' && metadata.backup=='daily']"
  register: daily

- name: One volume
  karbor.protection.protectable_info:
    cloud: mycloud
    type: OS::Cinder::Volume
    id: 0b3e1c2a-9f8e-4d6c-b5a4-3f2e1d0c9b8a
'''

RETURN = r'''
protectable_types:
  description: Every protectable resource type.
  returned: always
  type: list
  elements: str
  sample: [OS::Cinder::Volume, OS::Glance::Image, OS::Keystone::Project, OS::Nova::Server]
protectable_type:
  description: The type asked for.
  returned: when I(type) is set
  type: dict
  contains:
    name:
      description: The type.
      type: str
    dependent_types:
      description: Types whose instances an instance of this type may depend on.
      type: list
      elements: str
instances:
  description: Instances of I(type), each with its dependent resources.
  returned: when I(instances=true)
  type: list
  elements: dict
  contains:
    id:
      description: Resource id.
      type: str
    type:
      description: Resource type.
      type: str
    name:
      description: Resource name.
      type: str
    extra_info:
      description: Extra facts, such as a volume's availability zone.
      type: dict
    dependent_resources:
      description: Resources this one depends on (id, type, name, extra_info).
      type: list
      elements: dict
instance:
  description: The instance asked for with I(id), with its dependent resources.
  returned: when I(id) is set
  type: dict
selected:
  description: The instances I(query) selects (id, type, name), as a plan would protect them.
  returned: when I(query) is set
  type: list
  elements: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import KarborModule
from ansible_collections.karbor.protection.plugins.module_utils.resources.selection import ResourceQuery


class ProtectableInfoModule(KarborModule):
    argument_spec = dict(
        type=dict(type='str', aliases=['protectable_type']),
        instances=dict(type='bool', default=False),
        id=dict(type='str', aliases=['instance_id']),
        query=dict(type='str'),
    )

    def _with_dependents(self, registry, res):
        data = res.to_dict()
        data.setdefault('extra_info', {})
        data['dependent_resources'] = [d.to_dict() for d in registry.get_dependents(res)]
        return data

    def run(self):
        registry = self.engine.protectables
        result = {'protectable_types': registry.types()}
        rtype = self.params['type']
        if self.params['query']:
            query = ResourceQuery(self.params['query'])
            result['selected'] = query.select(registry.describe_instances(
                [rtype] if rtype else registry.types()))
        if not rtype:
            if self.params['id'] or self.params['instances']:
                raise InvalidInput('Set type together with id or instances.')
            return result
        result['protectable_type'] = {'name': rtype,
                                      'dependent_types': registry.dependent_types(rtype)}
        if self.params['id']:
            res = registry.show_instance(rtype, self.params['id'])
            result['instance'] = self._with_dependents(registry, res)
        if self.params['instances']:
            result['instances'] = [self._with_dependents(registry, r)
                                   for r in registry.list_instances(rtype)]
        return result


def main():
    ProtectableInfoModule()()


if __name__ == '__main__':
    main()
