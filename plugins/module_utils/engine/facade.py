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

import concurrent.futures
import contextlib
import hashlib
import os
import threading
import time
from typing import Any, Callable, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import Catalog
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
    Checkpoint, CheckpointCollection, name_digest)
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import (
    CloudSession, wait_for)
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, KarborError, NotFound, ResourceTimeout)
from ansible_collections.karbor.protection.plugins.module_utils.common.faults import fault_point
from ansible_collections.karbor.protection.plugins.module_utils.flow.executor import FlowExecutor
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
from ansible_collections.karbor.protection.plugins.module_utils.resources.protectable import (
    ProtectableRegistry)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext, Progress)
from ansible_collections.karbor.protection.plugins.module_utils.engine.operation_logs import (
    OperationLogService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    Provider, ProviderRegistry)
from ansible_collections.karbor.protection.plugins.module_utils.engine.plans import PlanService
from ansible_collections.karbor.protection.plugins.module_utils.engine.retention import Retention
from ansible_collections.karbor.protection.plugins.module_utils.engine.restores import (
    RestoreService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.scheduled_operations import (
    ScheduledOperationService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.triggers import (
    TriggerService)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.common.schema import merged_parameters
from ansible_collections.karbor.protection.plugins.module_utils.resources.selection import ResourceQuery

DEFAULT_STATE_DIR = '~/.local/share/karbor-protection'
READERS_PREFIX = '/checkpoint-readers/%s/'
DELETE_CLAIM = '/checkpoint-deletes/%s'
RESTORE_NAME_CLAIM = '/restore-names/%s/%s'  # project, name_digest of the name
# How long a starting restore waits for a delete that marked the checkpoint
# `deleting` to look for readers (one listing) and step back or go on.
DELETE_DECISION_WAIT = 10.0


def detach(work: Callable[[], None]) -> bool:
    """Run ``work`` in a detached child process; True in the parent.

    Used for ``wait: false``: the module returns while the child finishes
    the flow under its own lease.
    """
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)  # the first child exits at once; the grandchild works
        return True
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        work()
    finally:
        os._exit(0)
    return False  # pragma: no cover


class ProtectionEngine:
    """Facade over providers, catalog, banks and flows for one project."""

    def __init__(self, state_dir: str | None = None, providers_dir: str | None = None,
                 cloud: CloudSession | None = None, max_workers: int = 8,
                 timeout: int = 3600, encryption_key: bytes | None = None) -> None:
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir or DEFAULT_STATE_DIR))
        self.providers = ProviderRegistry(providers_dir)
        self.catalog = Catalog(LocalBank(os.path.join(self.state_dir, 'catalog')))
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
        self.retention = Retention(self, self.catalog.bank)
        self.restores = RestoreService(self.catalog.restores, lambda: self.project_id,
                                       lambda provider_id: self.bank(self.provider(provider_id)))
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

    # -- checkpoints: protect ---------------------------------------------------
    def query_resources(self, provider: Provider, expression: str) -> list[dict]:
        """What a plan's resource_query selects now, among the instances of
        the types the provider can protect."""
        return ResourceQuery(expression).select(
            self.protectables.describe_instances(provider.plugins))

    def plan_resources(self, provider: Provider, plan: dict[str, Any]) -> list[dict]:
        """The plan's resources for a checkpoint taken now: the fixed ones plus
        what its resource_query selects at this moment."""
        resources = list(plan.get('resources') or [])
        if plan.get('resource_query'):
            have = {(r['type'], r['id']) for r in resources}
            resources += [r for r in self.query_resources(provider, plan['resource_query'])
                          if (r['type'], r['id']) not in have]
            if not resources:
                raise InvalidInput('The resource_query %r of plan %s matches no resource now; '
                                   'nothing was protected. Check it with '
                                   'karbor.protection.protectable_info (query option).'
                                   % (plan['resource_query'], plan.get('name') or plan['id']))
        return resources

    def check_resources_exist(self, resources: list[dict]) -> None:
        """Fail before the bank is touched when a plan resource is gone or
        unusable (a few looked up, many listed once per type)."""
        by_type: dict[str, list[str]] = {}
        for item in resources:
            by_type.setdefault(item['type'], []).append(str(item['id']))
        for rtype, ids in sorted(by_type.items()):
            if rtype not in self.protectables.types():
                continue  # no protectable for the type: the provider's plugin decides
            present = self.protectables.usable_instances(rtype, ids)
            gone = [i for i in ids if i not in present]
            if gone:
                raise NotFound('Plan resource %s %s does not exist in this project any more '
                               '(or cannot be protected in its current status); update the plan '
                               '(check with karbor.protection.protectable_info). Nothing was '
                               'protected.' % (rtype, ', '.join(gone)))

    def plan_graph(self, provider: Provider, plan: dict[str, Any],
                   resources: list[dict] | None = None) -> list[G.GraphNode]:
        """The resource graph of a checkpoint taken now; ``resources`` when the
        caller has already resolved ``plan_resources``."""
        if resources is None:
            resources = self.plan_resources(provider, plan)
        # A resource_query's picks were listed (usable ones only) just now:
        # only the plan's fixed resources still need the existence check.
        self.check_resources_exist(list(plan.get('resources') or []) if plan.get('resource_query')
                                   else resources)
        start = [Resource.from_dict(r) for r in resources]
        roots = G.build_graph(start, self.protectables.get_dependents)
        for res in G.resources(roots):
            provider.plugin_for(res.type)
        return roots

    def protect(self, plan: dict[str, Any], extra_info: dict | None = None,
                wait: bool = True) -> Checkpoint:
        """Create a checkpoint of ``plan``. Everything that can be checked is
        checked before the bank is touched, so bad input leaves nothing."""
        provider = self.provider(plan['provider_id'])
        resources = self.plan_resources(provider, plan)
        roots = self.plan_graph(provider, plan, resources)
        if plan.get('resource_query'):
            # resolved once, recorded in the checkpoint as the plan it protected
            plan = dict(plan, resources=resources, resource_query=None,
                        selected_by=plan['resource_query'])
        collection = self.checkpoints(provider)
        bank = collection.bank
        lease = Lease(bank, **provider.lease_windows())
        extra = {'created_by': 'manual'}
        extra.update(extra_info or {})
        operations = self._operations('protect', provider, roots)
        try:
            if wait:  # (a detached run forks: threads reading ahead would not follow it)
                self._read_ahead(provider, plan, operations, bank)
            # The lease goes out with the checkpoint's first writes (one round
            # trip); a reader never reaps a checkpoint younger than the lease
            # window, so it cannot be taken for a zombie in between.
            checkpoint = collection.create(plan, self.project_id, lease.owner_id, extra, fields={
                'resource_graph': G.serialize(roots),
                'resources_status': {r.key: R.RES_PROTECTING for r in G.resources(roots)}},
                alongside=lease.acquire)
        except BaseException:
            lease.release()
            self._drop_read_ahead(operations)
            raise
        try:
            log = self.operation_logs.start(
                'protect', R.CP_PROTECTING, checkpoint.data['created_at'], extra,
                checkpoint_id=checkpoint.id, plan_id=plan['id'], provider_id=provider.id,
                scheduled_operation_id=extra.get('scheduled_operation_id'))
        except BaseException:
            self._drop_read_ahead(operations)
            raise

        def work() -> None:
            try:
                self._run_protect(provider, plan, roots, checkpoint, lease, log, operations)
            finally:
                self._drop_read_ahead(operations)

        if wait:
            work()
        elif detach(self._after_fork(lease, work)):
            return checkpoint
        return checkpoint

    def _after_fork(self, lease: Lease, work: Callable[[], None]) -> Callable[[], None]:
        def child() -> None:
            if self.cloud is not None:
                self.cloud.reset()
            for provider in self.providers.list():
                if provider._bank is not None:
                    provider._bank.reset()
            lease.start_renewal()
            work()
        return child

    @staticmethod
    def _operations(operation: str, provider: Provider,
                    roots: list[G.GraphNode]) -> dict[Resource, Operation]:
        return {node.value: provider.plugin_for(node.value.type).operation_for(
            operation, node.value) for node in G.iter_nodes(roots)}

    def _read_ahead(self, provider: Provider, plan: dict,
                    operations: dict[Resource, Operation], bank) -> None:
        """Let plugins start reading while the checkpoint's first writes are
        in flight (their contexts have no checkpoint: they cannot write)."""
        parameters = plan.get('parameters') or {}
        for res, op in operations.items():
            if not op.defines('read_ahead'):
                continue
            plugin = provider.plugin_for(res.type)
            op.read_ahead(OperationContext(
                operation='protect', resource=res,
                parameters=merged_parameters(parameters, res.type, res.id), checkpoint=None,
                section=None, cloud=self.cloud, new_resources={}, progress=Progress(),
                timeout=self.timeout, config=plugin.config), bank)

    @staticmethod
    def _drop_read_ahead(operations: dict[Resource, Operation]) -> None:
        for op in operations.values():
            op.drop_read_ahead()

    def _flow_contexts(self, operation: str, provider: Provider, roots: list[G.GraphNode],
                       checkpoint: Checkpoint, parameters: dict, progress: Progress,
                       lease: Lease, set_status: Callable[[Resource, str, str | None], None],
                       restore: dict | None = None,
                       on_new_resource: Callable[[], None] | None = None,
                       lock: Any = None, operations: dict[Resource, Operation] | None = None):
        new_resources: dict[str, str] = {}
        lock = lock or threading.Lock()
        contexts = {}
        operations = operations or self._operations(operation, provider, roots)
        for node in G.iter_nodes(roots):
            res = node.value
            plugin = provider.plugin_for(res.type)
            contexts[res] = OperationContext(
                operation=operation, resource=res,
                parameters=merged_parameters(parameters or {}, res.type, res.id),
                checkpoint=checkpoint, section=checkpoint.resource_section(res.id),
                cloud=self.cloud, new_resources=new_resources, progress=progress,
                timeout=self.timeout, children=[c.value for c in node.child_nodes],
                restore=restore, check_lease=lease.check_valid, config=plugin.config, lock=lock,
                on_new_resource=on_new_resource,
                set_status=(lambda status, reason=None, _res=res: set_status(_res, status, reason)))
        return contexts, operations, new_resources

    def _run_protect(self, provider: Provider, plan: dict, roots: list[G.GraphNode],
                     checkpoint: Checkpoint, lease: Lease, log: dict,
                     operations: dict[Resource, Operation]) -> None:
        progress = Progress()
        all_resources = G.resources(roots)
        progress.add(resources_total=len(all_resources))
        index = IndexWriter(checkpoint, progress)

        def set_status(res: Resource, status: str, reason: str | None = None) -> None:
            index.resource_status(res, status, reason)

        contexts, operations, _new = self._flow_contexts(
            'protect', provider, roots, checkpoint, plan.get('parameters') or {}, progress,
            lease, set_status, operations=operations)

        def run_hook(res: Resource, hook: str, operation) -> None:
            lease.check_valid()
            getattr(operation, hook)(contexts[res])
            if hook == 'on_main':
                fault_point('protect.main')
            if hook == 'on_complete':
                progress.add(resources_done=1)
                set_status(res, R.RES_AVAILABLE)

        def on_failure(res: Resource, hook: str, exc: BaseException) -> None:
            set_status(res, R.RES_ERROR, '%s: %s' % (hook, getattr(exc, 'msg', None) or exc))

        status, error = R.CP_AVAILABLE, None
        fault_point('protect.prepare')
        try:
            FlowExecutor(self.max_workers).run(roots, operations, run_hook, on_failure,
                                               always=('on_complete',))
            fault_point('protect.complete')
        except KarborError as exc:  # FlowError included
            status, error = R.CP_ERROR, exc.msg
        except Exception as exc:  # pylint: disable=broad-except
            status, error = R.CP_ERROR, 'Unexpected %s: %s' % (type(exc).__name__, exc)
        finally:
            # The lease may go with the final index write while the checkpoint
            # is well inside the grace in which no reader reaps it (leaseless
            # or not); older ones keep it until the index says how they ended.
            age = (timeutil.now() - checkpoint.created).total_seconds()
            early = age < lease.expire_window / 2
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                released = pool.submit(lease.release) if early else None
                index.finish(status, error)
                fault_point('protect.index')
                released = released or pool.submit(lease.release)
                self.operation_logs.finish(log, status, error)
                released.result()

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

    # -- checkpoints: delete ------------------------------------------------------
    def active_readers(self, bank, checkpoint_id: str) -> list[str]:
        readers = []
        for key in bank.iter_all(READERS_PREFIX % checkpoint_id):
            owner = key.rsplit('/', 1)[1]
            if Lease.is_alive(bank, owner, timeutil.wall_clock()):
                readers.append(owner)
            else:
                bank.delete(key)
        return readers

    def check_deletable(self, checkpoint: Checkpoint, bank) -> None:
        if checkpoint.status == R.CP_PROTECTING:
            raise Conflict('Checkpoint %s is still protecting; wait until it is available or '
                           'error (a run that died is detected once its lease expires).'
                           % checkpoint.id)
        if checkpoint.status == R.CP_DELETING:
            raise Conflict('Checkpoint %s is being deleted by another run.' % checkpoint.id)
        if self.active_readers(bank, checkpoint.id):
            raise Conflict('Checkpoint %s is being restored; delete it when the restore ends.'
                           % checkpoint.id)

    def delete_checkpoint(self, provider_id: str, checkpoint_id: str) -> Checkpoint:
        provider = self.provider(provider_id)
        collection = self.checkpoints(provider)
        checkpoint = collection.get(checkpoint_id, self.project_id)
        if checkpoint.status == R.CP_DELETED:
            # what a run that died at the very end left: indices and its claim
            collection.remove_indices(checkpoint)
            self._drop_dead_claim(collection.bank, DELETE_CLAIM % checkpoint.id)
            return checkpoint
        self.check_deletable(checkpoint, collection.bank)
        roots = G.deserialize(checkpoint.resource_graph) if checkpoint.resource_graph else []
        for res in G.resources(roots):
            provider.plugin_for(res.type)
        lease = Lease(collection.bank, **provider.lease_windows()).acquire()
        log = None
        progress = Progress()
        progress.add(resources_total=len(G.resources(roots)))

        def set_status(res: Resource, status: str, reason: str | None = None) -> None:
            checkpoint.resource_section(res.id).put('status', status)

        contexts, operations, _new = self._flow_contexts(
            'delete', provider, roots, checkpoint, {}, progress, lease, set_status)
        claim = None
        try:
            for res, operation in operations.items():
                operation.precheck(contexts[res])
            claim = self._take_claim(collection.bank, DELETE_CLAIM % checkpoint.id, lease.owner_id,
                                     'Checkpoint %s is being deleted by another run.' % checkpoint.id)
            checkpoint = collection.get(checkpoint.id)  # as it is now that it is ours
            self.check_deletable(checkpoint, collection.bank)
            previous = checkpoint.status
            checkpoint.data['owner_id'] = lease.owner_id
            checkpoint.set_status(R.CP_DELETING)
            if self.active_readers(collection.bank, checkpoint.id):
                # a restore marked itself between our check and our status:
                # it goes on (it read `available`), we step back
                checkpoint.set_status(previous)
                raise Conflict('Checkpoint %s is being restored; delete it when the restore '
                               'ends.' % checkpoint.id)
        except BaseException:
            if claim:
                collection.bank.delete(claim)
            lease.release()
            raise
        try:
            log = self.operation_logs.start(
                'delete', R.CP_DELETING, timeutil.isoformat(timeutil.now()),
                checkpoint_id=checkpoint.id, plan_id=checkpoint.plan.get('id'),
                provider_id=provider.id)
            fault_point('delete.prepare')

            def run_hook(res: Resource, hook: str, operation) -> None:
                lease.check_valid()
                getattr(operation, hook)(contexts[res])
                if hook == 'on_main':
                    fault_point('delete.main')

            FlowExecutor(self.max_workers).run(roots, operations, run_hook)
            fault_point('delete.complete')
            collection.mark_deleted(checkpoint)
            self.operation_logs.finish(log, R.CP_DELETED, None)
        except KarborError as exc:
            checkpoint.set_status(R.CP_ERROR_DELETING, exc.msg)
            if log:
                self.operation_logs.finish(log, R.CP_ERROR_DELETING, exc.msg)
            raise
        finally:
            collection.bank.delete(claim)
            lease.release()
        return checkpoint

    @staticmethod
    def _drop_dead_claim(bank, key: str) -> bool:
        """Remove a claim whose run died; True while a live run holds it."""
        try:
            holder = bank.get_text(key)
        except NotFound:
            return False
        if Lease.is_alive(bank, holder, timeutil.wall_clock()):
            return True
        bank.delete(key)
        return False

    @classmethod
    def _take_claim(cls, bank, key: str, owner_id: str, busy: str) -> str:
        """One run at a time (a delete of a checkpoint, a named restore): a
        claim holding the run's lease id, taken over only from a dead run;
        ``busy`` is the Conflict's message while a live run holds it."""
        for _attempt in range(2):
            try:
                bank.claim(key, owner_id)
                return key
            except Conflict:
                if cls._drop_dead_claim(bank, key):
                    break  # a live run holds it
        raise Conflict(busy)

    # -- restores -----------------------------------------------------------------
    def verify_checkpoint(self, checkpoint: Checkpoint) -> int:
        """Read back every object of the checkpoint; raises BankCorrupted."""
        count = 0
        bank = checkpoint.bank
        for key in bank.iter_all('/checkpoints/%s/' % checkpoint.id):
            bank.get(key)
            count += 1
        return count

    def prepare_restore(self, provider_id: str, checkpoint_id: str,
                        parameters: dict | None = None, restore_target: str | None = None):
        """Every check a restore makes before it touches anything; check mode
        stops here."""
        provider = self.provider(provider_id)
        collection = self.checkpoints(provider)
        checkpoint = collection.get(checkpoint_id, self.project_id)
        if checkpoint.status != R.CP_AVAILABLE:
            raise Conflict('Checkpoint %s is %s; only available checkpoints can be restored.'
                           % (checkpoint.id, checkpoint.status))
        parameters = provider.validate_parameters(parameters, 'restore')
        if restore_target:
            raise InvalidInput('restore_target (restoring into another cloud) is not supported; '
                               'run the restore with that cloud\'s credentials and the same bank.')
        roots = G.deserialize(checkpoint.resource_graph or '[{}, []]')
        for res in G.resources(roots):
            provider.plugin_for(res.type)
        return provider, collection, checkpoint, parameters, roots

    def restore(self, provider_id: str, checkpoint_id: str, parameters: dict | None = None,
                restore_target: str | None = None, name: str | None = None) -> dict[str, Any]:
        provider, collection, checkpoint, parameters, roots = self.prepare_restore(
            provider_id, checkpoint_id, parameters, restore_target)
        self.verify_checkpoint(checkpoint)
        bank = collection.bank
        lease = Lease(bank, **provider.lease_windows()).acquire()
        reader_key = READERS_PREFIX % checkpoint.id + lease.owner_id
        name_claim = None
        record = None
        try:
            if name:
                # two runs of one named restore at once must not both restore
                name_claim = self._take_claim(
                    bank, RESTORE_NAME_CLAIM % (self.project_id, name_digest(bank, name)),
                    lease.owner_id, 'A restore named %r is running in another run; run again '
                    'when it has finished.' % name)
                previous = self.restores.find(name)
                if previous and previous['status'] == R.RESTORE_SUCCESS:
                    return dict(previous, _reused=True)  # finished while this run started
            bank.put(reader_key, {'since': timeutil.isoformat(timeutil.now())})
            self._wait_for_delete_decision(collection, checkpoint.id)
            record = self.catalog.restores.new(self.project_id, {
                'name': name, 'provider_id': provider.id, 'checkpoint_id': checkpoint.id,
                'restore_target': restore_target, 'parameters': parameters,
                'status': R.RESTORE_IN_PROGRESS, 'owner_id': lease.owner_id,
                'resources_status': {}, 'resources_reason': {}, 'new_resources': {}})
            self._run_restore(provider, roots, checkpoint, record, parameters, lease)
        finally:
            bank.delete(reader_key)
            if name_claim:
                bank.delete(name_claim)
            lease.release()
        return record

    @staticmethod
    def _wait_for_delete_decision(collection: CheckpointCollection, checkpoint_id: str) -> None:
        """After the restore's reader marker is in the bank: go on only if the
        checkpoint is still available. A delete that set `deleting` before
        it looked for readers sees the marker and steps back, or saw none and
        goes on; waiting for its decision makes one of the two win, where
        giving up at once let both give up."""
        try:
            current = wait_for('checkpoint %s' % checkpoint_id,
                               lambda: collection.get(checkpoint_id),
                               lambda cp: cp.status != R.CP_DELETING, lambda cp: None,
                               DELETE_DECISION_WAIT, interval=0.2, max_interval=1.0)
        except ResourceTimeout:
            raise Conflict('Checkpoint %s is being deleted; it cannot be restored.'
                           % checkpoint_id)
        if current.status != R.CP_AVAILABLE:
            raise Conflict('Checkpoint %s changed state while the restore started (it is %s).'
                           % (checkpoint_id, current.status))

    def _run_restore(self, provider: Provider, roots: list[G.GraphNode], checkpoint: Checkpoint,
                     record: dict, parameters: dict, lease: Lease) -> None:
        progress = Progress()
        all_resources = G.resources(roots)
        progress.add(resources_total=len(all_resources))
        lock = threading.Lock()
        log = self.operation_logs.start(
            'restore', R.RESTORE_IN_PROGRESS, record['created_at'],
            checkpoint_id=checkpoint.id, plan_id=checkpoint.plan.get('id'),
            provider_id=provider.id, restore_id=record['id'])

        def save(res: Resource | None = None, status: str | None = None,
                 reason: str | None = None) -> None:
            with lock:
                if res is not None:
                    record['resources_status'][res.key] = status
                    if reason:
                        record['resources_reason'][res.key] = reason
                record['new_resources'] = dict(new_resources)
                record['progress'] = progress.to_dict()
                self.catalog.restores.save(record)

        def set_status(res: Resource, status: str, reason: str | None = None) -> None:
            save(res, status, reason)

        contexts, operations, new_resources = self._flow_contexts(
            'restore', provider, roots, checkpoint, parameters, progress, lease, set_status,
            restore=record, on_new_resource=save, lock=lock)
        with lock:
            for res in all_resources:
                record['resources_status'][res.key] = R.RES_RESTORING
        save()
        fault_point('restore.prepare')

        def run_hook(res: Resource, hook: str, operation) -> None:
            getattr(operation, hook)(contexts[res])
            if hook == 'on_main':
                fault_point('restore.main')
            if hook == 'on_complete':
                progress.add(resources_done=1)
                set_status(res, R.RES_AVAILABLE)

        def on_failure(res: Resource, hook: str, exc: BaseException) -> None:
            set_status(res, R.RES_ERROR, '%s: %s' % (hook, getattr(exc, 'msg', None) or exc))

        error = None
        try:
            FlowExecutor(self.max_workers).run(roots, operations, run_hook, on_failure,
                                               always=('on_complete',))
            fault_point('restore.complete')
        except KarborError as exc:
            error = exc.msg
        except Exception as exc:  # pylint: disable=broad-except
            error = 'Unexpected %s: %s' % (type(exc).__name__, exc)
        with lock:
            for res in all_resources:
                if record['resources_status'].get(res.key) == R.RES_RESTORING:
                    record['resources_status'][res.key] = R.RES_ERROR
                    record['resources_reason'].setdefault(
                        res.key, 'not restored because a resource it depends on failed')
            record['new_resources'] = dict(new_resources)
            record['status'] = R.RESTORE_FAIL if error else R.RESTORE_SUCCESS
            record['error'] = error
            record['progress'] = progress.to_dict()
            self.catalog.restores.save(record)
        fault_point('restore.index')
        self.operation_logs.finish(log, record['status'], error)


class IndexWriter:
    """Keeps a protecting checkpoint's index.json and its resources' status
    objects current without bank writes per resource on the critical path:
    everything is written at most every ``interval`` seconds (at once for a
    failure), and at the end all together in one round trip."""

    def __init__(self, checkpoint: Checkpoint, progress: Progress, interval: float = 5.0) -> None:
        self.checkpoint = checkpoint
        self.progress = progress
        self.interval = interval
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._unwritten: dict[str, str] = {}  # resource id -> status object to write

    def resource_status(self, res: Resource, status: str, reason: str | None) -> None:
        with self._lock:
            data = self.checkpoint.data
            data['resources_status'][res.key] = status
            self._unwritten[res.id] = status
            if reason:
                data.setdefault('resources_reason', {})[res.key] = reason
            if reason or time.monotonic() - self._last >= self.interval:
                self._commit()

    def finish(self, status: str, error: str | None) -> None:
        with self._lock:
            self.checkpoint.data['status'] = status
            if error:
                self.checkpoint.data['error'] = error
            self._commit()

    def _commit(self) -> None:
        self.checkpoint.data['progress'] = self.progress.to_dict()
        writes = [lambda rid=rid, value=value: self.checkpoint.resource_section(rid).put(
            'status', value) for rid, value in self._unwritten.items()]
        writes.append(self.checkpoint.commit)
        with concurrent.futures.ThreadPoolExecutor(min(len(writes), 16)) as pool:
            for future in [pool.submit(write) for write in writes]:
                future.result()
        self._unwritten.clear()
        self._last = time.monotonic()
