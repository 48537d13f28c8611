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


class RestoreService(RecordService):
    """The project's restores, newest first."""

    def __init__(self, store: RecordStore, project_id: Callable[[], str],
                 bank_of: Callable[[str], Bank]) -> None:
        super().__init__(store, project_id)
        self._bank_of = bank_of  # provider id -> its bank, where restore leases live

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
        record['status'] = R.RESTORE_FAIL
        record['error'] = ('The run that was restoring stopped before it finished (its bank '
                           'lease expired). Resources it had created: %s. Delete them or keep '
                           'them, then run the restore again.'
                           % (', '.join('%s -> %s' % item for item in sorted(created.items()))
                              or 'none'))
        for key, status in record.get('resources_status', {}).items():
            if status == R.RES_RESTORING:
                record['resources_status'][key] = R.RES_ERROR
                record.setdefault('resources_reason', {})[key] = 'the restoring run stopped'
        return public(self.store.save(record))
