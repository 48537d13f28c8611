#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: verification_info
short_description: List or show checkpoint verifications
version_added: 0.2.0
description:
  - Lists the verifications of the current project (made by
    M(karbor.protection.checkpoint_verify)), newest first, or shows one.
author:
  - karbor.protection developers (@karbor-protection)
options:
  id:
    description:
      - Show this verification.
    type: str
    aliases: [verification_id]
  checkpoint_id:
    description:
      - Only verifications of this checkpoint.
    type: str
  status:
    description:
      - Only verifications with this status.
    type: str
    choices: [success, fail]
  limit:
    description:
      - At most this many (the newest).
    type: int
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Verifications of one checkpoint, newest first
  karbor.protection.verification_info:
    cloud: mycloud
    checkpoint_id: "{{ cp.checkpoint.id }}"
  register: verifications
'''

RETURN = r'''
verifications:
  description: Verifications, newest first (see M(karbor.protection.checkpoint_verify) for
    the fields).
  returned: always
  type: list
  elements: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    KarborModule)


class VerificationInfoModule(KarborModule):
    argument_spec = dict(
        id=dict(type='str', aliases=['verification_id']),
        checkpoint_id=dict(type='str'),
        status=dict(type='str', choices=['success', 'fail']),
        limit=dict(type='int'),
    )

    def run(self):
        engine = self.engine
        if self.params['id']:
            return {'verifications': [engine.verifications.get(self.params['id'])]}
        return {'verifications': engine.verifications.list(
            limit=self.params['limit'], checkpoint_id=self.params['checkpoint_id'],
            status=self.params['status'])}


def main():
    VerificationInfoModule()()


if __name__ == '__main__':
    main()
