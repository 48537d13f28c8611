#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: restore_info
short_description: List or show restores
version_added: 0.1.0
description:
  - Lists the restores of the current project, newest first, or shows one.
author:
  - karbor.protection developers (@karbor-protection)
options:
  id:
    description:
      - Show this restore.
    type: str
    aliases: [restore_id]
  checkpoint_id:
    description:
      - Only restores of this checkpoint.
    type: str
  status:
    description:
      - Only restores with this status.
    type: str
    choices: [in_progress, success, fail]
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Failed restores
  karbor.protection.restore_info:
    cloud: mycloud
    status: fail
  register: failed
'''

RETURN = r'''
restores:
  description: Restores, newest first (see M(karbor.protection.restore) for the fields).
  returned: always
  type: list
  elements: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import KarborModule


class RestoreInfoModule(KarborModule):
    argument_spec = dict(
        id=dict(type='str', aliases=['restore_id']),
        checkpoint_id=dict(type='str'),
        status=dict(type='str', choices=['in_progress', 'success', 'fail']),
    )

    def run(self):
        engine = self.engine
        if self.params['id']:
            restores = [engine.restores.get(self.params['id'])]
        else:
            restores = engine.restores.list(
                checkpoint_id=self.params['checkpoint_id'],
                status=self.params['status'])
        return {'restores': restores}


def main():
    RestoreInfoModule()()


if __name__ == '__main__':
    main()
