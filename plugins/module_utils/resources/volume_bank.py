# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS::Cinder::Volume ``backup_mode: bank``: the volume's bytes in the bank.

A Cinder backup stays in the cloud that made it; a bank copy is restorable
from the bank alone (another site's bank, once checkpoints are copied). The
one path every Cinder backend has is Cinder's upload to image, so protect
goes volume -> (snapshot -> temporary volume, for an in-use volume) ->
temporary Glance image -> the image plugin's chunk pipeline
(``image_chunks.py``: content-addressed, deduplicated, parallel, encrypted
when the bank is), and restore goes chunks -> temporary image -> a new
volume made from it. Every temporary object is recorded in the bank the
moment it exists and deleted when the run ends, failed or not; what a
killed run leaves is deleted with the checkpoint.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import wait_for
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.common.faults import fault_point
from ansible_collections.karbor.protection.plugins.module_utils.resources.glance_calls import (
    delete_image, get_image, images_named, open_image_data, raise_for_response,
    wait_image_active)
from ansible_collections.karbor.protection.plugins.module_utils.resources.image import (
    plugin_settings)
from ansible_collections.karbor.protection.plugins.module_utils.resources.image_chunks import (
    check_chunks, copy_image_data, release_chunks, saved_chunks, upload_chunks)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_calls import (
    create_when_idle, delete_when_settled, wait_volume)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_restore import (
    check_placement, create_restored_volume)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    ChunkStore, owner_name, tree_digest)

BANK = 'bank'
GIB = 1024 ** 3


def is_bank_copy(meta: dict) -> bool:
    """Whether a checkpoint's volume metadata was written by this mode."""
    return meta.get('backup_mode') == BANK


def temporary_name(checkpoint_id: str, resource_id: str) -> str:
    """Unique per checkpoint and volume: a temporary object whose id was
    never recorded (a run killed inside the create call) is found by it."""
    return 'karbor-bank-%s-%s' % (checkpoint_id, resource_id)


def upload_to_image(ctx: OperationContext, volume_id: str, image_name: str) -> str:
    """Cinder's os-volume_upload_image into a raw image; the image's id."""
    def upload() -> str:
        response = ctx.cloud.conn.block_storage.post(
            '/volumes/%s/action' % volume_id, json={'os-volume_upload_image': {
                'image_name': image_name, 'disk_format': 'raw', 'container_format': 'bare',
                'force': False}})
        raise_for_response(response)
        return response.json()['os-volume_upload_image']['image_id']
    return create_when_idle(ctx, 'Uploading volume %s to an image' % volume_id,
                            lambda volume_id: upload(), {'volume_id': volume_id})


def wait_upload(ctx: OperationContext, volume_id: str, image_id: str, timeout: float) -> Any:
    """The image once Cinder has filled it. Cinder sets the volume back from
    ``uploading`` when it is done, failed or not: a volume that is back while
    the image is not active is a failed upload (the image would wait forever)."""
    cloud = ctx.cloud

    def both() -> tuple[Any, Any]:
        return (get_image(ctx, image_id),
                cloud.call('Volume %s' % volume_id, cloud.conn.block_storage.get_volume,
                           volume_id))

    def failed(found: tuple[Any, Any]) -> str | None:
        image, volume = found
        if image.status in ('killed', 'deleted', 'deactivated', 'pending_delete'):
            return 'image is %s' % image.status
        if volume.status != 'uploading' and image.status != 'active':
            return ('Cinder stopped uploading volume %s (now %s) with image %s %s; see '
                    "cinder-volume's log (can it reach Glance: glance_api_servers?)"
                    % (volume_id, volume.status, image_id, image.status))
        return None
    return wait_for('upload of volume %s to image %s' % (volume_id, image_id), both,
                    lambda found: found[0].status == 'active' and found[1].status != 'uploading',
                    failed, max(1.0, timeout))[0]


def named(ctx: OperationContext, kind: str, name: str | None) -> list[str]:
    """Ids of the project's Cinder ``kind`` ('volumes', 'snapshots') named ``name``."""
    if not name:
        return []
    listing = getattr(ctx.cloud.conn.block_storage, kind)
    return [item.id for item in ctx.cloud.call('Listing %s named %s' % (kind, name),
                                               lambda: list(listing(details=False, name=name)))]


def drop_temporaries(ctx: OperationContext, meta: dict) -> None:
    """Delete the temporary image, volume and snapshot ``meta['temporary']``
    records, by id or else by their one name (a run killed inside a create
    call never learnt the id), in that order: each one's source last. Each
    is forgotten once gone; one that will not go stays recorded for the
    checkpoint delete."""
    temporary = meta.get('temporary') or {}
    name = temporary.get('name')
    try:
        for image_id in dict.fromkeys([temporary.get('image_id')] + images_named(ctx, name)
                                      if name else [temporary.get('image_id')]):
            if image_id:
                delete_image(ctx, image_id)
        temporary.pop('image_id', None)
        for volume_id in dict.fromkeys([temporary.get('volume_id')] +
                                       named(ctx, 'volumes', name)):
            if volume_id:
                delete_when_settled(ctx, 'volume', volume_id)
        temporary.pop('volume_id', None)
        for snapshot_id in dict.fromkeys([temporary.get('snapshot_id')] +
                                         named(ctx, 'snapshots', name)):
            if snapshot_id:
                delete_when_settled(ctx, 'snapshot', snapshot_id)
        temporary.pop('snapshot_id', None)
        temporary.pop('name', None)
    finally:
        meta['temporary'] = temporary


class BankVolumeProtect(Operation):
    """Volume -> temporary image -> chunks; see the module docstring.

    By default the image is uploaded from a temporary volume made from a
    snapshot, so the volume stays usable meanwhile; with ``force`` an
    available volume is uploaded directly (no snapshot and no copy, but it
    is ``uploading`` until the image is made), and an in-use one is copied
    from a snapshot (without ``force`` it is refused, as in Cinder mode)."""

    def on_main(self, ctx: OperationContext) -> None:
        settings = plugin_settings(ctx.config)
        deadline = time.monotonic() + ctx.timeout
        volume = wait_volume(ctx, ctx.resource.id)
        if volume.status == 'in-use' and not ctx.parameters.get('force'):
            raise InvalidInput('Volume %s is in use; set force: true in the plan parameters for '
                               'OS::Cinder::Volume to copy it from a snapshot.' % volume.id)
        name = temporary_name(ctx.checkpoint.id, volume.id)
        owner = owner_name(ctx.checkpoint.id, ctx.resource.id)
        meta: dict[str, Any] = {
            'backup_mode': BANK, 'state': 'protecting', 'volume_id': volume.id,
            'volume_size': volume.size, 'volume_name': volume.name,
            'availability_zone': volume.availability_zone, 'volume_type': volume.volume_type,
            'chunk_size': settings.chunk_size, 'chunk_owner': owner,
            'temporary': {'name': name}}  # first: a crash during any create is found by it
        temporary = meta['temporary']
        ctx.section.put('metadata', meta)
        try:
            source = volume.id
            meta['direct'] = volume.status == 'available' and bool(ctx.parameters.get('force'))
            if not meta['direct']:
                source = self._detached_copy(ctx, meta, volume, name)
            temporary['image_id'] = image_id = upload_to_image(ctx, source, name)
            ctx.section.put('metadata', meta)
            image = wait_upload(ctx, source, image_id, deadline - time.monotonic())
            fault_point('protect.volume_upload')  # every temporary exists
            ctx.progress.add(bytes_total=image.size or 0)
            ctx.check_lease()
            digests, total = copy_image_data(
                ctx, ChunkStore(ctx.checkpoint.bank, settings.workers), image_id, owner,
                settings.chunk_size, settings.workers, settings.memory_chunks, deadline,
                open_image_data(ctx, image_id))
            if image.size is not None and total != image.size:
                raise KarborError('The image of volume %s streamed %d bytes but Glance reports '
                                  '%d; the download was cut short.' % (volume.id, total,
                                                                       image.size))
            meta.update({'chunks': digests, 'data_size': total,
                         'sha256_tree': tree_digest(digests), 'state': 'available'})
        except BaseException:
            meta['state'] = 'error'
            raise
        finally:
            try:
                drop_temporaries(ctx, meta)
            finally:
                ctx.section.put('metadata', meta)

    @staticmethod
    def _detached_copy(ctx: OperationContext, meta: dict, volume: Any, name: str) -> str:
        """A snapshot of the volume and a volume made from it, uploaded in its
        stead: Cinder uploads only a detached volume, and the volume itself
        is ``uploading`` (no attach, no backup) while it is read; the new
        volume's id."""
        conn = ctx.cloud.conn
        temporary = meta['temporary']
        snapshot = create_when_idle(
            ctx, 'Snapshot of volume %s' % volume.id, conn.block_storage.create_snapshot,
            dict(volume_id=volume.id, force=True, name=name))
        temporary['snapshot_id'] = snapshot.id
        ctx.section.put('metadata', meta)  # recorded before waiting: a crash can clean up
        wait_for('snapshot %s' % snapshot.id,
                 lambda: ctx.cloud.call('Snapshot', conn.block_storage.get_snapshot,
                                        snapshot.id),
                 lambda s: s.status == 'available',
                 lambda s: 'snapshot is %s' % s.status if s.status.startswith('error')
                 else None, ctx.timeout)
        copy = ctx.cloud.call('Creating a volume from snapshot %s' % snapshot.id,
                              conn.block_storage.create_volume, snapshot_id=snapshot.id,
                              size=volume.size, name=name)
        temporary['volume_id'] = copy.id
        ctx.section.put('metadata', meta)
        wait_volume(ctx, copy.id, ('available',))
        return copy.id


class BankVolumeRestore(Operation):
    """Chunks -> temporary image -> a new volume of the saved size (in the
    zone and type asked for, or Cinder's defaults)."""

    def __init__(self) -> None:
        self.placement: dict[str, str] = {}

    def precheck(self, ctx: OperationContext) -> None:
        if ctx.parameters.get('volume_id'):
            raise InvalidInput('Checkpoint %s holds volume %s in the bank (backup_mode: bank), '
                               'which restores into a new volume only; leave out volume_id.'
                               % (ctx.checkpoint.id, ctx.resource.id))
        self.placement = check_placement(ctx)

    def on_main(self, ctx: OperationContext) -> None:
        self.precheck(ctx)  # cheap, and a restore run without one must still refuse
        workers = plugin_settings(ctx.config).workers
        deadline = time.monotonic() + ctx.timeout
        meta = ctx.section.get_json('metadata')
        chunks = saved_chunks(ctx, meta, 'volume')
        size = int(meta.get('data_size') or 0)
        ctx.progress.add(bytes_total=size)
        conn = ctx.cloud.conn
        from openstack.image.v2 import image as sdk_image  # pylint: disable=import-outside-toplevel
        name = 'karbor-restore-%s-%s' % (ctx.checkpoint.id, ctx.resource.id)
        image = ctx.cloud.call('Creating the image to restore volume %s from' % ctx.resource.id,
                               lambda: sdk_image.Image(
                                   name=name, disk_format='raw',
                                   container_format='bare').create(conn.image))
        ctx.keep_temporary('image', image.id, name)
        try:
            upload_chunks(ctx, image, ChunkStore(ctx.checkpoint.bank, workers), chunks, size,
                          workers, 'Volume')
            wait_image_active(ctx, image.id, deadline - time.monotonic())
            fault_point('restore.volume_image')
            self._create_volume(ctx, meta, image.id)
        finally:
            try:
                delete_image(ctx, image.id)
                ctx.drop_temporary(image.id)
            except KarborError:
                pass  # stays in the record's temporary: deleted when the record is settled

    def _create_volume(self, ctx: OperationContext, meta: dict, image_id: str) -> None:
        name = ctx.parameters.get('restore_name') or '%s@%s' % (ctx.checkpoint.id,
                                                                ctx.resource.id)
        attrs: dict[str, Any] = dict(self.placement, name=name, image_id=image_id,
                                     size=max(int(meta.get('volume_size') or 0),
                                              -(-int(meta.get('data_size') or 0) // GIB), 1))
        if ctx.parameters.get('restore_description'):
            attrs['description'] = ctx.parameters['restore_description']
        create_restored_volume(ctx, 'Creating volume %s from the bank' % name, **attrs)


class BankVolumeDelete(Operation):
    """Temporary objects a killed run left, then the chunks no other
    checkpoint uses."""

    def on_main(self, ctx: OperationContext) -> None:
        try:
            meta = ctx.section.get_json('metadata')
        except NotFound:
            meta = {}
        if meta.get('temporary'):
            drop_temporaries(ctx, meta)
            ctx.section.put('metadata', meta)
        store = ChunkStore(ctx.checkpoint.bank, plugin_settings(ctx.config).workers)
        owner = meta.get('chunk_owner') or owner_name(ctx.checkpoint.id, ctx.resource.id)
        release_chunks(ctx, store, owner, meta)


class BankVolumeVerify(Operation):
    """The chunk list is whole and every chunk in the bank and referenced;
    at level ``data`` the chosen chunks are read and hashed."""

    def on_main(self, ctx: OperationContext) -> None:
        meta = ctx.section.get_json('metadata')
        chunks = saved_chunks(ctx, meta, 'volume')
        store = ChunkStore(ctx.checkpoint.bank, plugin_settings(ctx.config).workers)
        check_chunks(ctx, store, meta.get('chunk_owner') or owner_name(
            ctx.checkpoint.id, ctx.resource.id), chunks, 'Volume')


class ByBackupMode(Operation):
    """One of the volume plugin's operations, Cinder's or the bank's: a
    protect by the plan's ``backup_mode``, the others by the mode the
    checkpoint's metadata records (so a plan changed since still restores,
    verifies and deletes its old checkpoints the way they were made)."""

    cinder: type[Operation] = Operation
    bank: type[Operation] = Operation
    by_parameters = False  # protect: the plan says; else the checkpoint

    def __init__(self) -> None:
        self.chosen: Operation | None = None

    def _op(self, ctx: OperationContext) -> Operation:
        if self.chosen is None:
            if self.by_parameters:
                bank = ctx.parameters.get('backup_mode') == BANK
            else:
                try:
                    bank = is_bank_copy(ctx.section.get_json('metadata'))
                except NotFound:
                    bank = False  # nothing made: either cleans up nothing
            self.chosen = (self.bank if bank else self.cinder)()
        return self.chosen

    def precheck(self, ctx: OperationContext) -> None:
        self._op(ctx).precheck(ctx)

    def on_prepare_begin(self, ctx: OperationContext) -> None:
        self._op(ctx).on_prepare_begin(ctx)

    def on_prepare_finish(self, ctx: OperationContext) -> None:
        self._op(ctx).on_prepare_finish(ctx)

    def on_main(self, ctx: OperationContext) -> None:
        self._op(ctx).on_main(ctx)

    def on_complete(self, ctx: OperationContext) -> None:
        self._op(ctx).on_complete(ctx)
