# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checkpoints in the bank, in Karbor's layout:

  /checkpoints/<id>/index.json
  /checkpoints/<id>/resource-data/<resource id>/{status,metadata,...}
  /indices/by-provider/<provider>/<project>/<YYYY-MM-DD>/<time>@<id>
  /indices/by-date/<YYYY-MM-DD>/<project>/<time>@<id>
  /indices/by-plan/<plan>/<project>/<YYYY-MM-DD>/<time>@<id>
  /indices/by-name/<plan>/<project>/<sha256 of name>      (ours: named checkpoints)

``<time>`` is fixed-width microseconds, so a reverse listing of an index is
newest first and a page costs ``limit`` index reads, whatever the bank holds.
The day level (ours; Karbor's provider index is flat) keeps each folder of a
local bank small, so a page does not read every entry of a project.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import uuid
from typing import Any, Callable, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank, BankSection
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, NotFound, BankCorrupted)
from ansible_collections.karbor.protection.plugins.module_utils.common.faults import fault_point
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease, lease_key
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R

INDEX_VERSION = '1.0'


def _index_path(cid: str) -> str:
    return '/checkpoints/%s/index.json' % cid


def name_digest(bank: Bank, name: str) -> str:
    """How a name appears in object names: an encrypted bank uses a keyed
    digest, so that object names do not let anyone test guesses of names."""
    return bank.content_digest(name.encode('utf-8'))


def _name_key(bank: Bank, plan_id: str, project_id: str, name: str) -> str:
    return '/indices/by-name/%s/%s/%s' % (plan_id, project_id, name_digest(bank, name))


class Checkpoint:
    """One checkpoint's index document plus helpers to change it."""

    def __init__(self, bank: Bank, data: dict[str, Any]) -> None:
        self.bank = bank
        self.data = data

    # -- fields ----------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.data['id']

    @property
    def status(self) -> str:
        return self.data['status']

    @property
    def project_id(self) -> str:
        return self.data.get('project_id') or ''

    @property
    def plan(self) -> dict:
        return self.data.get('protection_plan') or {}

    @property
    def created(self) -> datetime.datetime:
        return timeutil.parse_time(self.data['created_at'])

    @property
    def extra_info(self) -> dict:
        return self.data.get('extra_info') or {}

    @property
    def resource_graph(self) -> str | None:
        return self.data.get('resource_graph')

    def resource_section(self, resource_id: str) -> BankSection:
        return self.bank.section('/checkpoints/%s/resource-data/%s' % (self.id, resource_id))

    # -- persistence -----------------------------------------------------------
    def commit(self) -> None:
        self.data['updated_at'] = timeutil.isoformat(timeutil.now())
        self.bank.put(_index_path(self.id), self.data)

    def set_status(self, status: str, reason: str | None = None) -> None:
        self.data['status'] = status
        if reason is not None:
            self.data['error'] = reason
        self.commit()

    def index_keys(self) -> list[str]:
        created = self.created
        day = created.strftime('%Y-%m-%d')
        entry = '%s@%s' % (timeutil.sort_key(created), self.id)
        plan_id = self.plan.get('id', 'none')
        keys = ['/indices/by-provider/%s/%s/%s/%s' % (self.data['provider_id'], self.project_id,
                                                      day, entry),
                '/indices/by-date/%s/%s/%s' % (day, self.project_id, entry),
                '/indices/by-plan/%s/%s/%s/%s' % (plan_id, self.project_id, day, entry)]
        return keys

    def name_key(self) -> str | None:
        name = self.extra_info.get('name')
        if not name:
            return None
        return _name_key(self.bank, self.plan.get('id', 'none'), self.project_id, str(name))

    def to_api(self) -> dict[str, Any]:
        """Karbor's API view of the checkpoint (plus our additions)."""
        view = {key: self.data.get(key) for key in (
            'id', 'project_id', 'status', 'provider_id', 'protection_plan', 'resource_graph',
            'created_at', 'timestamp', 'extra_info', 'updated_at')}
        view['extra_info'] = view['extra_info'] or {}
        view['error'] = self.data.get('error')
        view['resources_status'] = self.data.get('resources_status') or {}
        view['progress'] = self.data.get('progress') or {}
        return view


class CheckpointCollection:
    """All checkpoints of one provider's bank."""

    def __init__(self, bank: Bank, provider_id: str, lease_grace: float = 120) -> None:
        self.bank = bank
        self.provider_id = provider_id
        # A checkpoint younger than this may not have its owner's lease in
        # the bank yet (both are written at once): it is not a zombie.
        self.lease_grace = lease_grace

    def create(self, plan: dict, project_id: str, owner_id: str, extra_info: dict | None = None,
               checkpoint_id: str | None = None, fields: dict | None = None,
               alongside: Callable[[], Any] | None = None) -> Checkpoint:
        """Write index.json (with ``fields``, e.g. the resource graph, in the
        same write) and the indices, all at once, with ``alongside`` (the
        owner's lease) in the same round trip. A named checkpoint's name is
        claimed between its index.json and its indices, so two runs never
        make the same one. If any write fails, what the others wrote is
        removed."""
        moment = timeutil.now()
        data = {
            'version': INDEX_VERSION,
            'id': checkpoint_id or str(uuid.uuid4()),
            'status': R.CP_PROTECTING,
            'owner_id': owner_id,
            'provider_id': self.provider_id,
            'project_id': project_id,
            'protection_plan': {'id': plan['id'], 'name': plan.get('name'),
                                'provider_id': plan.get('provider_id', self.provider_id),
                                'resources': plan.get('resources', []),
                                'resource_query': plan.get('selected_by')},
            'extra_info': dict(extra_info or {}),
            'created_at': timeutil.isoformat(moment),
            'timestamp': int(moment.timestamp()),
            'resource_graph': None,
        }
        data.update(fields or {})
        checkpoint = Checkpoint(self.bank, data)
        name_key = checkpoint.name_key()
        index = [(_index_path(checkpoint.id), data, True)]
        entries = [(key, checkpoint.id, False) for key in checkpoint.index_keys()]
        if not name_key:
            self._write_all(index + entries, alongside)
            return checkpoint
        # A named checkpoint's index.json is in the bank before its name is
        # claimed, so a run that loses the name always finds the winner's.
        self._write_all(index, alongside)
        try:
            self.bank.claim(name_key, checkpoint.id)
        except Conflict:
            self._remove(index)
            raise Conflict('A checkpoint named %r already exists for plan %s.'
                           % (checkpoint.extra_info['name'], plan['id']))
        except BaseException:
            self._remove(index)
            raise
        try:
            self._write_all(entries)
        except BaseException:
            self.bank.delete(name_key)
            self._remove(index)
            raise
        return checkpoint

    def _write_all(self, writes: list[tuple[str, Any, bool]],
                   alongside: Callable[[], Any] | None = None) -> None:
        """All in one round trip; if any fails, what the others wrote is removed."""
        with concurrent.futures.ThreadPoolExecutor(len(writes) + 1) as pool:
            futures = [pool.submit(self.bank.put, key, value, exclusive)
                       for key, value, exclusive in writes]
            if alongside is not None:
                futures.append(pool.submit(alongside))
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            self._remove(writes)
            raise errors[0]

    def _remove(self, writes: list[tuple[str, Any, bool]]) -> None:
        for key, _value, _exclusive in writes:
            try:
                self.bank.delete(key)
            except Exception:  # pylint: disable=broad-except
                pass  # an entry whose index.json is gone is skipped and removed by list()

    def get(self, checkpoint_id: str, project_id: str | None = None,
            include_deleted: bool = True) -> Checkpoint:
        """Load one checkpoint; a zombie (its writer's lease expired) is
        turned into ``error`` on the way."""
        try:
            uuid.UUID(str(checkpoint_id))
        except ValueError:
            raise InvalidInput('Checkpoint id %r is not a UUID.' % (checkpoint_id,))
        try:
            data = self.bank.get_json(_index_path(checkpoint_id))
        except NotFound:
            raise NotFound('Checkpoint %s does not exist in provider %s; list the plan\'s '
                           'checkpoints with karbor.protection.checkpoint_info.'
                           % (checkpoint_id, self.provider_id))
        if not isinstance(data, dict) or 'status' not in data:
            raise BankCorrupted('The index of checkpoint %s is damaged.' % checkpoint_id)
        checkpoint = Checkpoint(self.bank, data)
        if data.get('provider_id') != self.provider_id:
            # Providers may share a bank; a checkpoint is only ever handled by
            # the plugins of the provider that made it.
            raise NotFound('Checkpoint %s does not exist in provider %s: it belongs to provider '
                           '%s; use that provider_id or the plan it was made from.'
                           % (checkpoint_id, self.provider_id, data.get('provider_id')))
        if project_id is not None and checkpoint.project_id != project_id:
            raise NotFound('Checkpoint %s does not exist in provider %s for this project.'
                           % (checkpoint_id, self.provider_id))
        if not include_deleted and checkpoint.status == R.CP_DELETED:
            raise NotFound('Checkpoint %s was deleted.' % checkpoint_id)
        self.reap_if_zombie(checkpoint)
        return checkpoint

    def get_available(self, checkpoint_id: str, project_id: str | None, done: str) -> Checkpoint:
        """Load a checkpoint that must be available to be ``done`` (restored,
        verified, copied): any other status is a Conflict that says which."""
        checkpoint = self.get(checkpoint_id, project_id)
        if checkpoint.status != R.CP_AVAILABLE:
            raise Conflict('Checkpoint %s is %s; only available checkpoints can be %s.'
                           % (checkpoint.id, checkpoint.status, done))
        return checkpoint

    def reap_if_zombie(self, checkpoint: Checkpoint) -> bool:
        """Mark a protecting/deleting checkpoint whose writer died as failed."""
        if checkpoint.status not in (R.CP_PROTECTING, R.CP_DELETING):
            return False
        if Lease.is_alive(self.bank, checkpoint.data.get('owner_id'), timeutil.wall_clock()):
            return False
        if checkpoint.status == R.CP_PROTECTING and \
                (timeutil.now() - checkpoint.created).total_seconds() < self.lease_grace:
            return False  # its lease may be on its way
        owner = checkpoint.data.get('owner_id')
        if owner:
            self.bank.delete(lease_key(owner))  # the dead run's expired lease
        if checkpoint.status == R.CP_PROTECTING:
            checkpoint.set_status(R.CP_ERROR, 'The run that was protecting this checkpoint stopped '
                                  'before it finished (its bank lease expired). Delete the '
                                  'checkpoint to free what it made.')
        else:
            checkpoint.set_status(R.CP_ERROR_DELETING, 'The run that was deleting this checkpoint '
                                  'stopped before it finished. Delete it again.')
        return True

    def find_by_name(self, plan_id: str, project_id: str, name: str) -> Checkpoint | None:
        try:
            cid = self.bank.get_text(_name_key(self.bank, plan_id, project_id, name))
        except NotFound:
            return None
        try:
            return self.get(cid)
        except NotFound:
            return None

    def _index_prefix(self, project_id: str, plan_id: str | None) -> str:
        if plan_id:
            return '/indices/by-plan/%s/%s/' % (plan_id, project_id)
        return '/indices/by-provider/%s/%s/' % (self.provider_id, project_id)

    def _drop_dangling(self, key: str) -> None:
        """An index entry whose checkpoint is gone (a create that failed half
        way, a delete that died) is removed once it is clearly not a create
        in flight."""
        stamp = key.rsplit('/', 1)[1].split('@', 1)[0]
        try:
            created = timeutil.from_sort_key(stamp)
        except ValueError:
            return
        if (timeutil.now() - created).total_seconds() > self.lease_grace:
            self.bank.delete(key)

    def iter_keys(self, project_id: str, plan_id: str | None = None,
                  start_date: datetime.date | None = None, end_date: datetime.date | None = None,
                  marker: str | None = None, page: int = 100) -> Iterator[str]:
        """Index entries newest first, filtered by plan and by an inclusive
        UTC date range, starting after ``marker``. Dates bound the listing
        range, so older entries are never read."""
        prefix = self._index_prefix(project_id, plan_id)

        def bound(day: datetime.date) -> str:
            return prefix + day.strftime('%Y-%m-%d')

        bank_marker = None
        if marker:
            marked = self.get(marker, project_id)
            keys = [k for k in marked.index_keys() if k.startswith(prefix)]
            bank_marker = keys[0] if keys else None
        if end_date is not None:
            upper = bound(end_date + datetime.timedelta(days=1))
            if bank_marker is None or upper < bank_marker:
                bank_marker = upper
        lower = bound(start_date) if start_date is not None else None
        for key in self._paged(prefix, bank_marker, page):
            if lower is not None and key < lower:
                return
            yield key

    def _paged(self, prefix: str, marker: str | None, page: int) -> Iterator[str]:
        while True:
            keys = self.bank.list(prefix, marker=marker, limit=page, reverse=True)
            yield from keys
            if len(keys) < page:
                return
            marker = keys[-1]

    def list(self, project_id: str, plan_id: str | None = None, status: str | None = None,
             start_date: datetime.date | None = None, end_date: datetime.date | None = None,
             limit: int | None = None, marker: str | None = None) -> list[Checkpoint]:
        result = []
        page = min(max(limit or 100, 10), 1000)
        for key in self.iter_keys(project_id, plan_id, start_date, end_date, marker, page):
            cid = key.rsplit('@', 1)[1]
            try:
                checkpoint = self.get(cid, project_id)
            except NotFound:
                self._drop_dangling(key)
                continue
            if status and checkpoint.status != status:
                continue
            result.append(checkpoint)
            if limit and len(result) >= limit:
                break
        return result

    def remove_indices(self, checkpoint: Checkpoint) -> None:
        for key in checkpoint.index_keys():
            self.bank.delete(key)
        name_key = checkpoint.name_key()
        if name_key:
            self.bank.delete(name_key)

    def purge_data(self, checkpoint: Checkpoint) -> int:
        return self.bank.delete_prefix('/checkpoints/%s/resource-data/' % checkpoint.id)

    def mark_deleted(self, checkpoint: Checkpoint) -> None:
        """Remove everything but a small tombstone index (status ``deleted``).

        The tombstone is written before the indices go: a run that dies in
        between leaves indices of a deleted checkpoint, which the next delete
        of it removes, never an index.json that no listing reaches."""
        self.purge_data(checkpoint)
        checkpoint.set_status(R.CP_DELETED)
        fault_point('delete.index')
        self.remove_indices(checkpoint)
