#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: checkpoint_copy
short_description: Copy checkpoints into another provider's bank (another container, project or cloud)
version_added: 0.2.0
description:
  - Copies one checkpoint (I(checkpoint_id)), or the newest I(count) C(available) checkpoints
    of a I(plan), from its provider's bank into the bank of I(target_provider_id), reached with
    the I(target_cloud) / I(target_auth) connection options. Karbor's copy API, made real.
  - Only the objects the target lacks are sent. Image chunks are content-addressed, so a copy
    of a checkpoint whose chunks are already at the target sends almost nothing. Whether the
    target holds an object is decided by its recorded sha256, and every object sent is checked
    at the target (its recorded sha256 read back) before the copy is made visible.
  - The copy keeps the checkpoint's id. Its index is written last, owned by the target provider
    and project, C(available), with its origin in C(extra_info.copied_from) (source provider,
    cloud, project, checkpoint id, C(copied_at)). It is then listed by
    M(karbor.protection.checkpoint_info) and restored by M(karbor.protection.restore) with the
    target's credentials and provider, like any checkpoint.
  - A copy stopped part way leaves nothing that any listing shows; running it again sends only
    what is missing. Copying a complete copy again changes nothing.
  - Volume data kept in Cinder backups (the default of the volume plugin) is not in the bank and
    stays in the source cloud. The copy is made anyway and I(copy_warnings) names each such
    volume and backup; such a volume can only be restored where that backup is reachable.
  - Both banks use this run's encryption key (or none); objects move as they are stored.
  - In check mode nothing is written; the result says what would be sent.
author:
  - karbor.protection developers (@karbor-protection)
options:
  provider_id:
    description:
      - Provider of the checkpoints to copy. Defaults to the provider of I(plan).
    type: str
  plan:
    description:
      - Plan (id or name) whose checkpoints are copied; gives the provider.
    type: str
  checkpoint_id:
    description:
      - The checkpoint to copy. Without it, I(plan) and I(count) choose.
    type: str
    aliases: [checkpoint]
  count:
    description:
      - With I(plan) and no I(checkpoint_id), how many of its newest C(available) checkpoints
        are copied.
    type: int
    default: 1
  target_provider_id:
    description:
      - Provider (id or name) of the target bank, as the target's providers know it (the same
        I(providers_dir)). It must not be the source bank itself (the same container of the
        same project and cloud).
    type: str
    required: true
  timeout:
    description:
      - Seconds each cloud call may take.
    type: int
    default: 3600
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.target
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Copy the newest checkpoint of a plan to the disaster recovery cloud
  karbor.protection.checkpoint_copy:
    cloud: production
    plan: web-images
    target_cloud: dr-site
    target_provider_id: dr-bank
  register: copied

- name: Copy one checkpoint into another project of the same cloud
  karbor.protection.checkpoint_copy:
    cloud: production
    provider_id: cf56bd3e-97a7-4078-b6d5-f36246333fd9
    checkpoint_id: "{{ cp.checkpoint.id }}"
    target_cloud: production-backup-project
    target_provider_id: backup-bank

- name: Restore from the copy, at the target
  karbor.protection.restore:
    cloud: dr-site
    provider_id: dr-bank
    checkpoint_id: "{{ copied.copies[0].checkpoint_id }}"
'''

RETURN = r'''
objects_sent:
  description: Bank objects sent to the target (in check mode, that would be sent).
  returned: always
  type: int
objects_skipped:
  description: Bank objects the target already held with the same sha256.
  returned: always
  type: int
bytes_sent:
  description: Stored bytes of the objects sent.
  returned: always
  type: int
bytes_skipped:
  description: Stored bytes of the objects skipped.
  returned: always
  type: int
copy_warnings:
  description:
    - What the copies cannot take along, such as volume data that stays in the source cloud's
      Cinder backups (C(data of volume X stays in the source cloud's Cinder backup Y)).
    - Also given to Ansible as warnings.
  returned: always
  type: list
  elements: str
target_provider_id:
  description: Id of the target provider.
  returned: always
  type: str
target_project_id:
  description: Project of the target cloud the copies belong to.
  returned: always
  type: str
copies:
  description: One entry per checkpoint copied, in the order copied.
  returned: always
  type: list
  elements: dict
  contains:
    checkpoint_id:
      description: Id of the checkpoint (the same at the target).
      type: str
    changed:
      description: Whether anything was written for it.
      type: bool
    objects_sent:
      description: As the total, for this checkpoint.
      type: int
    objects_skipped:
      description: As the total, for this checkpoint.
      type: int
    bytes_sent:
      description: As the total, for this checkpoint.
      type: int
    bytes_skipped:
      description: As the total, for this checkpoint.
      type: int
    warnings:
      description: As I(copy_warnings), for this checkpoint.
      type: list
      elements: str
    would_send:
      description: In check mode, the bank keys that would be sent.
      type: list
      elements: str
    checkpoint:
      description: The copy as M(karbor.protection.checkpoint_info) shows it at the target;
        I(extra_info.copied_from) tells where it came from.
      type: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    KarborModule, checkpoint_argument_spec, target_connection_spec)


class CheckpointCopyModule(KarborModule):
    argument_spec = dict(
        checkpoint_argument_spec(required=False),
        count=dict(type='int', default=1),
        target_provider_id=dict(type='str', required=True),
        **target_connection_spec(),
    )
    module_kwargs = dict(required_one_of=[('checkpoint_id', 'plan')])
    default_timeout = 3600
    count_options = ('count',)

    def run(self):
        engine = self.engine
        plan = engine.plans.get(self.params['plan']) if self.params['plan'] else None
        provider_id = self.checkpoint_provider_id(plan)
        if self.params['checkpoint_id']:
            ids = [self.params['checkpoint_id']]
        elif self.params['count']:
            newest = engine.list_checkpoints(provider_id, plan_id=plan['id'], status='available',
                                             limit=self.params['count'])
            ids = [cp.id for cp in newest][:self.params['count']]
        else:
            ids = []
        cloud = self.params['cloud']
        origin = {'cloud': cloud if isinstance(cloud, str) else None,
                  'project_name': engine.cloud.project_name}
        result = engine.copy_checkpoints(self.target_engine(required=True), provider_id,
                                         self.params['target_provider_id'], ids, origin,
                                         dry_run=self.check_mode)
        for warning in result['copy_warnings']:
            self.module.warn(warning)
        return result


def main():
    CheckpointCopyModule()()


if __name__ == '__main__':
    main()
