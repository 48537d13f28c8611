# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The protection engine: the one entry point modules call.

It ties providers, protectables, the resource graph, the flow executor,
banks, leases and the catalog together for plans, checkpoints (protect,
delete) and restores. Every write to a bank happens under a lease, and
progress is written to the bank as it happens, so a run killed at any line
leaves a checkpoint that a later run marks ``error`` and can delete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import Any, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine import claims
from ansible_collections.karbor.protection.plugins.module_utils.engine import delete as delete_flow
from ansible_collections.karbor.protection.plugins.module_utils.engine import (
    protect as protect_flow)
from ansible_collections.karbor.protection.plugins.module_utils.engine import (
    restore as restore_flow)
from ansible_collections.karbor.protection.plugins.module_utils.engine import scope
from ansible_collections.karbor.protection.plugins.module_utils.engine.operation_logs import (
    OperationLogService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    Provider, ProviderRegistry)
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.resources.protectable import (
    ProtectableRegistry)
from ansible_collections.karbor.protection.plugins.module_utils.resources.selection import (
    ResourceQuery)
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import Catalog
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
    Checkpoint, CheckpointCollection)
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank

DEFAULT_STATE_DIR = '~/.local/share/karbor-protection'


class ProtectionEngine:
    """Facade over providers, catalog, banks and flows for one project."""

    def __init__(self, state_dir: str | None = None, providers_dir: str | None = None,
                 cloud: CloudSession | None = None, max_workers: int = 8,
                 timeout: int = 3600, encryption_key: bytes | None = None) -> None:
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir or DEFAULT_STATE_DIR))
        self.providers = ProviderRegistry(providers_dir)
        self.catalog = Catalog(LocalBank(os.path.join(self.state_dir, 'catalog')))
        self.operation_logs = OperationLogService(self.catalog.operation_logs,
                                                  lambda: self.project_id)
        self.cloud = cloud
        self.max_workers = max_workers
        self.timeout = timeout
        self._protectables: ProtectableRegistry | None = None
        # 32-byte bank key (bank_crypto): every provider's bank is encrypted with it
        self.encryption_key = encryption_key
        self._banks: dict[str, Any] = {}

    # -- context ---------------------------------------------------------------
    def _cloud(self) -> CloudSession:
        if self.cloud is None:
            raise KarborError('This operation needs the cloud; set the cloud/auth options.')
        return self.cloud

    @property
    def project_id(self) -> str:
        return self._cloud().project_id

    @property
    def protectables(self) -> ProtectableRegistry:
        if self._protectables is None:
            self._protectables = ProtectableRegistry(self._cloud())
        return self._protectables

    def provider(self, provider_id: str) -> Provider:
        return self.providers.get(provider_id)

    def bank(self, provider: Provider):
        """The provider's bank, encrypted when a key is set; checked once
        against the bank's encryption marker before anything uses it."""
        from ansible_collections.karbor.protection.plugins.module_utils.storage.encrypted_bank import (
            open_bank)
        bank = self._banks.get(provider.id)
        if bank is None:
            bank = open_bank(provider.bank(self.state_dir, self._cloud), self.encryption_key,
                             'provider %s (%s)' % (provider.name, provider.id))
            self._banks[provider.id] = bank
        return bank

    def checkpoints(self, provider: Provider) -> CheckpointCollection:
        return CheckpointCollection(self.bank(provider), provider.id,
                                    lease_grace=provider.lease_windows()['expire_window'])

    @contextlib.contextmanager
    def name_lock(self, kind: str, name: str) -> Iterator[None]:
        """One run at a time finds-or-creates a named catalog record (two runs
        of one new plan at once would make two plans). A lock file beside the
        local catalog, removed by its holder; the kernel releases it if the
        run dies (that run's file stays, and is reused)."""
        import fcntl  # pylint: disable=import-outside-toplevel
        folder = os.path.join(self.state_dir, 'catalog-locks')
        os.makedirs(folder, exist_ok=True)
        digest = hashlib.sha256(('%s\0%s\0%s' % (kind, self.project_id, name))
                                .encode('utf-8')).hexdigest()
        path = os.path.join(folder, digest)
        while True:
            handle = open(path, 'a', encoding='utf-8')  # pylint: disable=consider-using-with
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                    break  # still the file at that path: ours
            except FileNotFoundError:
                pass
            handle.close()  # its holder removed it while we waited: take the new one
        try:
            yield
        finally:
            os.unlink(path)  # while held, so no lock file is left behind
            handle.close()

    # -- plans -----------------------------------------------------------------
    def resolve_resources(self, provider: Provider, resources: list[dict]) -> list[dict]:
        """Check each plan resource: known type, provider plugin, exists in the cloud."""
        if not resources:
            raise InvalidInput('A plan needs at least one resource (id and type) or a '
                               'resource_query.')
        resolved, seen = [], set()
        for item in resources:
            if not isinstance(item, dict) or not item.get('id') or not item.get('type'):
                raise InvalidInput('Each plan resource needs an id and a type; got %r.' % (item,))
            if item['type'] not in R.RESOURCE_TYPES:
                raise InvalidInput('Resource type %r is not known; use one of: %s.'
                                   % (item['type'], ', '.join(R.RESOURCE_TYPES)))
            provider.plugin_for(item['type'])
            try:
                found = self.protectables.show_instance(item['type'], str(item['id']))
            except NotFound:
                raise NotFound('%s %s does not exist in this project; check the id with '
                               'karbor.protection.protectable_info.' % (item['type'], item['id']))
            entry = {'id': found.id, 'type': found.type, 'name': item.get('name') or found.name}
            extra = dict(found.extra_info)
            extra.update(item.get('extra_info') or {})
            if extra:
                entry['extra_info'] = extra
            if (entry['type'], entry['id']) not in seen:
                seen.add((entry['type'], entry['id']))
                resolved.append(entry)
        return resolved

    def get_plan(self, name_or_id: str) -> dict[str, Any]:
        plan = self.catalog.plans.find(self.project_id, name_or_id)
        if plan is None:
            raise NotFound('Plan %r does not exist in this project; create it with '
                           'karbor.protection.plan.' % name_or_id)
        return plan

    def find_plan(self, name_or_id: str) -> dict[str, Any] | None:
        return self.catalog.plans.find(self.project_id, name_or_id)

    def validate_plan(self, fields: dict[str, Any]) -> dict[str, Any]:
        provider = self.provider(fields['provider_id'])
        fields['provider_id'] = provider.id
        if fields.get('resource_query'):
            ResourceQuery(fields['resource_query'])  # syntax errors now, not at the first backup
            fields['resources'] = (self.resolve_resources(provider, fields['resources'])
                                   if fields.get('resources') else [])
        else:
            fields.pop('resource_query', None)
            fields['resources'] = self.resolve_resources(provider, fields.get('resources') or [])
        fields['parameters'] = provider.validate_parameters(fields.get('parameters'), 'options')
        if fields.get('status') not in (None, R.PLAN_STARTED, R.PLAN_SUSPENDED):
            raise InvalidInput('Plan status must be started or suspended.')
        return fields

    def create_plan(self, fields: dict[str, Any]) -> dict[str, Any]:
        fields = self.validate_plan(dict(fields))
        fields.setdefault('status', R.PLAN_SUSPENDED)
        fields.setdefault('description', '')
        return self.catalog.plans.new(self.project_id, fields)

    def update_plan(self, plan: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        merged = dict(plan)
        merged.update(changes)
        merged = self.validate_plan(merged)
        return self.catalog.plans.save(merged)

    def delete_plan(self, plan: dict[str, Any]) -> None:
        users = [op for op in self.catalog.scheduled_operations.iter(self.project_id)
                 if (op.get('operation_definition') or {}).get('plan_id') == plan['id']]
        if users:
            raise Conflict('Plan %s is used by scheduled operation(s) %s; delete them first.'
                           % (plan['id'], ', '.join(op['id'] for op in users)))
        self.catalog.plans.delete(plan)

    # -- checkpoints: protect (engine/scope.py, engine/protect.py) -------------------
    def plan_graph(self, provider: Provider, plan: dict[str, Any],
                   resources: list[dict] | None = None) -> list[G.GraphNode]:
        return scope.plan_graph(self, provider, plan, resources)

    def protect(self, plan: dict[str, Any], extra_info: dict | None = None,
                wait: bool = True) -> Checkpoint:
        return protect_flow.protect(self, plan, extra_info, wait)

    # -- checkpoints: read ------------------------------------------------------
    def get_checkpoint(self, provider_id: str, checkpoint_id: str) -> Checkpoint:
        provider = self.provider(provider_id)
        return self.checkpoints(provider).get(checkpoint_id, self.project_id)

    def list_checkpoints(self, provider_id: str, **filters: Any) -> list[Checkpoint]:
        provider = self.provider(provider_id)
        return self.checkpoints(provider).list(self.project_id, **filters)

    def find_named_checkpoint(self, plan: dict, name: str) -> Checkpoint | None:
        provider = self.provider(plan['provider_id'])
        return self.checkpoints(provider).find_by_name(plan['id'], self.project_id, name)

    # -- checkpoints: delete (engine/delete.py) -------------------------------------
    def active_readers(self, bank, checkpoint_id: str) -> list[str]:
        return claims.active_readers(bank, checkpoint_id)

    def check_deletable(self, checkpoint: Checkpoint, bank) -> None:
        delete_flow.check_deletable(checkpoint, bank)

    def delete_checkpoint(self, provider_id: str, checkpoint_id: str) -> Checkpoint:
        return delete_flow.delete_checkpoint(self, provider_id, checkpoint_id)

    # -- restores -----------------------------------------------------------------
    def find_restore(self, name: str) -> dict | None:
        matches = self.list_restores(name=name)
        return matches[0] if matches else None

    def list_restores(self, status: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        records = [self.reap_restore_if_dead(record)
                   for record in self.catalog.restores.list(self.project_id, **filters)]
        return [record for record in records if not status or record.get('status') == status]

    def get_restore(self, restore_id: str) -> dict[str, Any]:
        return self.reap_restore_if_dead(self.catalog.restores.get(self.project_id, restore_id))

    def reap_restore_if_dead(self, record: dict[str, Any]) -> dict[str, Any]:
        """A restore left ``in_progress`` by a run that died becomes ``fail``,
        naming what it had already created, so nothing is forgotten."""
        if record.get('status') != R.RESTORE_IN_PROGRESS or not record.get('owner_id'):
            return record
        try:
            bank = self.bank(self.provider(record['provider_id']))
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
        self.catalog.restores.save(record)
        return record

    # -- restores: the run (engine/restore.py) ---------------------------------------
    def verify_checkpoint(self, checkpoint: Checkpoint) -> int:
        return restore_flow.verify_checkpoint(checkpoint)

    def prepare_restore(self, provider_id: str, checkpoint_id: str,
                        parameters: dict | None = None, restore_target: str | None = None):
        return restore_flow.prepare_restore(self, provider_id, checkpoint_id, parameters,
                                            restore_target)

    def restore(self, provider_id: str, checkpoint_id: str, parameters: dict | None = None,
                restore_target: str | None = None, name: str | None = None) -> dict[str, Any]:
        return restore_flow.restore(self, provider_id, checkpoint_id, parameters,
                                    restore_target, name)
