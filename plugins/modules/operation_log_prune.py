#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: operation_log_prune
short_description: Trim the project's operation logs by count or age
version_added: 0.2.0
description:
  - Every protect, restore, delete and scheduled fire time writes an operation log to the
    catalog. This deletes the logs beyond the newest I(keep) and those older than
    I(max_age_days), so the catalog does not grow without end.
  - I(keep) never deletes a log whose run has not ended (it may still be running);
    I(max_age_days) does, as no run lasts that long (the log of a run that died is never
    ended). Checkpoints, restores and plans are not touched.
  - A second run with the same options deletes nothing and reports no change. In check mode
    RV(deleted) lists what would be deleted.
  - The C(run_scheduled.yml) playbook runs it after the scheduled operations (variables
    C(karbor_log_keep) and C(karbor_log_max_age_days)).
author:
  - karbor.protection developers (@karbor-protection)
options:
  keep:
    description:
      - Keep at most this many newest logs. Left out, or 0 or less, no count limit.
    type: int
  max_age_days:
    description:
      - Delete logs created more than this many days ago. Left out, or 0 or less, no age
        limit.
    type: int
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Keep 90 days of operation logs, at most 5000
  karbor.protection.operation_log_prune:
    cloud: mycloud
    max_age_days: 90
    keep: 5000
'''

RETURN = r'''
deleted:
  description: Ids of the logs deleted (in check mode, that would be deleted), oldest first.
  returned: always
  type: list
  elements: str
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    KarborModule)


class OperationLogPruneModule(KarborModule):
    argument_spec = dict(
        keep=dict(type='int'),
        max_age_days=dict(type='int'),
    )
    module_kwargs = dict(required_one_of=[('keep', 'max_age_days')])

    def run(self):
        deleted = self.engine.operation_logs.prune(self.params['keep'],
                                                   self.params['max_age_days'],
                                                   dry_run=self.check_mode)
        return {'changed': bool(deleted), 'deleted': deleted}


def main():
    OperationLogPruneModule()()


if __name__ == '__main__':
    main()
