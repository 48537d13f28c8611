#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: provider_info
short_description: List protection providers or show one with its schemas
version_added: 0.1.0
description:
  - Lists the protection providers known to the engine (the built-in No-Op and OS Infra
    providers plus those of I(providers_dir)), or shows one provider with its
    C(extended_info_schema) (options, restore and saved-info schema per resource type).
  - Providers are configuration, so this module does not need the cloud.
author:
  - karbor.protection developers (@karbor-protection)
options:
  id:
    description:
      - Id or name of one provider to show. Without it every provider is listed.
    type: str
    aliases: [name, provider_id]
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: List providers
  karbor.protection.provider_info:
  register: result

- name: Show the OS Infra Provider with its schemas
  karbor.protection.provider_info:
    id: cf56bd3e-97a7-4078-b6d5-f36246333fd9
  register: os_infra

- name: Show the options a volume accepts in a plan
  ansible.builtin.debug:
    var: os_infra.provider.extended_info_schema.options_schema['OS::Cinder::Volume']
'''

RETURN = r'''
providers:
  description: The providers, sorted by id (only the one asked for when I(id) is set).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Provider id.
      type: str
      sample: b766f37c-d011-4026-8228-28730d734a3f
    name:
      description: Provider name.
      type: str
      sample: No-Op Provider
    description:
      description: What the provider does.
      type: str
    bank:
      description: The kind of bank, for example C(local) or C(swift).
      type: str
    plugins:
      description: Names of the protection plugins.
      type: list
      elements: str
    resource_types:
      description: Resource types the provider can protect.
      type: list
      elements: str
    extended_info_schema:
      description: JSON schemas per resource type, under C(options_schema), C(restore_schema) and
        C(saved_info_schema).
      type: dict
provider:
  description: The provider asked for with I(id).
  returned: when I(id) is set
  type: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import KarborModule


class ProviderInfoModule(KarborModule):
    argument_spec = dict(id=dict(type='str', aliases=['name', 'provider_id']))

    def run(self):
        registry = self.engine.providers
        if self.params['id']:
            provider = registry.get(self.params['id']).to_api()
            return {'providers': [provider], 'provider': provider}
        return {'providers': [p.to_api() for p in registry.list()]}


def main():
    ProviderInfoModule()()


if __name__ == '__main__':
    main()
