#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: restore
short_description: Restore the resources of a checkpoint
version_added: 0.1.0
description:
  - Restores every resource of an C(available) checkpoint, children first (volumes and
    images before the server that uses them), and reports a status and a reason per
    resource, and the id of each new resource.
  - Every bank object of the checkpoint is read back and its sha256 checked before anything
    is created; a damaged checkpoint fails with a clear message and changes nothing.
  - With a I(name), a restore that already succeeded under that name is not run again, and
    only one run at a time restores under that name; another run started meanwhile fails
    with a clear message (run it again when the first has finished).
  - Restore elsewhere (Karbor's I(restore_target) and I(restore_auth)) - with I(target_cloud)
    or I(target_auth), the resources are made in that project or cloud, while the bank and
    the restore record are read and written with the source credentials (I(cloud)/I(auth)).
    What must differ there is given in I(parameters) - C(network_map), C(restore_flavor_id)
    and C(availability_zone) of servers, C(availability_zone) and C(volume_type) of volumes.
  - Only data kept in the bank can be restored elsewhere - images, and volumes protected with
    C(backup_mode=bank). A checkpoint holding a volume kept as a Cinder backup of the source
    cloud fails before anything is made, naming the volume.
  - At the other site itself, with the bank copied there by M(karbor.protection.checkpoint_copy),
    restore with that site's credentials and the copy's provider; no I(target_cloud) is needed.
author:
  - karbor.protection developers (@karbor-protection)
options:
  checkpoint_id:
    description:
      - The checkpoint to restore.
    type: str
    required: true
    aliases: [checkpoint]
  parameters:
    description:
      - Restore options keyed by C(<resource type>) or C(<resource type>#<original id>),
        validated against the provider's C(restore_schema).
    type: dict
  restore_target:
    description:
      - Karbor's target URL; not used (an error if set). Give the target's credentials with
        I(target_cloud) or I(target_auth) instead.
    type: str
  keep_failed:
    description:
      - Keep what the restore of a resource made when that resource fails (a half-restored
        server, volume, image or network, for a look) instead of deleting it. Its
        I(resources_reason) says what was kept; I(new_resources) names it, for you to delete.
    type: bool
    default: false
  name:
    description:
      - Name of the restore; a successful restore with this name is not repeated.
      - At most 255 characters, without control characters.
    type: str
  timeout:
    description:
      - Seconds each cloud wait (volume, image, server) may take.
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
- name: Restore a checkpoint, naming the restored volume
  karbor.protection.restore:
    cloud: mycloud
    provider_id: cf56bd3e-97a7-4078-b6d5-f36246333fd9
    checkpoint_id: "{{ cp.checkpoint.id }}"
    parameters:
      "OS::Cinder::Volume#0b3e1c2a-9f8e-4d6c-b5a4-3f2e1d0c9b8a":
        restore_name: db-restored
  register: restored

- name: Restore the volumes into another availability zone, as another volume type
  karbor.protection.restore:
    cloud: mycloud
    provider_id: cf56bd3e-97a7-4078-b6d5-f36246333fd9
    checkpoint_id: 2a9ce1f3-c0ff-4c43-8b3e-ed0fa5dbd9a8
    parameters:
      OS::Cinder::Volume:
        availability_zone: az2
        volume_type: ssd

- name: Restore into the project of another cloud, from the bank of this one
  karbor.protection.restore:
    cloud: mycloud
    target_cloud: dr-site
    provider_id: cf56bd3e-97a7-4078-b6d5-f36246333fd9
    checkpoint_id: 2a9ce1f3-c0ff-4c43-8b3e-ed0fa5dbd9a8
    parameters:
      OS::Nova::Server:
        network_map:
          9d1f5ac4-0c4e-4d5e-8f59-2b7b1c7e5a10: dr-network
        restore_flavor_id: m1.small

- name: Show old id -> new id
  ansible.builtin.debug:
    var: restored.restore.new_resources
'''

RETURN = r'''
restore:
  description: The restore record.
  returned: when a restore ran or was found by name
  type: dict
  contains:
    id:
      description: Restore id.
      type: str
    name:
      description: Restore name.
      type: str
    provider_id:
      description: Provider id.
      type: str
    checkpoint_id:
      description: Checkpoint restored.
      type: str
    parameters:
      description: Restore parameters.
      type: dict
    status:
      description: C(in_progress), C(success) or C(fail).
      type: str
    resources_status:
      description: Status per resource (C(restoring), C(available), C(error)), keyed
        C(<type>#<original id>).
      type: dict
    resources_reason:
      description: Why a resource failed, keyed as I(resources_status); it also says whether
        what the resource's restore had made was deleted or kept (I(keep_failed)).
      type: dict
    keep_failed:
      description: Whether the restore kept what failed resources had made.
      type: bool
    new_resources:
      description: New resource id per original resource id.
      type: dict
    temporary:
      description: Objects the run made for itself and had not deleted yet, by id (C(type),
        C(name)); empty when it ended. A run that died has them deleted when its record is
        next read, once its lease has expired, or names in I(error) those it could not delete.
      type: dict
    error:
      description: Why the restore failed.
      type: str
    restore_target:
      description: Where a restore elsewhere made the resources (C(project_id),
        C(project_name)); null for a restore into the source project.
      type: dict
    progress:
      description: Resources and bytes done and total.
      type: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    KarborModule, checkpoint_argument_spec, target_connection_spec)
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R


class RestoreModule(KarborModule):
    name_options = ('name',)
    argument_spec = dict(
        checkpoint_argument_spec(required=True),
        parameters=dict(type='dict'),
        restore_target=dict(type='str'),
        keep_failed=dict(type='bool', default=False),
        name=dict(type='str'),
        **target_connection_spec(),
    )
    default_timeout = 3600

    def run(self):
        engine = self.engine
        provider_id = self.checkpoint_provider_id()
        if self.params['name']:
            previous = engine.restores.find(self.params['name'])
            if previous and previous['status'] == R.RESTORE_SUCCESS:
                return {'changed': False, 'restore': previous}
        target = self.target_engine()
        if self.check_mode:
            engine.prepare_restore(provider_id, self.params['checkpoint_id'],
                                   self.params['parameters'], self.params['restore_target'],
                                   target)
            return {'changed': True}
        record = engine.restore(provider_id, self.params['checkpoint_id'],
                                self.params['parameters'], self.params['restore_target'],
                                self.params['name'], target, self.params['keep_failed'])
        # another run of this name may have finished while this one started
        result = {'changed': not record.pop('_reused', False), 'restore': record}
        if record['status'] != R.RESTORE_SUCCESS:
            reasons = '; '.join('%s: %s' % item for item in sorted(
                record['resources_reason'].items()))
            self.module.fail_json(msg='Restore %s of checkpoint %s failed: %s' % (
                record['id'], record['checkpoint_id'], reasons or record.get('error')), **result)
        return result


def main():
    RestoreModule()()


if __name__ == '__main__':
    main()
