# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time triggers: when scheduled operations fire. A trigger keeps
``schedule_since``, the moment its fire times last changed; the scheduler
owes no fire time before it, so editing a schedule never replays or reports
missed the occurrences of the old one."""

from __future__ import annotations

import datetime
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.engine.records import (
    RecordService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.time_trigger import (
    TimeTrigger, iso)
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import RecordStore

#: the properties that decide the fire times (``window`` only decides how late one may start)
SCHEDULE_KEYS = ('format', 'pattern', 'start_time', 'end_time', 'timezone')


def time_trigger(record: dict) -> TimeTrigger:
    """The schedule of a stored trigger."""
    try:
        return TimeTrigger.from_properties(record.get('properties') or {})
    except InvalidInput as exc:
        raise InvalidInput('Trigger %s is stored with an invalid definition (%s); update it with '
                           'karbor.protection.trigger.' % (record.get('id'), exc.msg))


def next_fire_time(trigger: dict, now: datetime.datetime | None = None) -> str | None:
    try:
        times = time_trigger(trigger).next_times(1, now or timeutil.now())
    except KarborError:
        return None
    return iso(times[0]) if times else None


def schedule_changed(before: dict | None, after: dict) -> bool:
    """Whether new properties move the fire times (a new trigger's always do)."""
    return before is None or any(before.get(k) != after.get(k) for k in SCHEDULE_KEYS)


class TriggerService(RecordService):
    """The project's triggers; one a scheduled operation uses is not deleted."""

    creator = 'trigger'

    def __init__(self, store: RecordStore, project_id: Callable[[], str],
                 operations: RecordStore) -> None:
        super().__init__(store, project_id)
        self.operations = operations

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        TimeTrigger.from_properties(fields.get('properties') or {})  # refuse what cannot fire
        fields['type'] = 'time'
        return fields

    def complete(self, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        """A new schedule (or a new trigger) owes fire times from now on."""
        if schedule_changed(before and (before.get('properties') or {}),
                            after.get('properties') or {}):
            after['schedule_since'] = timeutil.isoformat(timeutil.now())

    def users(self, trigger_id: str) -> list[dict]:
        """The scheduled operations that fire on the trigger."""
        return [op for op in self.operations.iter(self.project_id)
                if op.get('trigger_id') == trigger_id]

    def delete(self, record: dict[str, Any], dry_run: bool = False) -> None:
        """Delete a trigger no scheduled operation uses (Karbor: 424 otherwise)."""
        users = self.users(record['id'])
        if users:
            raise Conflict('Trigger %s is used by scheduled operation(s) %s; delete or move them '
                           'to another trigger first.' % (
                               record['id'], ', '.join('%s (%s)' % (op['id'], op.get('name'))
                                                       for op in users)))
        super().delete(record, dry_run)
