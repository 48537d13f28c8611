#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: trigger
short_description: Create, update or delete a time trigger
version_added: 0.1.0
description:
  - A trigger says when scheduled operations fire, as OpenStack Karbor's C(time) triggers do.
    It has no scheduler of its own; M(karbor.protection.scheduled_operation_run) (called by
    an AWX schedule or cron through C(playbooks/run_scheduled.yml)) runs what is due.
  - I(format=calendar) takes an iCalendar VEVENT with one RRULE
    (C(BEGIN:VEVENT\nRRULE:FREQ=DAILY;INTERVAL=1;BYHOUR=2\nEND:VEVENT), escaped C(\\n)
    accepted); I(format=crontab) takes five cron fields. Unlike Karbor, the format is
    honoured per trigger.
  - The pattern is evaluated in I(timezone) from I(start_time) to I(end_time). A wall-clock
    time that a DST change skips fires at the instant given by the offset before the change;
    one that happens twice fires once.
  - Validation fails with a message that says what to fix when the pattern cannot be parsed,
    fires more often than I(min_interval), never fires, or when I(window) is out of range.
  - The result shows the next I(next_count) fire times and the equivalent AWX schedule
    C(rrule) (DTSTART with time zone, INTERVAL always present).
  - The trigger is found by I(id), else by I(name). Options left out keep their stored values,
    so a second identical run reports no change. A trigger used by a scheduled operation
    cannot be deleted.
author:
  - karbor.protection developers (@karbor-protection)
options:
  type:
    description:
      - Trigger type. Only C(time) exists, as in Karbor.
    type: str
    choices: [time]
    default: time
  properties:
    description:
      - Karbor's form of the schedule, as C(karbor trigger-create) takes it - C(pattern),
        C(format), C(start_time), C(end_time), C(window) (and C(timezone)). Each key means the
        option of the same name; a value given both ways must be the same.
    type: dict
  format:
    description:
      - How I(pattern) is written. Defaults to C(calendar) for a new trigger and to the stored
        format otherwise.
    type: str
    choices: [calendar, crontab]
  pattern:
    description:
      - The recurrence, an RRULE (I(format=calendar)) or five cron fields
        (I(format=crontab)). Required to create a trigger.
    type: str
  start_time:
    description:
      - First possible fire time; the RRULE's DTSTART. C(YYYY-MM-DD HH:MM:SS) is UTC
        (Karbor's format); ISO 8601 with an offset is accepted. Defaults to now, to the whole
        minute, when the trigger is created.
    type: str
  end_time:
    description:
      - Last possible fire time, same formats as I(start_time). Must be after I(start_time).
    type: str
  window:
    description:
      - Seconds after a fire time during which it may still start. A fire time nobody ran
        within its window is recorded as missed. Defaults to 900 (clamped into
        I(min_window)..I(max_window)) for a new trigger.
    type: int
  timezone:
    description:
      - IANA time zone in which the pattern is evaluated, such as C(Europe/Berlin).
        Defaults to C(UTC) for a new trigger.
    type: str
  min_interval:
    description:
      - Smallest allowed gap in seconds between two fire times, checked over the next 100.
        Defaults to the environment variable C(KARBOR_MIN_INTERVAL), else 3600 (Karbor's
        default).
    type: int
  min_window:
    description:
      - Smallest allowed I(window). Defaults to C(KARBOR_MIN_WINDOW), else 60.
    type: int
  max_window:
    description:
      - Largest allowed I(window). Defaults to C(KARBOR_MAX_WINDOW), else 86400.
    type: int
  next_count:
    description:
      - How many upcoming fire times to return.
    type: int
    default: 5
extends_documentation_fragment:
  - karbor.protection.record.trigger
  - karbor.protection.openstack
  - karbor.protection.openstack.engine
  - karbor.protection.attributes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
'''

EXAMPLES = r'''
- name: Every day at 02:00 Berlin time (Karbor's calendar format)
  karbor.protection.trigger:
    cloud: mycloud
    name: nightly
    pattern: "BEGIN:VEVENT\nRRULE:FREQ=DAILY;INTERVAL=1;BYHOUR=2;BYMINUTE=0\nEND:VEVENT"
    start_time: "2026-01-01 00:00:00"
    timezone: Europe/Berlin
    window: 1800
  register: nightly

- name: The AWX schedule rrule for it
  ansible.builtin.debug:
    msg: "{{ nightly.awx_rrule }}"

- name: Every six hours on weekdays, crontab style
  karbor.protection.trigger:
    cloud: mycloud
    name: workdays
    format: crontab
    pattern: "0 */6 * * 1-5"

- name: Delete a trigger (fails while a scheduled operation uses it)
  karbor.protection.trigger:
    cloud: mycloud
    name: workdays
    state: absent
'''

RETURN = r'''
trigger:
  description: The trigger (what it would be, in check mode).
  returned: when I(state=present)
  type: dict
  contains:
    id:
      description: Trigger id.
      type: str
    name:
      description: Trigger name.
      type: str
    type:
      description: Always C(time).
      type: str
    properties:
      description: C(format), C(pattern), C(start_time), C(end_time) (UTC,
        C(YYYY-MM-DD HH:MM:SS)), C(window) (seconds) and C(timezone).
      type: dict
    project_id:
      description: Owning project.
      type: str
    schedule_since:
      description: When the fire times last changed (UTC, ISO 8601); earlier fire times are
        never run or reported missed.
      type: str
    created_at:
      description: Creation time (UTC, ISO 8601).
      type: str
    updated_at:
      description: Last change (UTC, ISO 8601).
      type: str
next_run_times:
  description: The next I(next_count) fire times (UTC, ISO 8601).
  returned: when I(state=present)
  type: list
  elements: str
  sample: ["2026-01-01T01:00:00Z", "2026-01-02T01:00:00Z"]
awx_rrule:
  description: The equivalent AWX schedule C(rrule), or null when AWX cannot express the
    trigger (see I(awx_rrule_note)).
  returned: when I(state=present)
  type: str
  sample: "DTSTART;TZID=Europe/Berlin:20260101T000000 RRULE:FREQ=DAILY;INTERVAL=1;BYHOUR=2;BYMINUTE=0"
awx_rrule_note:
  description: Why there is no AWX rrule, or what it leaves to C(run_scheduled.yml).
  returned: when I(state=present)
  type: str
'''

import os

from ansible_collections.karbor.protection.plugins.module_utils.engine import time_trigger as T
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.module import karbor_forms
from ansible_collections.karbor.protection.plugins.module_utils.module.record_state import (
    RecordStateModule, state_argument_spec)


def config_value(params, name, env, default):
    """Module option, else environment variable, else default."""
    if params.get(name) is not None:
        return params[name]
    raw = os.environ.get(env)
    if raw not in (None, ''):
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput('Environment variable %s=%r is not a whole number of seconds.'
                               % (env, raw))
    return default


class TriggerModule(RecordStateModule):
    catalog_kind = 'triggers'
    result_key = 'trigger'
    new_noun = 'a trigger'
    count_options = ('next_count',)
    _described = None  # the wanted schedule, whose next fire times every result shows
    argument_spec = dict(
        state_argument_spec(),
        type=dict(type='str', default='time', choices=['time']),
        format=dict(type='str', choices=['calendar', 'crontab']),
        pattern=dict(type='str'),
        start_time=dict(type='str'),
        end_time=dict(type='str'),
        window=dict(type='int'),
        timezone=dict(type='str'),
        min_interval=dict(type='int'),
        min_window=dict(type='int'),
        max_window=dict(type='int'),
        next_count=dict(type='int', default=5),
        properties=dict(type='dict'),
    )

    def run(self):
        karbor_forms.trigger_properties(self.params)
        return super().run()

    def _limits(self):
        return (config_value(self.params, 'min_interval', 'KARBOR_MIN_INTERVAL',
                             T.DEFAULT_MIN_INTERVAL),
                config_value(self.params, 'min_window', 'KARBOR_MIN_WINDOW', T.DEFAULT_MIN_WINDOW),
                config_value(self.params, 'max_window', 'KARBOR_MAX_WINDOW', T.DEFAULT_MAX_WINDOW))

    def _schedule(self, current, limits):
        """The wanted TimeTrigger: given options over the stored properties."""
        merged = dict(current or {})
        for key in ('format', 'pattern', 'start_time', 'end_time', 'window', 'timezone'):
            if self.params[key] is not None:
                merged[key] = self.params[key]
        if current is None:
            if not merged.get('pattern'):
                raise InvalidInput('To create trigger %r set pattern (and format if it is a '
                                   'crontab).' % self.params['name'])
            if merged.get('window') is None:
                merged['window'] = min(max(T.DEFAULT_WINDOW, limits[1]), limits[2])
        elif self.params['format'] is not None and self.params['pattern'] is None and \
                self.params['format'] != current.get('format'):
            raise InvalidInput('Changing the format of trigger %s needs a new pattern too.'
                               % self.params['name'])
        return T.TimeTrigger(merged.get('pattern'), merged.get('format') or 'calendar',
                             merged.get('start_time'), merged.get('end_time'),
                             merged.get('window'), merged.get('timezone'))

    def _wanted(self, record):
        """Name and properties wanted, validated against the limits once they differ."""
        limits = self._limits()
        self._described = schedule = self._schedule((record or {}).get('properties'), limits)
        fields = {'name': self.params['name'] or record['name'],
                  'properties': schedule.properties()}
        if record is None or any(record.get(k) != v for k, v in fields.items()):
            schedule.validate(*limits)
        return fields

    def new_fields(self):
        return self._wanted(None)

    def changes(self, record):
        fields = self._wanted(record)
        return fields if any(record.get(k) != v for k, v in fields.items()) else {}

    def result(self, record, changed):
        result = super().result(record, changed)
        result.update(self._described.describe(self.params['next_count']))
        return result


def main():
    TriggerModule()()


if __name__ == '__main__':
    main()
