# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore: a checkpoint back into the cloud.

The checkpoint is read back whole (every checksum) before anything is
created; a reader marker keeps deletes away while the restore runs; the
restore record is saved at every change, so a run that dies never forgets
what it had created.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import wait_for
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, Conflict, InvalidInput, KarborError, ResourceTimeout)
from ansible_collections.karbor.protection.plugins.module_utils.common.faults import fault_point
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.engine.claims import (
    READERS_PREFIX, RESTORE_NAME_CLAIM, take_claim)
from ansible_collections.karbor.protection.plugins.module_utils.engine.run import FlowRun
from ansible_collections.karbor.protection.plugins.module_utils.engine.target import (
    elsewhere_target, target_description)
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
    Checkpoint, CheckpointCollection, name_digest)
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease

# How long a starting restore waits for a delete that marked the checkpoint
# `deleting` to look for readers (one listing) and step back or go on.
DELETE_DECISION_WAIT = 10.0


def verify_checkpoint(checkpoint: Checkpoint) -> int:
    """Read back every object of the checkpoint; raises BankCorrupted
    naming the first damaged one."""
    count, problems = checkpoint.bank.check_all('/checkpoints/%s/' % checkpoint.id)
    if problems:
        key = min(problems)
        raise BankCorrupted(problems[key], key=key)
    return count


def prepare_restore(engine: Any, provider_id: str, checkpoint_id: str,
                    parameters: dict | None = None, restore_target: str | None = None,
                    target: Any = None):
    """Every check a restore makes before it touches anything; check mode
    stops here. ``target``: the engine of another project or cloud to
    restore into (the bank and the records stay the source's)."""
    if restore_target:
        raise InvalidInput('restore_target (Karbor\'s target URL) is not used: give the '
                           'credentials of the project or cloud to restore into with '
                           'target_cloud or target_auth.')
    provider = engine.provider(provider_id)
    collection = engine.checkpoints(provider)
    checkpoint = collection.get_available(checkpoint_id, engine.project_id, 'restored')
    parameters = provider.validate_parameters(parameters, 'restore')
    roots = G.deserialize(checkpoint.resource_graph or '[{}, []]')
    for res in G.resources(roots):
        provider.plugin_for(res.type)
    target = elsewhere_target(engine, target)
    if target is not None:
        # what cannot come along (data kept in the source cloud) fails now, check mode too
        FlowRun(engine, 'restore', provider, roots, checkpoint, Lease(collection.bank),
                lambda *args: None, parameters=parameters, check_lease=False,
                target=target).precheck()
    return provider, collection, checkpoint, parameters, roots, target


def restore(engine: Any, provider_id: str, checkpoint_id: str, parameters: dict | None = None,
            restore_target: str | None = None, name: str | None = None,
            target: Any = None, keep_failed: bool = False) -> dict[str, Any]:
    """Restore a checkpoint (into ``target``'s project when given: see
    prepare_restore); the restore record. ``keep_failed``: what a resource
    that fails had made is kept for a look instead of deleted."""
    provider, collection, checkpoint, parameters, roots, target = prepare_restore(
        engine, provider_id, checkpoint_id, parameters, restore_target, target)
    verify_checkpoint(checkpoint)
    bank = collection.bank
    lease = Lease(bank, **provider.lease_windows()).acquire()
    reader_key = None
    name_claim = None
    record = None
    try:
        if name:
            # two runs of one named restore at once must not both restore
            name_claim = take_claim(
                bank, RESTORE_NAME_CLAIM % (engine.project_id, name_digest(bank, name)),
                lease.owner_id, 'A restore named %r is running in another run; run again '
                'when it has finished.' % name)
            named = engine.restores.list(name=name)
            previous = named[0] if named else None
            if previous and previous['status'] == R.RESTORE_SUCCESS:
                return dict(previous, _reused=True)  # finished while this run started
        reader_key = mark_reader(collection, checkpoint.id, lease.owner_id)
        record = engine.catalog.restores.new(engine.project_id, {
            'name': name, 'provider_id': provider.id, 'checkpoint_id': checkpoint.id,
            'restore_target': target_description(target), 'parameters': parameters,
            'keep_failed': bool(keep_failed),
            'status': R.RESTORE_IN_PROGRESS, 'owner_id': lease.owner_id,
            'resources_status': {}, 'resources_reason': {}, 'new_resources': {}})
        _run_flow(engine, provider, roots, checkpoint, record, parameters, lease, target)
    finally:
        if reader_key:
            bank.delete(reader_key)
        if name_claim:
            bank.delete(name_claim)
        lease.release()
    return record


def mark_reader(collection: CheckpointCollection, checkpoint_id: str, owner_id: str) -> str:
    """Mark the run ``owner_id`` (its lease) as reading the checkpoint, so
    deletes wait for it (restore, verify); the marker's key, to delete when
    the run ends. Conflict, with the marker removed, when a delete won."""
    key = READERS_PREFIX % checkpoint_id + owner_id
    collection.bank.put(key, {'since': timeutil.isoformat(timeutil.now())})
    try:
        wait_for_delete_decision(collection, checkpoint_id)
    except BaseException:
        collection.bank.delete(key)
        raise
    return key


@contextlib.contextmanager
def reading(provider: Any, collection: CheckpointCollection, checkpoint_id: str,
            dry_run: bool = False) -> Iterator[Lease]:
    """A run that reads a checkpoint and changes nothing in it (verify, copy):
    under its own lease with a reader marker, so that deletes wait for it; in
    ``dry_run`` nothing is written (the lease is not taken)."""
    lease = Lease(collection.bank, **provider.lease_windows())
    if dry_run:
        yield lease
        return
    lease.acquire()
    reader_key = None
    try:
        reader_key = mark_reader(collection, checkpoint_id, lease.owner_id)
        yield lease
    finally:
        if reader_key:
            collection.bank.delete(reader_key)
        lease.release()


def wait_for_delete_decision(collection: CheckpointCollection, checkpoint_id: str) -> None:
    """After the restore's reader marker is in the bank: go on only if the
    checkpoint is still available. A delete that set `deleting` before it
    looked for readers sees the marker and steps back, or saw none and goes
    on; waiting for its decision makes one of the two win, where giving up
    at once let both give up."""
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


class _RestoreRecord:
    """The restore record, saved at every change of a resource's status and
    at every resource created."""

    def __init__(self, store: Any, record: dict[str, Any], lock: Any) -> None:
        self.store = store
        self.record = record
        self.lock = lock
        self.run: FlowRun | None = None

    def save(self, res: Resource | None = None, status: str | None = None,
             reason: str | None = None) -> None:
        with self.lock:
            if res is not None:
                self.record['resources_status'][res.key] = status
                if reason:
                    self.record['resources_reason'][res.key] = reason
            self._save_locked()

    def _save_locked(self) -> None:
        self.record['new_resources'] = dict(self.run.new_resources)
        self.record['progress'] = self.run.progress.to_dict()
        self.store.save(self.record)

    def mark_all(self, status: str) -> None:
        with self.lock:
            for res in self.run.resources:
                self.record['resources_status'][res.key] = status
        self.save()

    def finish(self, error: str | None) -> None:
        """Resources left restoring were skipped because one they depend on failed."""
        with self.lock:
            for res in self.run.resources:
                if self.record['resources_status'].get(res.key) == R.RES_RESTORING:
                    self.record['resources_status'][res.key] = R.RES_ERROR
                    self.record['resources_reason'].setdefault(
                        res.key, 'not restored because a resource it depends on failed')
            self.record['status'] = R.RESTORE_FAIL if error else R.RESTORE_SUCCESS
            self.record['error'] = error
            self._save_locked()


def _run_flow(engine: Any, provider: Any, roots: list[G.GraphNode], checkpoint: Checkpoint,
              record: dict, parameters: dict, lease: Lease, target: Any = None) -> None:
    lock = threading.Lock()
    saved = _RestoreRecord(engine.catalog.restores, record, lock)
    run = FlowRun(engine, 'restore', provider, roots, checkpoint, lease, saved.save,
                  parameters=parameters, check_lease=False, restore=record, lock=lock,
                  on_new_resource=saved.save, target=target)
    saved.run = run
    try:
        run.precheck()  # bad restore parameters fail before anything is made
    except KarborError as exc:
        saved.finish(exc.msg)
        raise
    run.start_log(R.RESTORE_IN_PROGRESS, record['created_at'], restore_id=record['id'])
    saved.mark_all(R.RES_RESTORING)
    error = run.execute_capturing()
    saved.finish(error)
    fault_point('restore.index')
    run.finish_log(record['status'], error)
