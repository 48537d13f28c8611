# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore records: looked up and listed here (the run itself is the
engine's ``restore``). Every lookup first settles a restore whose run died,
so no reader ever sees a dead run as ``in_progress``."""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import KarborError
from ansible_collections.karbor.protection.plugins.module_utils.engine.records import (
    RecordService)
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import (
    RecordStore, public)
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease


def drop_temporary(cloud: Any, kind: str, object_id: str) -> None:
    """Delete a temporary object a dead restore run recorded (only images are
    made so: the image a bank-mode volume is restored from)."""
    if kind != 'image':
        raise KarborError('No way to delete a temporary %s.' % kind)
    cloud.call('Deleting temporary image %s' % object_id, cloud.conn.image.delete_image,
               object_id, ignore_missing=True)


class RestoreService(RecordService):
    """The project's restores, newest first."""

    def __init__(self, store: RecordStore, project_id: Callable[[], str],
                 bank_of: Callable[[str], Bank],
                 drop_temporary: Callable[[str, str], None] | None = None) -> None:
        super().__init__(store, project_id)
        self._bank_of = bank_of  # provider id -> its bank, where restore leases live
        #: (type, id) -> deletes a dead run's temporary object in this cloud
        self._drop_temporary = drop_temporary

    def find(self, name_or_id: str) -> dict[str, Any] | None:
        """By id, else the newest restore of that name (a name may be run again after a
        failure, so it is not unique)."""
        try:
            return self.get(name_or_id)
        except KarborError:
            matches = self.list(name=name_or_id)
            return matches[0] if matches else None

    def get(self, name_or_id: str) -> dict[str, Any]:
        """By id only."""
        return self.reap_if_dead(public(self.store.get(self.project_id, name_or_id)))

    def list(self, status: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        records = [self.reap_if_dead(record) for record in super().list(**filters)]
        return [record for record in records if not status or record.get('status') == status]

    def reap_if_dead(self, record: dict[str, Any]) -> dict[str, Any]:
        """A restore left ``in_progress`` by a run that died becomes ``fail``,
        naming what it had already created, so nothing is forgotten."""
        if record.get('status') != R.RESTORE_IN_PROGRESS or not record.get('owner_id'):
            return record
        try:
            bank = self._bank_of(record['provider_id'])
            if Lease.is_alive(bank, record['owner_id'], timeutil.wall_clock()):
                return record
        except KarborError:
            return record  # the bank cannot tell now; leave the record as it is
        created = record.get('new_resources') or {}
        left = self._drop_temporaries(record)
        record['status'] = R.RESTORE_FAIL
        record['error'] = ('The run that was restoring stopped before it finished (its bank '
                           'lease expired). Resources it had created: %s. Delete them or keep '
                           'them, then run the restore again.%s'
                           % (', '.join('%s -> %s' % item for item in sorted(created.items()))
                              or 'none', left))
        for key, status in record.get('resources_status', {}).items():
            if status == R.RES_RESTORING:
                record['resources_status'][key] = R.RES_ERROR
                record.setdefault('resources_reason', {})[key] = 'the restoring run stopped'
        return public(self.store.save(record))

    def _drop_temporaries(self, record: dict[str, Any]) -> str:
        """Delete the temporary objects a dead run recorded (in this cloud: a
        restore elsewhere made them in the target, which this run cannot
        reach); what is left, as a sentence for the record's error."""
        temporary = record.get('temporary') or {}
        if self._drop_temporary is not None and not record.get('restore_target'):
            for object_id, item in sorted(temporary.items()):
                try:
                    self._drop_temporary(item.get('type'), object_id)
                except KarborError:
                    continue  # named below: the operator deletes it
                del temporary[object_id]
        if not temporary:
            return ''
        return (' Temporary objects it made and could not be deleted: %s.'
                % ', '.join('%s %s (%s)' % (item.get('type'), object_id, item.get('name'))
                            for object_id, item in sorted(temporary.items())))
