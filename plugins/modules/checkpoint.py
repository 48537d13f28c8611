#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: checkpoint
short_description: Protect a plan into a checkpoint, or delete a checkpoint
version_added: 0.1.0
description:
  - With I(state=present), protects every resource of a plan (and its dependents) into a new
    checkpoint in the provider's bank. With I(wait=true) (the default) the module returns
    when the checkpoint is C(available) or C(error); with I(wait=false) a detached process
    finishes the work and the module returns the C(protecting) checkpoint.
  - "Inside AWX, I(wait=false) alone loses the work: AWX removes the job's container, with
    every process in it, when the job ends, so the detached process dies and its checkpoint
    turns C(error) once its lease expires. In AWX either keep I(wait=true), or start with
    I(wait=false) and poll M(karbor.protection.checkpoint_info) in the same job until the
    status is no longer C(protecting) (the C(protect) role does this)."
  - With a I(name), the checkpoint is idempotent; a second run with the same name finds the
    existing checkpoint of the plan and changes nothing.
  - With I(state=absent), deletes the checkpoint I(id) and everything it made (backups,
    snapshots, bank objects). A checkpoint still C(protecting) cannot be deleted; one whose
    run died is marked C(error) as soon as that run's bank lease expires, and can then be.
author:
  - karbor.protection developers (@karbor-protection)
options:
  plan:
    description:
      - Id or name of the plan to protect. Required with I(state=present) and to find a
        checkpoint by I(name).
    type: str
    aliases: [plan_id]
  provider_id:
    description:
      - Provider of the checkpoint. Defaults to the plan's provider. Required to delete by
        I(id) without I(plan).
    type: str
  id:
    description:
      - Checkpoint id, for I(state=absent).
    type: str
    aliases: [checkpoint_id]
  name:
    description:
      - Name kept in the checkpoint's C(extra_info); makes creation idempotent per plan.
      - Two runs started together with the same name make one checkpoint; the run that did
        not make it reports that checkpoint with C(changed=false), after waiting for it
        when I(wait=true).
      - At most 255 characters, without control characters.
    type: str
  extra_info:
    description:
      - Extra key/values stored with the checkpoint.
    type: dict
  state:
    description:
      - C(present) creates, C(absent) deletes.
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description:
      - Seconds each cloud wait (backup, snapshot, image) may take.
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
- name: Nightly checkpoint, once per day whatever the number of runs
  karbor.protection.checkpoint:
    cloud: mycloud
    plan: db-volumes
    name: "nightly-{{ now(utc=true, fmt='%Y-%m-%d') }}"
  register: cp

- name: Delete it
  karbor.protection.checkpoint:
    cloud: mycloud
    provider_id: "{{ cp.checkpoint.provider_id }}"
    id: "{{ cp.checkpoint.id }}"
    state: absent
'''

RETURN = r'''
checkpoint:
  description: The checkpoint, with Karbor's fields.
  returned: when it exists
  type: dict
  contains:
    id:
      description: Checkpoint id.
      type: str
    status:
      description: C(protecting), C(available), C(error), C(deleting), C(deleted) or C(error-deleting).
      type: str
    project_id:
      description: Owning project.
      type: str
    provider_id:
      description: Provider id.
      type: str
    protection_plan:
      description: The plan as protected (id, name, provider_id, resources).
      type: dict
    resource_graph:
      description: Karbor's serialized resource graph (a JSON string).
      type: str
    resources_status:
      description: Status per resource, keyed C(<type>#<id>).
      type: dict
    extra_info:
      description: Extra key/values, with C(created_by) and C(name).
      type: dict
    created_at:
      description: Creation time (UTC, ISO 8601).
      type: str
    timestamp:
      description: Creation time (epoch seconds).
      type: int
    error:
      description: Why the checkpoint failed.
      type: str
    progress:
      description: Resources and bytes done and total.
      type: dict
'''

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import wait_for
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import Conflict, InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import KarborModule
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R


class CheckpointModule(KarborModule):
    name_options = ('name',)
    argument_spec = dict(
        plan=dict(type='str', aliases=['plan_id']),
        provider_id=dict(type='str'),
        id=dict(type='str', aliases=['checkpoint_id']),
        name=dict(type='str'),
        extra_info=dict(type='dict'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
    )
    module_kwargs = dict(required_if=[('state', 'present', ('plan',))])
    default_timeout = 3600

    def _absent(self):
        engine = self.engine
        plan = engine.plans.get(self.params['plan']) if self.params['plan'] else None
        provider_id = self.params['provider_id'] or (plan or {}).get('provider_id')
        checkpoint = None
        if self.params['id']:
            if not provider_id:
                raise InvalidInput('Set provider_id (or plan) to delete checkpoint %s.'
                                   % self.params['id'])
            checkpoint = engine.get_checkpoint(provider_id, self.params['id'])
        elif self.params['name'] and plan:
            checkpoint = engine.find_named_checkpoint(plan, self.params['name'])
            if checkpoint is None:
                return {'changed': False}
        else:
            raise InvalidInput('Set id (with provider_id or plan), or name with plan, to delete a '
                               'checkpoint.')
        if checkpoint.status == R.CP_DELETED:
            if not self.check_mode:  # the engine tidies what a delete that died left
                checkpoint = engine.delete_checkpoint(checkpoint.data['provider_id'], checkpoint.id)
            return {'changed': False, 'checkpoint': checkpoint.to_api()}
        engine.check_deletable(checkpoint, checkpoint.bank)
        if self.check_mode:
            return {'changed': True, 'checkpoint': checkpoint.to_api()}
        checkpoint = engine.delete_checkpoint(checkpoint.data['provider_id'], checkpoint.id)
        return {'changed': True, 'checkpoint': checkpoint.to_api()}

    def _named_by_other_run(self, plan, name):
        engine = self.engine
        existing = engine.find_named_checkpoint(plan, name)
        if existing is None:
            raise Conflict('Checkpoint name %r of plan %s is being claimed by another run; run '
                           'again.' % (name, plan['name']))
        if self.params['wait'] and existing.status == R.CP_PROTECTING:
            existing = wait_for(
                'checkpoint %s (started by another run)' % existing.id,
                lambda: engine.get_checkpoint(existing.data['provider_id'], existing.id),
                lambda cp: cp.status != R.CP_PROTECTING, lambda cp: None,
                self.params['timeout'])
        return existing.to_api()

    def run(self):
        if self.params['state'] == 'absent':
            return self._absent()
        engine = self.engine
        plan = engine.plans.get(self.params['plan'])
        if self.params['provider_id'] and engine.provider(self.params['provider_id']).id != \
                plan['provider_id']:
            raise InvalidInput('Plan %s belongs to provider %s, not %s.' % (
                plan['id'], plan['provider_id'], self.params['provider_id']))
        name = self.params['name']
        if name:
            existing = engine.find_named_checkpoint(plan, name)
            if existing is not None and existing.status != R.CP_DELETED:
                return {'changed': False, 'checkpoint': existing.to_api()}
        if self.check_mode:
            # what protect checks first: the plan against the cloud and the provider
            engine.plan_graph(engine.provider(plan['provider_id']), plan)
            return {'changed': True}
        extra = dict(self.params['extra_info'] or {})
        if name:
            extra['name'] = name
        try:
            checkpoint = engine.protect(plan, extra, wait=self.params['wait'])
        except Conflict:
            if not name:
                raise
            # Another run took this name a moment ago: that checkpoint is the one.
            return {'changed': False, 'checkpoint': self._named_by_other_run(plan, name)}
        result = {'changed': True, 'checkpoint': checkpoint.to_api()}
        if checkpoint.status == R.CP_ERROR:
            self.module.fail_json(msg='Checkpoint %s of plan %s failed: %s' % (
                checkpoint.id, plan['name'], checkpoint.data.get('error')), **result)
        return result


def main():
    CheckpointModule()()


if __name__ == '__main__':
    main()
