# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog: plans, restores, operation logs, triggers, scheduled
operations and verifications, as JSON records in a bank, scoped by project.

Checkpoints are not here: like Karbor, they live only in their provider's bank.
"""

from __future__ import annotations

import datetime
import itertools
import uuid
from typing import Any, Callable, Iterator, Union

from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, NotFound)


#: records fetched at once by a listing
RECORD_BATCH = 32


class RecordStore:
    """Records of one kind: ``/<kind>/<project>/<id>``.

    With ``ordered``, keys are ``<time>@<id>`` so the newest come first in a
    bounded reverse listing, and ``/<kind>-ids/<project>/<id>`` finds one.
    """

    def __init__(self, catalog: 'Catalog', kind: str, label: str, ordered: bool = False) -> None:
        self.catalog = catalog
        self.kind = kind
        self.label = label
        self.ordered = ordered

    @property
    def bank(self) -> Bank:
        return self.catalog.bank

    def _prefix(self, project_id: str) -> str:
        return '/%s/%s/' % (self.kind, project_id)

    def _id_key(self, project_id: str, record_id: str) -> str:
        if self.ordered:
            return '/%s-ids/%s/%s' % (self.kind, project_id, record_id)
        return self._prefix(project_id) + record_id

    def _check_id(self, record_id: str) -> str:
        try:
            return str(uuid.UUID(str(record_id)))
        except ValueError:
            raise InvalidInput('%s id %r is not a UUID.' % (self.label, record_id))

    def new(self, project_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        stamp = timeutil.now()
        record = dict(fields)
        record.setdefault('id', str(uuid.uuid4()))
        record['project_id'] = project_id
        record['created_at'] = timeutil.isoformat(stamp)
        record['updated_at'] = record['created_at']
        if self.ordered:
            key = self._prefix(project_id) + '%s@%s' % (timeutil.sort_key(stamp), record['id'])
            record['_key'] = key
            self.bank.put(self._id_key(project_id, record['id']), key, exclusive=True)
            self.bank.put(key, record, exclusive=True)
        else:
            self.bank.put(self._id_key(project_id, record['id']), record, exclusive=True)
        return record

    def save(self, record: dict[str, Any]) -> dict[str, Any]:
        record['updated_at'] = timeutil.isoformat(timeutil.now())
        key = record.get('_key') or self._id_key(record['project_id'], record['id'])
        self.bank.put(key, record)
        return record

    def get(self, project_id: str, record_id: str) -> dict[str, Any]:
        record_id = self._check_id(record_id)
        try:
            if self.ordered:
                return self.bank.get_json(self.bank.get_text(self._id_key(project_id, record_id)))
            return self.bank.get_json(self._id_key(project_id, record_id))
        except NotFound:
            raise NotFound('%s %s does not exist in this project.' % (self.label, record_id))

    def delete(self, record: dict[str, Any]) -> None:
        if self.ordered:
            self.bank.delete(record['_key'])
        self.bank.delete(self._id_key(record['project_id'], record['id']))

    def iter_stamped_keys(self, project_id: str) -> Iterator[tuple[datetime.datetime, str]]:
        """(creation time, key) of an ordered store's records, newest first, read
        from the keys alone (no record is fetched)."""
        for key in self.bank.iter_all(self._prefix(project_id), reverse=True):
            stamp = key.rsplit('/', 1)[1].split('@', 1)[0]
            try:
                yield timeutil.from_sort_key(stamp), key
            except ValueError:
                continue

    def iter(self, project_id: str) -> Iterator[dict[str, Any]]:
        """Newest first when ordered, else by id; records are fetched a batch at
        a time, concurrently (on Swift each fetch is a round trip)."""
        keys = self.bank.iter_all(self._prefix(project_id), reverse=self.ordered)
        while True:
            batch = list(itertools.islice(keys, RECORD_BATCH))
            if not batch:
                return
            for record in self.bank.get_json_many(batch):
                if record is not None:
                    yield record

    def list(self, project_id: str, limit: int | None = None, **filters: Any) -> list[dict]:
        result = []
        for record in self.iter(project_id):
            if all(value is None or record.get(name) == value for name, value in filters.items()):
                result.append(record)
                if limit and len(result) >= limit:
                    break
        if not self.ordered:
            result.sort(key=lambda r: r.get('created_at', ''), reverse=True)
        return result

    def find(self, project_id: str, name_or_id: str) -> dict[str, Any] | None:
        """By id, else by unique name; None when nothing matches."""
        try:
            return self.get(project_id, name_or_id)
        except (InvalidInput, NotFound):
            pass
        matches = [r for r in self.iter(project_id) if r.get('name') == name_or_id]
        if len(matches) > 1:
            raise InvalidInput('More than one %s is named %r; use its id instead.'
                               % (self.label.lower(), name_or_id))
        return matches[0] if matches else None


RECORD_KINDS = ('plans', 'restores', 'operation_logs', 'triggers', 'scheduled_operations',
                'verifications')


class Catalog:
    """Every record store of one catalog bank.

    The bank may be given as a callable: it is then opened on first use, so
    a module that never reads the catalog never reaches its store (Swift).
    """

    def __init__(self, bank: Union[Bank, Callable[[], Bank]]) -> None:
        self._bank = bank if isinstance(bank, Bank) else None
        self._opener = None if isinstance(bank, Bank) else bank
        self.plans = RecordStore(self, 'plans', 'Plan')
        self.restores = RecordStore(self, 'restores', 'Restore')
        self.operation_logs = RecordStore(self, 'operation_logs', 'Operation log', ordered=True)
        self.triggers = RecordStore(self, 'triggers', 'Trigger')
        self.scheduled_operations = RecordStore(self, 'scheduled_operations',
                                                'Scheduled operation')
        self.verifications = RecordStore(self, 'verifications', 'Verification', ordered=True)

    @property
    def bank(self) -> Bank:
        if self._bank is None:
            self._bank = self._opener()
        return self._bank


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its internal fields."""
    return {k: v for k, v in record.items() if not k.startswith('_')}
