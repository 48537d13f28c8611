# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS::Cinder::Volume protection through Cinder backups.

Fixes over Karbor: ``backup_mode: auto`` works (incremental when this
plan's previous backup of the volume is still usable, and a full one every
``full_backup_every`` backups so retention can delete old chains:
``volume_chain.py``), restore onto an existing ``volume_id`` or into a chosen
availability zone and volume type works (``volume_restore.py``), every wait
has a timeout (``volume_calls.py``), each artifact id is written to the bank
the moment it exists (so a killed run can be cleaned up), and deleting the
parent of incremental backups gives a clear message.
"""

from __future__ import annotations

import copy
from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.resources.protectable import (
    CloudProtectable)
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import wait_for
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext, ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_calls import (
    create_when_idle, delete_when_settled, get_or_none, wait_backup, wait_gone, wait_volume)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_chain import (
    DEFAULT_FULL_BACKUP_EVERY, BackupChoice, chain_length_of, choose_backup, cinder_parent)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_restore import (
    RESTORE_SCHEMA, CinderRestore)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_bank import (
    BankVolumeDelete, BankVolumeProtect, BankVolumeRestore, BankVolumeVerify, ByBackupMode)


class CinderProtect(Operation):
    """Snapshot (for in-use volumes) then back up; record ids as they appear.

    ``on_main`` only starts the backup and ``on_complete`` waits for it: the
    flow queues every resource's ``on_main`` before the ``on_complete`` hooks
    they release, so all the volumes of a plan are backed up at once instead
    of in waves of the engine's worker count (each wait holds a worker).
    """

    def __init__(self) -> None:
        self.meta: dict[str, Any] = {}
        self.snapshot_id: str | None = None
        self.backup_id: str | None = None

    def _previous_backup(self, ctx: OperationContext) -> tuple[str, dict] | None:
        """This plan's newest available checkpoint's backup of the volume, if usable,
        with that checkpoint's metadata of it (its chain position)."""
        for older in ctx.previous_checkpoints(5):
            try:
                metadata = older.resource_section(ctx.resource.id).get_json('metadata')
            except NotFound:
                continue
            backup_id = metadata.get('backup_id')
            if not backup_id:
                continue
            backup = get_or_none(ctx.cloud, 'Backup %s' % backup_id,
                                 ctx.cloud.conn.block_storage.get_backup, backup_id)
            container = ctx.parameters.get('container')
            if backup is not None and backup.status == 'available' and (
                    not container or backup.container == container):
                return backup_id, metadata
            return None
        return None

    def _choose(self, ctx: OperationContext, mode: str) -> tuple[BackupChoice, str | None]:
        """Full or incremental, and the parent an incremental will have.

        An incremental is made only when Cinder will chain it onto this plan's
        previous backup (Cinder picks the volume's newest backup, whichever plan
        made it); otherwise ``auto`` makes a full, and ``incremental`` records
        the parent Cinder will pick with an unknown chain position.
        """
        previous = self._previous_backup(ctx) if mode in ('auto', 'incremental') else None
        parent = previous[0] if previous else None
        choice = choose_backup(mode, chain_length_of(previous[1]) if previous else None,
                               previous is not None,
                               int(ctx.parameters.get('full_backup_every')
                                   or DEFAULT_FULL_BACKUP_EVERY))
        if not choice.incremental:
            return choice, None
        conn = ctx.cloud.conn
        picked = cinder_parent(ctx.cloud.call('Listing backups of volume %s' % ctx.resource.id,
                                              lambda: list(conn.block_storage.backups(
                                                  details=True, volume_id=ctx.resource.id))))
        if picked == parent:
            return choice, parent
        if mode == 'auto':
            return BackupChoice(False, 0, "Cinder would chain onto backup %s, not this plan's "
                                          'previous one' % picked), None
        return BackupChoice(True, None), picked

    def on_main(self, ctx: OperationContext) -> None:
        conn = ctx.cloud.conn
        params = ctx.parameters
        volume = wait_volume(ctx, ctx.resource.id)
        force = bool(params.get('force', False))
        if volume.status == 'in-use' and not force:
            raise InvalidInput('Volume %s is in use; set force: true in the plan parameters for '
                               'OS::Cinder::Volume to back it up from a snapshot.' % volume.id)
        mode = params.get('backup_mode', 'auto')
        choice, parent = self._choose(ctx, mode)
        incremental = choice.incremental
        meta: dict[str, Any] = {'volume_id': volume.id, 'volume_size': volume.size,
                                'volume_name': volume.name, 'backup_mode': mode,
                                'availability_zone': volume.availability_zone,
                                'volume_type': volume.volume_type, 'parent_backup_id': parent,
                                'chain_length': choice.chain_length}
        if choice.reason and mode == 'auto':
            meta['full_reason'] = choice.reason
        self.meta = meta
        try:
            if volume.status == 'in-use':
                snapshot = create_when_idle(
                    ctx, 'Snapshot of volume %s' % volume.id, conn.block_storage.create_snapshot,
                    dict(volume_id=volume.id, force=True,
                         name='karbor-%s-%s' % (ctx.checkpoint.id[:8], volume.id[:8])))
                self.snapshot_id = snapshot_id = snapshot.id
                meta['snapshot_id'] = snapshot_id
                ctx.section.put('metadata', meta)  # recorded before waiting: a crash can clean up
                wait_for('snapshot %s' % snapshot_id,
                         lambda: ctx.cloud.call('Snapshot', conn.block_storage.get_snapshot,
                                                snapshot_id),
                         lambda s: s.status == 'available',
                         lambda s: 'snapshot is %s' % s.status if s.status.startswith('error')
                         else None, ctx.timeout)
            ctx.check_lease()
            default_description = 'karbor checkpoint %s of plan %s' % (
                ctx.checkpoint.id, ctx.checkpoint.plan.get('id'))
            attrs = dict(volume_id=volume.id, is_incremental=incremental, force=force,
                         name=params.get('backup_name') or 'karbor-%s' % ctx.checkpoint.id,
                         description=params.get('description') or default_description)
            if self.snapshot_id:
                attrs['snapshot_id'] = self.snapshot_id
            if params.get('container'):
                attrs['container'] = params['container']
            backup = create_when_idle(ctx, 'Backup of volume %s' % volume.id,
                                      conn.block_storage.create_backup, attrs)
            self.backup_id = backup.id
            meta['backup_id'] = backup.id
            meta['is_incremental'] = incremental
            ctx.section.put('metadata', meta)
            ctx.progress.add(bytes_total=(volume.size or 0) * 1024 ** 3)
        except BaseException:
            self._drop_snapshot(ctx)
            raise

    def on_complete(self, ctx: OperationContext) -> None:
        if self.backup_id is None:
            return  # on_main did not run (a failure upstream)
        meta = self.meta
        try:
            backup = wait_backup(ctx, self.backup_id)
            ctx.progress.add(bytes_done=(meta.get('volume_size') or 0) * 1024 ** 3)
            meta.update({'status': backup.status, 'size': backup.size,
                         'container': backup.container, 'name': backup.name})
        finally:
            self._drop_snapshot(ctx)

    def _drop_snapshot(self, ctx: OperationContext) -> None:
        """Delete the snapshot the backup was made from and record the outcome."""
        if self.snapshot_id:
            try:
                delete_when_settled(ctx, 'snapshot', self.snapshot_id)
                self.meta.pop('snapshot_id', None)
                self.snapshot_id = None
            except KarborError:
                pass  # stays recorded; checkpoint delete removes it
        if self.meta:
            ctx.section.put('metadata', self.meta)


class CinderDelete(Operation):
    def precheck(self, ctx: OperationContext) -> None:
        try:
            meta = ctx.section.get_json('metadata')
        except NotFound:
            return
        backup_id = meta.get('backup_id')
        backup = backup_id and get_or_none(ctx.cloud, 'Backup %s' % backup_id,
                                           ctx.cloud.conn.block_storage.get_backup, backup_id)
        if backup and backup.has_dependent_backups:
            raise Conflict('The backup %s of volume %s in checkpoint %s is the parent of '
                           'incremental backups made by later checkpoints; delete those '
                           'checkpoints first (with backup_mode: auto, full_backup_every '
                           'bounds the chains; backup_mode: full makes none).'
                           % (backup_id, ctx.resource.id, ctx.checkpoint.id))

    def __init__(self) -> None:
        self.deleting: str | None = None

    def on_main(self, ctx: OperationContext) -> None:
        """Start the delete; on_complete waits for it (see CinderProtect)."""
        conn = ctx.cloud.conn
        try:
            meta = ctx.section.get_json('metadata')
        except NotFound:
            return  # the protect died before it made anything
        if meta.get('snapshot_id'):
            delete_when_settled(ctx, 'snapshot', meta['snapshot_id'])
        backup_id = meta.get('backup_id')
        if not backup_id:
            return
        backup = get_or_none(ctx.cloud, 'Backup %s' % backup_id, conn.block_storage.get_backup,
                             backup_id)
        if backup is None:
            return
        if backup.status not in ('available', 'error'):
            backup = wait_backup(ctx, backup_id, ('available', 'error'))
        ctx.cloud.call('Deleting backup %s' % backup_id, conn.block_storage.delete_backup,
                       backup_id)
        self.deleting = backup_id

    def on_complete(self, ctx: OperationContext) -> None:
        if self.deleting:
            wait_gone(ctx, 'backup %s' % self.deleting, ctx.cloud.conn.block_storage.get_backup,
                      self.deleting)


class CinderVerify(Operation):
    """The Cinder backup the checkpoint names exists and is ``available``
    (what a restore needs first), at every verification level."""

    def on_main(self, ctx: OperationContext) -> None:
        try:
            meta = ctx.section.get_json('metadata')
        except NotFound:
            raise KarborError('The checkpoint holds no record of the backup of volume %s '
                              '(its metadata object is missing).' % ctx.resource.id)
        backup_id = meta.get('backup_id')
        if not backup_id:
            raise KarborError('The checkpoint names no Cinder backup of volume %s.'
                              % ctx.resource.id)
        backup = get_or_none(ctx.cloud, 'Backup %s' % backup_id,
                             ctx.cloud.conn.block_storage.get_backup, backup_id)
        if backup is None:
            raise KarborError('Cinder backup %s of volume %s does not exist.'
                              % (backup_id, ctx.resource.id))
        if backup.status != 'available':
            raise KarborError('Cinder backup %s of volume %s is %s, not available%s.' % (
                backup_id, ctx.resource.id, backup.status,
                ': %s' % backup.fail_reason if backup.fail_reason else ''))


class VolumeProtect(ByBackupMode):
    cinder, bank, by_parameters = CinderProtect, BankVolumeProtect, True


class VolumeRestore(ByBackupMode):
    cinder, bank = CinderRestore, BankVolumeRestore


class VolumeDelete(ByBackupMode):
    cinder, bank = CinderDelete, BankVolumeDelete


class VolumeVerify(ByBackupMode):
    cinder, bank = CinderVerify, BankVolumeVerify


class CinderVolumePlugin(ProtectionPlugin):
    name = 'karbor-volume-protection-plugin'
    supported_types = (R.VOLUME,)
    operation_classes = {'protect': VolumeProtect, 'restore': VolumeRestore,
                         'delete': VolumeDelete, 'verify': VolumeVerify}
    drill_supported = True

    def compare_restored(self, ctx: OperationContext, new_id: str) -> list[str]:
        """The restored volume's size against the saved one (both backup modes)."""
        saved = ctx.section.get_json('metadata').get('volume_size')
        volume = wait_volume(ctx, new_id, ('available', 'in-use'))
        if saved and volume.size != saved:
            return ['size %s GiB, saved %s GiB' % (volume.size, saved)]
        return []

    def drop_restored(self, ctx: OperationContext, new_id: str) -> None:
        delete_when_settled(ctx, 'volume', new_id)

    def get_options_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Cinder backup options', 'additionalProperties': False,
                'properties': {
                    'backup_name': {'type': 'string', 'title': 'Backup name'},
                    'backup_mode': {'type': 'string',
                                    'enum': ['full', 'incremental', 'auto', 'bank'],
                                    'default': 'auto',
                                    'title': 'full, incremental, or auto (incremental when this '
                                             "plan's previous backup of the volume is usable): "
                                             'Cinder backups; bank: the bytes in the bank'},
                    'full_backup_every': {
                        'type': 'integer', 'minimum': 1, 'default': DEFAULT_FULL_BACKUP_EVERY,
                        'title': 'Under backup_mode auto, every Nth backup is full',
                        'description': 'Bounds the chain of incremental backups: the Nth '
                                       'backup since the last full one is full again (1: '
                                       'always full). Cinder cannot delete a backup that '
                                       'has incrementals, so an unbounded chain keeps '
                                       'retention from deleting any old checkpoint.'},
                    'container': {'type': 'string', 'title': 'Backup container'},
                    'description': {'type': 'string', 'title': 'Backup description'},
                    'force': {'type': 'boolean', 'default': False,
                              'title': 'Back up in-use volumes (from a snapshot)'}}}

    def get_restore_schema(self, resource_type: str) -> dict:
        return copy.deepcopy(RESTORE_SCHEMA)

    def get_saved_info_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'properties': {
            'name': {'type': 'string'}, 'is_incremental': {'type': 'boolean'},
            'status': {'type': 'string'}, 'progress': {'type': 'string'},
            'fail_reason': {'type': 'string'}, 'size': {'type': 'integer'},
            'volume_id': {'type': 'string'}, 'chain_length': {'type': ['integer', 'null']},
            'parent_backup_id': {'type': ['string', 'null']},
            'backup_mode': {'type': 'string'},
            'data_size': {'type': 'integer', 'title': 'Bytes in the bank (backup_mode bank)'},
            'chunks_num': {'type': 'integer', 'title': 'Chunks (backup_mode bank)'}}}

    def get_saved_info(self, metadata: dict) -> dict:
        if metadata.get('backup_mode') == 'bank':
            return {'backup_mode': 'bank', 'volume_id': metadata.get('volume_id'),
                    'status': metadata.get('state'), 'data_size': metadata.get('data_size'),
                    'chunks_num': len(metadata.get('chunks') or [])}
        return {k: metadata.get(k) for k in ('name', 'is_incremental', 'status', 'size',
                                             'volume_id', 'chain_length', 'parent_backup_id',
                                             'backup_mode')}


class VolumeProtectable(CloudProtectable):
    resource_type = R.VOLUME
    parent_types = (R.SERVER, R.PROJECT)
    skip_statuses = ('error', 'deleting', 'error_deleting')

    def _list_raw(self) -> list:
        return self.cloud.call('Listing volumes', lambda: list(
            self.cloud.conn.block_storage.volumes(details=True)))

    def _get_raw(self, resource_id: str):
        return self.cloud.call('Volume %s' % resource_id,
                               self.cloud.conn.block_storage.get_volume, resource_id)

    def _to_resource(self, item) -> Resource:
        return Resource(R.VOLUME, item.id, item.name or '',
                        extra_info={'availability_zone': item.availability_zone or ''})

    def get_dependent_resources(self, parent: Resource) -> list[Resource]:
        if parent.type == R.PROJECT:
            return self.list_resources()
        if parent.type == R.SERVER:
            return [self._to_resource(v) for v in self._listed() if any(
                a.get('server_id') == parent.id for a in (v.attachments or []))]
        return []
