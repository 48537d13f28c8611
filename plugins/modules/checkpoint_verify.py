#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: checkpoint_verify
short_description: Verify that a checkpoint could be restored, or restore it as a drill
version_added: 0.2.0
description:
  - Checks an C(available) checkpoint and keeps the result as a verification record
    (listed by M(karbor.protection.verification_info)); Karbor's verification API, made real.
  - Level C(bank) reads back every bank object of the checkpoint (each sha256 is checked),
    checks that every Cinder backup it names exists and is C(available), and that every
    image chunk it names is in the bank and referenced.
  - Level C(data) also reads and hashes the image chunks, all of them or I(data_subset)
    percent picked at random (as restic's C(check --read-data-subset)).
  - Level C(drill) makes the checks of level C(bank), then restores the checkpoint for real
    through the engine's restore, every resource under a scratch name
    (C(karbor-drill-<verification id[:8]>-<original id[:8]>)) and without floating IPs;
    compares what came back with what the checkpoint saved (an image's size and the sha256
    of its bytes, read back from Glance, against the saved chunks; a volume's size; a
    server's name, flavor and attached volume count); then deletes everything the restore
    made (servers first), also when the restore or a comparison failed. The record keeps
    I(restore_duration) and the I(cleanup) outcome; something the drill could not delete
    fails the verification, naming its type and id.
  - The drill's restore record (named C(karbor-drill-<verification id>), listed by
    M(karbor.protection.restore_info) while the drill runs) is deleted with the rest; it is
    kept when something was left behind, or when the run died, so it still names what was
    made. A drill is refused before anything is read for a checkpoint holding a type whose
    restore it cannot delete again (C(OS::Neutron::Network)).
  - The drill needs the quota of one more copy of the checkpoint's resources for the time it
    runs.
  - Drill into another project or cloud - with I(target_cloud) or I(target_auth) (the options
    of M(karbor.protection.restore)'s restore elsewhere), the drill restores, compares and
    deletes in that project, as a restore elsewhere does, while the bank and the records are
    read and written with the source credentials (I(cloud)/I(auth)); nothing is left in
    either project. I(verification.drill_target) names the project.
  - Only data kept in the bank can be restored elsewhere - images, and volumes protected with
    C(backup_mode=bank). A volume kept as a Cinder backup of the source cloud is failed in
    I(resources_status), with the restore's reason in I(resources_reason), and nothing is
    restored (I(drill_skipped) says why); in check mode too.
  - A target whose credentials are refused, an unknown target cloud, or a target for a level
    other than C(drill) fails before anything is read or written.
  - Every resource is checked whatever the others find; the reason of a failed resource
    names the missing or damaged object or backup.
  - In check mode the checks run and nothing is written (no record, no operation log); at
    level C(drill) nothing is restored, and I(drill_skipped) says so.
author:
  - karbor.protection developers (@karbor-protection)
options:
  checkpoint_id:
    description:
      - The checkpoint to verify.
    type: str
    required: true
    aliases: [checkpoint]
  level:
    description:
      - C(bank) (objects, checksums, backups), C(data) (also every chunk's content) or
        C(drill) (the checks of C(bank), then a real restore under scratch names, compared
        and deleted again).
    type: str
    choices: [bank, data, drill]
    default: bank
  data_subset:
    description:
      - At level C(data), the percentage (1 to 100) of each image's chunks read, picked at
        random on every run. Left out, all of them. Ignored at level C(bank).
    type: int
  fail_on_problem:
    description:
      - Fail the task (with the result) when the verification finds a problem.
    type: bool
    default: true
  timeout:
    description:
      - Seconds each cloud call may take.
    type: int
    default: 3600
extends_documentation_fragment:
  - karbor.protection.checkpoint
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.openstack.target
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Read a tenth of the chunks of the newest checkpoint
  karbor.protection.checkpoint_verify:
    cloud: mycloud
    plan: db-volumes
    checkpoint_id: "{{ cp.checkpoint.id }}"
    level: data
    data_subset: 10
  register: verified

- name: Report, do not fail
  karbor.protection.checkpoint_verify:
    cloud: mycloud
    plan: db-volumes
    checkpoint_id: "{{ cp.checkpoint.id }}"
    fail_on_problem: false
  register: verified

- name: Restore drill of the newest checkpoint, everything it makes deleted again
  karbor.protection.checkpoint_verify:
    cloud: mycloud
    plan: db-volumes
    checkpoint_id: "{{ cp.checkpoint.id }}"
    level: drill
  register: drill

- name: How long a restore of it takes
  ansible.builtin.debug:
    msg: "{{ drill.verification.restore_duration }} s"

- name: Drill into a scratch project of the disaster-recovery cloud, deleted again there
  karbor.protection.checkpoint_verify:
    cloud: mycloud
    target_cloud: dr-site-scratch
    plan: db-volumes
    checkpoint_id: "{{ cp.checkpoint.id }}"
    level: drill
    fail_on_problem: false
  register: dr_drill

- name: Where it restored, and what could not come along
  ansible.builtin.debug:
    msg: "{{ dr_drill.verification.drill_target.project_name }}:
      {{ dr_drill.verification.resources_reason }}"
'''

RETURN = r'''
verification:
  description: The verification record (in check mode, without I(id)).
  returned: when the checkpoint was verified
  type: dict
  contains:
    id:
      description: Verification id.
      type: str
    provider_id:
      description: Provider id.
      type: str
    checkpoint_id:
      description: Checkpoint verified.
      type: str
    plan_id:
      description: Plan of the checkpoint.
      type: str
    level:
      description: C(bank), C(data) or C(drill).
      type: str
    data_subset:
      description: Percentage of chunks read (level C(data)), else null.
      type: int
    status:
      description: C(success) or C(fail).
      type: str
    resources_status:
      description: C(ok) or C(failed) per resource, keyed C(<type>#<id>).
      type: dict
    resources_reason:
      description: What is wrong with each failed resource, keyed as I(resources_status).
      type: dict
    problems:
      description: Damaged objects of the checkpoint that belong to no resource; at level
        C(drill) also a failed restore and what the drill left behind.
      type: list
      elements: str
    error:
      description: What stopped the run, if anything did.
      type: str
    objects_read:
      description: Bank objects of the checkpoint read back.
      type: int
    progress:
      description: Resources checked and chunk bytes read.
      type: dict
    started_at:
      description: When the run started (UTC).
      type: str
    ended_at:
      description: When the run ended (UTC).
      type: str
    duration:
      description: Seconds the run took.
      type: float
    restore_duration:
      description: Level C(drill), seconds the drill's restore took; else absent.
      type: float
    restore_id:
      description: Level C(drill), id of the drill's restore record (deleted again when the
        cleanup was complete, see I(cleanup.restore_record)).
      type: str
    restore_status:
      description: Level C(drill), C(success) or C(fail) of the drill's restore.
      type: str
    cleanup:
      description: Level C(drill), what the drill deleted again.
      type: dict
      contains:
        status:
          description: C(done) (nothing left) or C(failed).
          type: str
        deleted:
          description: C(<type> <id>) of each resource the drill's restore made and deleted.
          type: list
          elements: str
        left:
          description: What could not be deleted (type, id, why); also in I(problems).
          type: list
          elements: str
        restore_record:
          description: C(deleted), C(kept) (something was left) or null (none was written).
          type: str
    drill_skipped:
      description: Level C(drill), why nothing was restored (check mode, failed checks, a
        resource the target project cannot restore); null when the drill ran.
      type: str
    drill_target:
      description: Level C(drill), the project the drill restored into (C(project_id),
        C(project_name)) when I(target_cloud) or I(target_auth) named another project; null
        for a drill in the source project.
      type: dict
      contains:
        project_id:
          description: Project id.
          type: str
        project_name:
          description: Project name (empty when the credentials cannot read it).
          type: str
'''

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    KarborModule, checkpoint_argument_spec, target_connection_spec)


class CheckpointVerifyModule(KarborModule):
    argument_spec = dict(
        **checkpoint_argument_spec(required=True),
        level=dict(type='str', choices=['bank', 'data', 'drill'], default='bank'),
        data_subset=dict(type='int'),
        fail_on_problem=dict(type='bool', default=True),
        **target_connection_spec(),
    )
    default_timeout = 3600

    def run(self):
        engine = self.engine
        provider_id = self.checkpoint_provider_id()
        # (the drill restores elsewhere through the restore's own target handling)
        record = engine.verify(provider_id, self.params['checkpoint_id'],
                               self.params['level'], self.params['data_subset'],
                               dry_run=self.check_mode, target=self.target_engine())
        result = {'changed': True, 'verification': record}
        if record['status'] != R.VERIFY_SUCCESS and self.params['fail_on_problem']:
            reasons = sorted(record['resources_reason'].items())
            self.module.fail_json(msg='Verification (%s) of checkpoint %s found problems: %s' % (
                record['level'], record['checkpoint_id'],
                '; '.join(['%s: %s' % item for item in reasons] + record['problems'])
                or record.get('error')), **result)
        return result


def main():
    CheckpointVerifyModule()()


if __name__ == '__main__':
    main()
