#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: scheduled_operation_run
short_description: Run the scheduled operations that are due, each fire time exactly once
version_added: 0.1.0
description:
  - For every enabled scheduled operation, finds the fire times of its trigger since the last
    one processed (never before the operation was created or enabled), up to now.
  - A fire time whose window is still open is claimed in the catalog bank with an exclusive
    create and, if this run wins the claim, executed - a checkpoint of the plan (then retention
    for C(retention_protect)), a copy of its newest checkpoints (C(copy)) or their
    verification (C(verify)). Any number of runs may start at the same moment (AWX
    schedules, cron); each fire time is executed by exactly one of them, whatever the type.
  - C(copy) operations copy into the bank of their C(target_provider_id) on the cloud of the
    C(target_*) options (the target's credentials come with the run; they are never stored).
    Left out, the target is this run's own cloud and project. A copy whose target cannot be
    reached fails that fire time, recorded like a failed checkpoint.
  - A fire time whose window has passed is claimed as C(missed) and gets an operation log;
    it is never dropped silently.
  - Checkpoints made this way carry C(created_by=operation-engine), C(scheduled_operation_id),
    C(trigger_id), C(fire_time) and the AWX ids in their C(extra_info).
  - Use C(playbooks/run_scheduled.yml), which passes the AWX job and schedule ids on.
author:
  - karbor.protection developers (@karbor-protection)
options:
  operations:
    description:
      - Only these scheduled operations (ids or names). Default all.
    type: list
    elements: str
  triggers:
    description:
      - Only operations of these triggers (ids or names). Default all.
    type: list
    elements: str
  awx_job_id:
    description:
      - The AWX job id (AWX's extra var C(awx_job_id) or C(tower_job_id)), recorded with each
        run and checkpoint.
    type: str
  awx_schedule_id:
    description:
      - The AWX schedule id (C(awx_schedule_id) or C(tower_schedule_id)).
    type: str
  awx_schedule_name:
    description:
      - The AWX schedule name (C(awx_schedule_name)).
    type: str
  awx_job_launch_type:
    description:
      - How AWX launched the job (C(awx_job_launch_type)), such as C(scheduled).
    type: str
  max_fire_times:
    description:
      - At most this many fire times per operation in one run, oldest first; the rest are
        handled by the next run. Bounds the work after a long outage.
    type: int
    default: 1000
  fail_on_error:
    description:
      - Fail the task (after every due fire time has been handled) when a run failed, so that
        AWX or cron reports it.
    type: bool
    default: true
  timeout:
    description:
      - Seconds each cloud wait of a checkpoint (backup, snapshot, image) may take.
    type: int
    default: 3600
extends_documentation_fragment:
  - karbor.protection.openstack
  - karbor.protection.openstack.target_default_source
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: Reports what would run and what would be recorded missed; claims nothing.
'''

EXAMPLES = r'''
- name: Run what is due (what playbooks/run_scheduled.yml does)
  karbor.protection.scheduled_operation_run:
    cloud: mycloud
    awx_job_id: "{{ awx_job_id | default(tower_job_id | default(omit)) }}"
    awx_schedule_id: "{{ awx_schedule_id | default(tower_schedule_id | default(omit)) }}"
  register: due

- name: Run what is due; copy operations copy into the disaster recovery cloud
  karbor.protection.scheduled_operation_run:
    cloud: mycloud
    target_cloud: dr-site

- name: Only one trigger's operations
  karbor.protection.scheduled_operation_run:
    cloud: mycloud
    triggers: [nightly]
'''

RETURN = r'''
runs:
  description: Fire times executed by this run (in check mode, those that would be).
  returned: always
  type: list
  elements: dict
  contains:
    operation_id:
      description: Scheduled operation id.
      type: str
    operation_name:
      description: Scheduled operation name.
      type: str
    operation_type:
      description: C(protect), C(retention_protect), C(copy) or C(verify).
      type: str
    trigger_id:
      description: Trigger id.
      type: str
    fire_time:
      description: The fire time (UTC, ISO 8601).
      type: str
    state:
      description: C(success), C(failed) (C(would_run) in check mode). A C(verify) that finds
        a problem is C(failed); its verifications keep what was found.
      type: str
    checkpoint_id:
      description: The checkpoint made (for C(copy) and C(verify), the newest one copied or
        verified).
      type: str
    checkpoint_ids:
      description: Every checkpoint made, copied or verified, newest first.
      type: list
      elements: str
    copied:
      description: For C(copy), what was sent - C(target_provider_id), C(target_project_id),
        C(objects_sent), C(objects_skipped), C(bytes_sent), C(bytes_skipped), C(copies) (per
        checkpoint C(checkpoint_id), C(changed), C(objects_sent), C(bytes_sent)) and
        C(warnings) (as M(karbor.protection.checkpoint_copy) returns them). Also in the claim
        and in the operation log's C(extra_info).
      type: dict
      returned: for C(copy) runs that reached the copy
    verify:
      description: For C(verify), C(level), C(data_subset) and C(verifications) - per
        checkpoint C(checkpoint_id), C(verification_id), C(status) (C(success) or C(fail)) and
        C(error). Also in the claim and in the operation log's C(extra_info).
      type: dict
      returned: for C(verify) runs that reached a verification
    retention:
      description: For C(retention_protect), the retention's outcome (C(deleted), C(skipped),
        C(errors)).
      type: dict
      returned: for C(retention_protect) runs whose checkpoint became available
    deleted_checkpoints:
      description: Checkpoints retention deleted.
      type: list
      elements: str
    error:
      description: Why the run failed.
      type: str
    log_id:
      description: Its operation log.
      type: str
missed:
  description: Fire times recorded as missed by this run (their window had passed).
  returned: always
  type: list
  elements: dict
already_claimed:
  description: Due fire times skipped because another run had claimed them.
  returned: always
  type: int
operations_checked:
  description: Enabled operations looked at.
  returned: always
  type: int
now:
  description: The time this run used (UTC, ISO 8601; C(KARBOR_FAKE_NOW) pins it).
  returned: always
  type: str
run_id:
  description: This run's id, recorded in its claims and logs.
  returned: always
  type: str
'''

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    KarborModule, target_connection_spec)
from ansible_collections.karbor.protection.plugins.module_utils.engine.scheduler import (
    AWX_FIELDS, Scheduler)


class ScheduledOperationRunModule(KarborModule):
    argument_spec = dict(
        operations=dict(type='list', elements='str'),
        triggers=dict(type='list', elements='str'),
        awx_job_id=dict(type='str'),
        awx_schedule_id=dict(type='str'),
        awx_schedule_name=dict(type='str'),
        awx_job_launch_type=dict(type='str'),
        max_fire_times=dict(type='int', default=1000),
        fail_on_error=dict(type='bool', default=True),
        **target_connection_spec(),
    )
    default_timeout = 3600

    def run(self):
        if self.params['max_fire_times'] < 1:
            raise InvalidInput('max_fire_times must be 1 or more.')
        context = {key: self.params[key] for key in AWX_FIELDS}
        target = self.target_engine()  # copy operations copy into its cloud (else this one's)
        scheduler = Scheduler(self.engine, max_fire_times=self.params['max_fire_times'],
                              context=context, target=None if target is None else lambda: target)
        report = scheduler.run(self.params['operations'], self.params['triggers'],
                               check_mode=self.check_mode)
        failed = report.pop('failed_runs')
        if failed and self.params['fail_on_error'] and not self.check_mode:
            self.module.fail_json(
                msg='%d scheduled run(s) failed: %s' % (len(failed), '; '.join(
                    '%s at %s: %s' % (r['operation_name'] or r['operation_id'], r['fire_time'],
                                      r['error']) for r in failed)), **report)
        return report


def main():
    ScheduledOperationRunModule()()


if __name__ == '__main__':
    main()
