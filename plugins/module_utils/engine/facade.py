# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The protection engine: the one entry point modules call.

It ties providers, protectables, the resource graph, the flow executor,
banks, leases and the catalog together for plans, checkpoints (protect,
delete, verify) and restores. Every write to a bank happens under a lease, and
progress is written to the bank as it happens, so a run killed at any line
leaves a checkpoint that a later run marks ``error`` and can delete.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import KarborError
from ansible_collections.karbor.protection.plugins.module_utils.engine import claims
from ansible_collections.karbor.protection.plugins.module_utils.engine import copy as copy_flow
from ansible_collections.karbor.protection.plugins.module_utils.engine import delete as delete_flow
from ansible_collections.karbor.protection.plugins.module_utils.engine import (
    protect as protect_flow)
from ansible_collections.karbor.protection.plugins.module_utils.engine import (
    restore as restore_flow)
from ansible_collections.karbor.protection.plugins.module_utils.engine import scope
from ansible_collections.karbor.protection.plugins.module_utils.engine import (
    verify as verify_flow)
from ansible_collections.karbor.protection.plugins.module_utils.engine.catalog_location import (
    chosen_mode, open_catalog_bank)
from ansible_collections.karbor.protection.plugins.module_utils.engine.operation_logs import (
    OperationLogService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    Provider, ProviderRegistry)
from ansible_collections.karbor.protection.plugins.module_utils.engine.plans import PlanService
from ansible_collections.karbor.protection.plugins.module_utils.engine.restores import (
    RestoreService, drop_temporary)
from ansible_collections.karbor.protection.plugins.module_utils.engine.retention import Retention
from ansible_collections.karbor.protection.plugins.module_utils.engine.scheduled_operations import (
    ScheduledOperationService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.triggers import (
    TriggerService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.verifications import (
    VerificationService)
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.resources.discovery import (
    ProtectableRegistry)
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank_mutex import BankMutex
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import Catalog
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
    Checkpoint, CheckpointCollection)

DEFAULT_STATE_DIR = '~/.local/share/karbor-protection'


class ProtectionEngine:
    """Facade over providers, catalog, banks and flows for one project."""

    def __init__(self, state_dir: str | None = None, providers_dir: str | None = None,
                 cloud: CloudSession | None = None, max_workers: int = 8,
                 timeout: int = 3600, encryption_key: bytes | None = None,
                 catalog: str = 'auto', catalog_container: str | None = None) -> None:
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir or DEFAULT_STATE_DIR))
        self.providers = ProviderRegistry(providers_dir)
        self.catalog_mode = catalog
        # opened on first use (engine/catalog_location.py): Swift by default, so no runner
        # keeps anything a later run needs
        self.catalog = Catalog(lambda: open_catalog_bank(catalog, catalog_container,
                                                         self.state_dir, self.cloud,
                                                         self.encryption_key))
        # services over the catalog; each reaches the cloud (project_id) only when needed
        self.operation_logs = OperationLogService(self.catalog.operation_logs,
                                                  lambda: self.project_id)
        self.plans = PlanService(self.catalog.plans, lambda: self.project_id,
                                 self.catalog.scheduled_operations, self.provider,
                                 lambda: self.protectables)
        self.triggers = TriggerService(self.catalog.triggers, lambda: self.project_id,
                                       self.catalog.scheduled_operations)
        self.scheduled_operations = ScheduledOperationService(
            self.catalog.scheduled_operations, lambda: self.project_id, self.plans,
            self.triggers, self.provider)
        self.retention = Retention(self, lambda: self.catalog.bank)
        self.restores = RestoreService(self.catalog.restores, lambda: self.project_id,
                                       lambda provider_id: self.bank(self.provider(provider_id)),
                                       self._drop_temporary)
        self.verifications = VerificationService(self.catalog.verifications,
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

    def _drop_temporary(self, kind: str, object_id: str) -> None:
        drop_temporary(self._cloud(), kind, object_id)

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
        of one new plan at once would make two plans), on any machine: a
        mutex object in the catalog bank (storage/bank_mutex.py), named by a
        digest of the name (keyed when the catalog is encrypted)."""
        bank = self.catalog.bank
        digest = bank.content_digest(('%s\0%s' % (kind, name)).encode('utf-8'))
        key = '/locks/%s/%s/%s' % (kind, self.project_id, digest)
        with BankMutex(bank, key, 'the %s named %r' % (kind.rstrip('s'), name)).held(
                timeout=max(self.timeout, 60)):
            yield

    def migrate_catalog(self, source_state_dir: str | None, dry_run: bool) -> dict[str, Any]:
        """Copy a local catalog's objects of this project into this engine's catalog."""
        from ansible_collections.karbor.protection.plugins.module_utils.engine import (
            catalog_migration)
        source_dir = os.path.abspath(os.path.expanduser(source_state_dir or self.state_dir))
        if chosen_mode(self.catalog_mode, self.cloud) == 'local':
            raise KarborError('This run keeps its catalog in %s/catalog (catalog: local, '
                              'or a cloud without an object store), so there is nowhere to move it. '
                              'Run with catalog: swift on a cloud with Swift.' % self.state_dir)
        source = catalog_migration.open_source(source_dir, self.encryption_key)
        return catalog_migration.migrate(source, self.catalog.bank, self.project_id, dry_run)

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

    # -- restores: the run (engine/restore.py) ---------------------------------------
    def verify_checkpoint(self, checkpoint: Checkpoint) -> int:
        return restore_flow.verify_checkpoint(checkpoint)

    def prepare_restore(self, provider_id: str, checkpoint_id: str,
                        parameters: dict | None = None, restore_target: str | None = None,
                        target: ProtectionEngine | None = None):
        return restore_flow.prepare_restore(self, provider_id, checkpoint_id, parameters,
                                            restore_target, target)

    def restore(self, provider_id: str, checkpoint_id: str, parameters: dict | None = None,
                restore_target: str | None = None, name: str | None = None,
                target: ProtectionEngine | None = None,
                keep_failed: bool = False) -> dict[str, Any]:
        return restore_flow.restore(self, provider_id, checkpoint_id, parameters,
                                    restore_target, name, target, keep_failed)

    # -- verifications (engine/verify.py) ----------------------------------------
    def prepare_verify(self, provider_id: str, checkpoint_id: str, level: str = 'bank',
                       data_subset: int | None = None):
        return verify_flow.prepare_verify(self, provider_id, checkpoint_id, level, data_subset)

    def verify(self, provider_id: str, checkpoint_id: str, level: str = 'bank',
               data_subset: int | None = None, dry_run: bool = False,
               target: ProtectionEngine | None = None) -> dict[str, Any]:
        """Verify a checkpoint; ``target``: the engine of the project or cloud
        a drill restores into (level drill only)."""
        return verify_flow.verify(self, provider_id, checkpoint_id, level, data_subset, dry_run,
                                  target)

    # -- copies (engine/copy.py) -------------------------------------------------
    def copy_checkpoints(self, target: 'ProtectionEngine', provider_id: str,
                         target_provider_id: str, checkpoint_ids: list[str],
                         origin: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Copy checkpoints of this engine's provider into ``target``'s
        provider (another container, project or cloud)."""
        return copy_flow.copy(self, target, provider_id, target_provider_id, checkpoint_ids,
                              origin, dry_run)
