#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: catalog_migrate
short_description: Move a local catalog into the catalog in Swift
version_added: 0.2.0
description:
  - Copies the plans, restores, triggers, scheduled operations, operation logs and the
    scheduler's claims and cursors that earlier runs kept on a runner's disk
    (C(<source_state_dir>/catalog)) into the catalog that every runner shares, the Swift
    container I(catalog_container) of the project.
  - Only the records of the project the credentials belong to are copied; records of other
    projects are counted in RV(other_projects) and left where they are. Name locks and leases
    belong to the runs that wrote them and are never copied.
  - Nothing is deleted or overwritten. A record that the Swift catalog already holds with the
    same content is counted in RV(present). One it holds with other content is reported in
    RV(conflicts), left as it is on both sides, and fails the task, so that an operator decides.
  - Run it again with the same options and it copies nothing and reports no change.
  - The local catalog is read with the same encryption key as the target; a local catalog
    written without a key is read as it is and encrypted on the way in when a key is set.
  - In check mode nothing is written; RV(copied) lists what would be copied.
  - The target is the catalog the I(catalog) option chooses; with I(catalog=local), or
    C(auto) on a cloud without an object store, there is nowhere to move it and the module
    fails without changing anything.
author:
  - karbor.protection developers (@karbor-protection)
options:
  source_state_dir:
    description:
      - The I(state_dir) the earlier runs used; its C(catalog) folder is read.
      - Defaults to I(state_dir).
    type: path
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: See what a move of the laptop's catalog would copy
  karbor.protection.catalog_migrate:
    cloud: mycloud
    source_state_dir: ~/.local/share/karbor-protection
  check_mode: true
  register: planned

- name: Move it into the project's Swift catalog
  karbor.protection.catalog_migrate:
    cloud: mycloud
    source_state_dir: ~/.local/share/karbor-protection
'''

RETURN = r'''
copied:
  description: Catalog object names copied (in check mode, that would be copied).
  returned: always
  type: list
  elements: str
  sample: ["/plans/2b9f.../6c1e....json"]
present:
  description: How many objects the Swift catalog already held with the same content.
  returned: always
  type: int
conflicts:
  description: Objects the Swift catalog already holds with other content; left as they are.
    The task fails when there is any.
  returned: always
  type: list
  elements: str
other_projects:
  description: How many objects of the local catalog belong to other projects and were not
    copied (run the module with those projects' credentials to move them).
  returned: always
  type: int
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    KarborModule)


class CatalogMigrateModule(KarborModule):
    argument_spec = dict(
        source_state_dir=dict(type='path'),
    )

    def run(self):
        outcome = self.engine.migrate_catalog(self.params['source_state_dir'],
                                              dry_run=self.check_mode)
        result = dict(outcome, changed=bool(outcome['copied']))
        if outcome['conflicts']:
            self.module.fail_json(
                msg='%d catalog object(s) differ between the local catalog and the Swift '
                    'catalog and were left as they are on both sides: %s. Compare them and '
                    'delete the one that is wrong, then run again.' % (
                        len(outcome['conflicts']), ', '.join(outcome['conflicts'][:10])),
                **result)
        return result


def main():
    CatalogMigrateModule()()


if __name__ == '__main__':
    main()
