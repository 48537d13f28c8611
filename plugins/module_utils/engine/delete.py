# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Delete: free what a checkpoint made (backups, images, bank objects) and
mark it deleted. One run at a time holds the checkpoint's delete claim; a
restore that is reading the checkpoint wins over a delete."""

from __future__ import annotations

from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.engine.claims import (
    DELETE_CLAIM, active_readers, drop_dead_claim, take_claim)
from ansible_collections.karbor.protection.plugins.module_utils.engine.run import FlowRun
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
    Checkpoint, CheckpointCollection)
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease


def check_deletable(checkpoint: Checkpoint, bank: Any) -> None:
    """Refuse a delete that would pull a checkpoint from under a live run."""
    if checkpoint.status == R.CP_PROTECTING:
        raise Conflict('Checkpoint %s is still protecting; wait until it is available or '
                       'error (a run that died is detected once its lease expires).'
                       % checkpoint.id)
    if checkpoint.status == R.CP_DELETING:
        raise Conflict('Checkpoint %s is being deleted by another run.' % checkpoint.id)
    if active_readers(bank, checkpoint.id):
        raise Conflict('Checkpoint %s is being restored; delete it when the restore ends.'
                       % checkpoint.id)


def delete_checkpoint(engine: Any, provider_id: str, checkpoint_id: str) -> Checkpoint:
    provider = engine.provider(provider_id)
    collection = engine.checkpoints(provider)
    checkpoint = collection.get(checkpoint_id, engine.project_id)
    if checkpoint.status == R.CP_DELETED:
        return _finish_dead_delete(collection, checkpoint)
    engine.check_deletable(checkpoint, collection.bank)
    roots = G.deserialize(checkpoint.resource_graph) if checkpoint.resource_graph else []
    for res in G.resources(roots):
        provider.plugin_for(res.type)
    lease = Lease(collection.bank, **provider.lease_windows()).acquire()
    run = FlowRun(engine, 'delete', provider, roots, checkpoint, lease,
                  lambda res, status, reason=None: checkpoint.resource_section(res.id).put(
                      'status', status),
                  parameters={}, counts_completions=False)
    claim = None
    try:
        run.precheck()
        claim = take_claim(collection.bank, DELETE_CLAIM % checkpoint.id, lease.owner_id,
                           'Checkpoint %s is being deleted by another run.' % checkpoint.id)
        checkpoint = _mark_deleting(engine, collection, checkpoint.id, lease)
    except BaseException:
        if claim:
            collection.bank.delete(claim)
        lease.release()
        raise
    try:
        run.start_log(R.CP_DELETING, timeutil.isoformat(timeutil.now()))
        run.execute()
        collection.mark_deleted(checkpoint)
        run.finish_log(R.CP_DELETED, None)
    except KarborError as exc:
        checkpoint.set_status(R.CP_ERROR_DELETING, exc.msg)
        run.finish_log(R.CP_ERROR_DELETING, exc.msg)
        raise
    finally:
        collection.bank.delete(claim)
        lease.release()
    return checkpoint


def _finish_dead_delete(collection: CheckpointCollection, checkpoint: Checkpoint) -> Checkpoint:
    """What a run that died at the very end left: indices and its claim."""
    collection.remove_indices(checkpoint)
    drop_dead_claim(collection.bank, DELETE_CLAIM % checkpoint.id)
    return checkpoint


def _mark_deleting(engine: Any, collection: CheckpointCollection, checkpoint_id: str,
                   lease: Lease) -> Checkpoint:
    """With the claim held: the checkpoint as it is now, marked deleting by
    this run, unless a restore arrived in between (it wins)."""
    checkpoint = collection.get(checkpoint_id)
    engine.check_deletable(checkpoint, collection.bank)
    previous = checkpoint.status
    checkpoint.data['owner_id'] = lease.owner_id
    checkpoint.set_status(R.CP_DELETING)
    if active_readers(collection.bank, checkpoint.id):
        # a restore marked itself between our check and our status:
        # it goes on (it read `available`), we step back
        checkpoint.set_status(previous)
        raise Conflict('Checkpoint %s is being restored; delete it when the restore '
                       'ends.' % checkpoint.id)
    return checkpoint
