#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: checkpoint_prune
short_description: Delete a plan's oldest checkpoints, keeping the newest N
version_added: 0.1.0
description:
  - Keeps the newest I(keep) available checkpoints of a plan and deletes the older ones, and
    with I(max_age_days) also those older than that many days. It is the retention of
    C(retention_protect) scheduled operations (M(karbor.protection.scheduled_operation)),
    run on demand.
  - Only C(available) checkpoints count. The newest available
    checkpoint is never deleted, whatever its age. A checkpoint being restored is left
    (listed in I(not_deleted)), not forced.
  - The checkpoints picked are deleted newest first, so a chain of incremental Cinder
    backups that expired as a whole goes in one run. A checkpoint whose backup is the parent
    of incremental backups in kept checkpoints is left with that reason (bound the chains
    with the plan parameter C(full_backup_every) of C(OS::Cinder::Volume)).
  - Each deletion is first claimed in the catalog bank, so two runs pruning the same plan at
    once (this module, or a scheduled C(retention_protect)) delete each checkpoint once.
  - A second run with the same options deletes nothing and reports no change.
author:
  - karbor.protection developers (@karbor-protection)
options:
  plan:
    description:
      - Id or name of the plan whose checkpoints are pruned.
    type: str
    required: true
    aliases: [plan_id]
  keep:
    description:
      - How many of the newest available checkpoints to keep. 0 or less keeps them all
        (then only I(max_age_days) deletes).
    type: int
    required: true
  max_age_days:
    description:
      - Also delete available checkpoints older than this many days (never the newest one).
        Left out, or 0 or less, no age limit.
    type: int
  error_grace_hours:
    description:
      - Also delete the plan's C(error) checkpoints (runs that failed or died) once they are
        older than this many hours, freeing their Cinder backups and bank objects. They never
        count among the I(keep) newest. A negative value keeps them.
    type: int
    default: 24
  timeout:
    description:
      - Seconds each cloud wait of a delete (backups, images) may take.
    type: int
    default: 3600
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Keep the 7 newest checkpoints of the plan, none older than 30 days
  karbor.protection.checkpoint_prune:
    cloud: mycloud
    plan: db-volumes
    keep: 7
    max_age_days: 30
  register: pruned

- name: What would go, without deleting anything
  karbor.protection.checkpoint_prune:
    cloud: mycloud
    plan: db-volumes
    keep: 3
  check_mode: true
'''

RETURN = r'''
deleted:
  description: Ids of the checkpoints deleted (in check mode, that would be deleted), newest
    first (the order they are deleted in, so incremental backups go before their parents).
  returned: always
  type: list
  elements: str
not_deleted:
  description: Checkpoints picked but not deleted (being restored, deleted by another run,
    no longer available), each with C(id) and C(reason).
  returned: always
  type: list
  elements: dict
errors:
  description: Checkpoints whose deletion failed, each with C(id) and C(error); the task
    fails when there is any.
  returned: always
  type: list
  elements: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    KarborModule)


class CheckpointPruneModule(KarborModule):
    argument_spec = dict(
        plan=dict(type='str', required=True, aliases=['plan_id']),
        keep=dict(type='int', required=True),
        max_age_days=dict(type='int'),
        error_grace_hours=dict(type='int', default=24),
    )
    default_timeout = 3600

    def run(self):
        engine = self.engine
        plan = engine.plans.get(self.params['plan'])
        outcome = engine.retention.prune(plan, self.params['keep'], self.params['max_age_days'],
                                         dry_run=self.check_mode,
                                         error_grace_hours=self.params['error_grace_hours'])
        result = dict(outcome, changed=bool(outcome['deleted']))
        # a true 'skipped' in a result makes Ansible report the whole task as skipped
        result['not_deleted'] = result.pop('skipped')
        if outcome['errors']:
            self.module.fail_json(msg='Pruning plan %s could not delete %s.' % (
                plan['name'], '; '.join('%s: %s' % (e['id'], e['error'])
                                        for e in outcome['errors'])), **result)
        return result


def main():
    CheckpointPruneModule()()


if __name__ == '__main__':
    main()
