# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS::Glance::Image: image data into the bank as content-addressed chunks.

The image is streamed from Glance, cut into fixed-size chunks
(``[image_backup_plugin] backup_image_object_size``, 8 MiB by default) and
uploaded by a bounded pool of threads (``upload_concurrency``, 8) with at
most ``max_chunks_in_memory`` chunks in memory (2 x concurrency + 2). Each
chunk is named by its sha256 (``chunk_store``), so a chunk already in the
bank is only referenced: an unchanged image costs almost nothing the second
time. A server's boot image is protected as a snapshot of the server (its
current disk). Restore streams the chunks back into a new image, verifying
each chunk, the chunk list, the size and Glance's own checksum and hash.

Crash safety: the bank is written as the run goes (metadata first, the
snapshot's name before it is created and its id before waiting on it, each
batch of chunk references before those chunks are uploaded), so deleting
the checkpoint frees everything even when the protect died midway.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any, NamedTuple

from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.resources.protectable import (
    CloudProtectable)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    ChunkStore, owner_name, tree_digest)
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import wait_for
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext, ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.resources.glance_calls import (
    close_response, delete_image, image_document, image_or_none, images_named, open_image_data,
    saved_image_metadata, snapshot_name, wait_image_active)
from ansible_collections.karbor.protection.plugins.module_utils.resources.image_read_ahead import (
    ImageReadAhead)
from ansible_collections.karbor.protection.plugins.module_utils.resources.image_chunks import (
    check_chunks, compare_with_chunks, copy_image_data, release_chunks, saved_chunks,
    upload_chunks)

MIB = 1024 * 1024
DEFAULT_CHUNK = 8 * MIB
DEFAULT_CONCURRENCY = 8
MAX_CHUNK = 1024 * MIB


class Settings(NamedTuple):
    chunk_size: int
    workers: int
    snapshot_servers: bool
    memory_chunks: int


def plugin_settings(config: dict) -> Settings:
    """``[image_backup_plugin]`` of the provider file, checked."""
    section = config.get('image_backup_plugin') or {}
    try:
        size = int(section.get('backup_image_object_size', DEFAULT_CHUNK))
        workers = int(section.get('upload_concurrency', DEFAULT_CONCURRENCY))
        memory = int(section.get('max_chunks_in_memory', 0) or 2 * workers + 2)
    except (TypeError, ValueError):
        raise InvalidInput('[image_backup_plugin] backup_image_object_size, upload_concurrency '
                           'and max_chunks_in_memory must be integers.')
    if not 0 < size <= MAX_CHUNK:
        raise InvalidInput('[image_backup_plugin] backup_image_object_size must be between 1 and '
                           '%d bytes; got %d.' % (MAX_CHUNK, size))
    if not 0 < workers <= 64:
        raise InvalidInput('[image_backup_plugin] upload_concurrency must be between 1 and 64; '
                           'got %d.' % workers)
    if memory < 3:
        raise InvalidInput('[image_backup_plugin] max_chunks_in_memory must be at least 3; '
                           'got %d.' % memory)
    snapshot = str(section.get('enable_server_snapshot', 'true')).strip().lower() not in (
        'false', 'no', '0', 'off')
    return Settings(size, workers, snapshot, memory)


# -- operations -----------------------------------------------------------------------
class GlanceProtect(Operation):
    def __init__(self) -> None:
        self.early: ImageReadAhead | None = None

    def read_ahead(self, ctx: OperationContext, bank) -> None:
        settings = plugin_settings(ctx.config)
        if (ctx.resource.extra_info or {}).get('server_id') and settings.snapshot_servers:
            return  # its data is a snapshot, taken once the checkpoint exists
        # as many chunks as the uploads will hold at once, so no more memory is used
        self.early = ImageReadAhead(ctx, ctx.resource.id, settings.chunk_size,
                                    min(settings.memory_chunks - 1, 2 * settings.workers),
                                    ChunkStore(bank, settings.workers))

    def drop_read_ahead(self) -> None:
        early, self.early = self.early, None
        if early is not None:
            early.close()

    def on_main(self, ctx: OperationContext) -> None:
        settings = plugin_settings(ctx.config)
        deadline = time.monotonic() + ctx.timeout
        owner = owner_name(ctx.checkpoint.id, ctx.resource.id)
        server_id = (ctx.resource.extra_info or {}).get('server_id')
        meta: dict[str, Any] = {'resource_id': ctx.resource.id, 'state': 'protecting',
                                'chunk_size': settings.chunk_size, 'chunk_owner': owner,
                                'original_image_id': ctx.resource.id}
        if ctx.parameters.get('backup_name'):
            meta['backup_name'] = ctx.parameters['backup_name']
        snapshot_id = None
        written: list[tuple[dict, concurrent.futures.Future]] = []  # early metadata writes
        try:
            source_id = ctx.resource.id
            if server_id and settings.snapshot_servers:
                snapshot_id = self._snapshot_server(ctx, meta, server_id, deadline)
                source_id = snapshot_id
            # (A plain image needs no early record: its chunk references are
            # found from the checkpoint and resource ids alone.)
            early, found = None, {}
            if self.early is not None:  # (never for a server's snapshot)
                early, found, self.early = self.early.take(), self.early.found, None
            if early is not None:
                document, response, chunks, in_memory = early
            else:
                document, response = self._open(ctx, source_id, deadline)
                chunks, in_memory = None, None
            meta['image_metadata'] = saved_image_metadata(document)
            expected = document.get('size')
            ctx.progress.add(bytes_total=expected or 0)
            store = ChunkStore(ctx.checkpoint.bank, settings.workers)

            def all_read(digests: list[str], total: int) -> None:
                # The chunk list goes to the bank while the last chunks upload
                # (the checkpoint only becomes available after this run ends).
                if expected is None or total == expected:
                    final = dict(meta, chunks=digests, size=total,
                                 sha256_tree=tree_digest(digests), state='available')
                    written.append((final, writer.submit(ctx.section.put, 'metadata', final)))
            with concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix='karbor-meta') as writer:
                digests, total = copy_image_data(
                    ctx, store, source_id, owner, settings.chunk_size, settings.workers,
                    settings.memory_chunks, deadline, response, chunks, all_read, found,
                    in_memory)
                for _final, future in written:
                    future.result()
            if expected is not None and total != expected:
                raise KarborError('Image %s streamed %d bytes but Glance reports %d; the download '
                                  'was cut short.' % (source_id, total, expected))
            meta.update({'chunks': digests, 'size': total, 'sha256_tree': tree_digest(digests),
                         'state': 'available'})
        except BaseException:
            meta['state'] = 'error'
            raise
        finally:
            if snapshot_id:
                try:
                    delete_image(ctx, snapshot_id)
                    meta['snapshot_deleted'] = True
                except KarborError:
                    pass  # stays recorded; deleting the checkpoint removes it
            if not written or written[-1][0] != meta:  # (an early write is done by now)
                ctx.section.put('metadata', meta)

    @staticmethod
    def _open(ctx: OperationContext, source_id: str, deadline: float) -> tuple[dict, Any]:
        """The image record once active, and its download (asked for meanwhile:
        one round trip instead of two before the first byte)."""
        opener = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='karbor-open')
        opened = opener.submit(open_image_data, ctx, source_id)
        opener.shutdown(wait=False)
        try:
            document = wait_for(
                'image %s' % source_id, lambda: image_document(ctx, source_id),
                lambda d: d.get('status') == 'active',
                lambda d: 'image is %s' % d.get('status') if d.get('status') in (
                    'killed', 'deleted', 'deactivated', 'pending_delete') else None,
                max(1.0, deadline - time.monotonic()))
        except BaseException:
            opened.add_done_callback(close_response)
            raise
        try:
            return document, opened.result()
        except KarborError:
            # asked before the image was active: ask again now that it is
            return document, open_image_data(ctx, source_id)

    @staticmethod
    def _snapshot_server(ctx: OperationContext, meta: dict, server_id: str,
                         deadline: float) -> str:
        conn = ctx.cloud.conn
        name = snapshot_name(ctx.checkpoint.id, server_id)
        meta.update({'server_id': server_id, 'server_snapshot': True, 'snapshot_name': name})
        ctx.section.put('metadata', meta)  # the name first: a crash during create is found
        wait_for('server %s' % server_id,
                 lambda: ctx.cloud.call('Server %s' % server_id, conn.compute.get_server,
                                        server_id),
                 lambda s: s.status in ('ACTIVE', 'SHUTOFF', 'PAUSED', 'SUSPENDED') and
                 not getattr(s, 'task_state', None),
                 lambda s: 'server is %s' % s.status if s.status in ('ERROR', 'DELETED') else None,
                 max(1.0, deadline - time.monotonic()))
        snapshot = ctx.cloud.call('Snapshot of server %s' % server_id,
                                  conn.compute.create_server_image, server_id, name=name,
                                  metadata={'karbor_checkpoint_id': ctx.checkpoint.id},
                                  wait=False)
        meta['snapshot_image_id'] = snapshot.id
        ctx.section.put('metadata', meta)  # then the id, before waiting on it
        return snapshot.id


class GlanceRestore(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        workers = plugin_settings(ctx.config).workers
        deadline = time.monotonic() + ctx.timeout
        meta = ctx.section.get_json('metadata')
        chunks = saved_chunks(ctx, meta)
        info = meta.get('image_metadata') or {}
        name = ctx.parameters.get('restore_name') or '%s@%s' % (ctx.checkpoint.id,
                                                                ctx.resource.id)
        ctx.progress.add(bytes_total=meta['size'])
        attrs = dict(info.get('properties') or {})
        attrs.update({'name': name, 'disk_format': info.get('disk_format') or 'raw',
                      'container_format': info.get('container_format') or 'bare',
                      'min_disk': info.get('min_disk') or 0, 'min_ram': info.get('min_ram') or 0})
        conn = ctx.cloud.conn
        from openstack.image.v2 import image as sdk_image  # pylint: disable=import-outside-toplevel
        image = ctx.cloud.call('Creating image %s' % name,
                               lambda: sdk_image.Image(**attrs).create(conn.image))
        ctx.publish_new_resource(ctx.resource.id, image.id)
        with ctx.undone_on_failure('the image %s it had made' % image.id,
                                   lambda: self._drop(ctx, image.id)):
            upload_chunks(ctx, image, ChunkStore(ctx.checkpoint.bank, workers), chunks,
                          meta['size'], workers)
            restored = wait_image_active(ctx, image.id, deadline - time.monotonic())
            self._verify(restored, info, meta['size'])

    @staticmethod
    def _drop(ctx: OperationContext, image_id: str) -> None:
        """Delete the half-restored image; one that will not go stays published."""
        try:
            delete_image(ctx, image_id)
            ctx.publish_new_resource(ctx.resource.id, None)
        except KarborError:
            pass

    @staticmethod
    def _verify(restored, info: dict, size: int) -> None:
        problems = []
        if restored.size is not None and restored.size != size:
            problems.append('size %s, expected %s' % (restored.size, size))
        if info.get('checksum') and restored.checksum and restored.checksum != info['checksum']:
            problems.append('checksum %s, expected %s' % (restored.checksum, info['checksum']))
        if info.get('os_hash_value') and restored.hash_algo == info.get('os_hash_algo') and \
                restored.hash_value != info['os_hash_value']:
            problems.append('%s %s, expected %s' % (restored.hash_algo, restored.hash_value,
                                                    info['os_hash_value']))
        if problems:
            raise BankCorrupted('Restored image %s does not match the original: %s.'
                                % (restored.id, '; '.join(problems)))


class GlanceDelete(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        try:
            meta = ctx.section.get_json('metadata')
        except NotFound:
            meta = {}
        self._delete_snapshot(ctx, meta)
        store = ChunkStore(ctx.checkpoint.bank, plugin_settings(ctx.config).workers)
        owner = meta.get('chunk_owner') or owner_name(ctx.checkpoint.id, ctx.resource.id)
        release_chunks(ctx, store, owner, meta)

    @staticmethod
    def _delete_snapshot(ctx: OperationContext, meta: dict) -> None:
        if meta.get('snapshot_deleted'):
            return
        if meta.get('snapshot_image_id'):
            delete_image(ctx, meta['snapshot_image_id'])
        elif meta.get('snapshot_name'):  # died while creating it: find it by its unique name
            for image_id in images_named(ctx, meta['snapshot_name']):
                delete_image(ctx, image_id)


class GlanceVerify(Operation):
    """The image's chunk list is whole, every chunk is in the bank and
    referenced by the checkpoint (else a delete of another checkpoint may
    free it), and at level ``data`` the chosen chunks are read and hashed."""

    def on_main(self, ctx: OperationContext) -> None:
        meta = ctx.section.get_json('metadata')
        chunks = saved_chunks(ctx, meta)
        store = ChunkStore(ctx.checkpoint.bank, plugin_settings(ctx.config).workers)
        owner = meta.get('chunk_owner') or owner_name(ctx.checkpoint.id, ctx.resource.id)
        check_chunks(ctx, store, owner, chunks)


class GlanceImagePlugin(ProtectionPlugin):
    name = 'karbor-image-protection-plugin'
    supported_types = (R.IMAGE,)
    operation_classes = {'protect': GlanceProtect, 'restore': GlanceRestore, 'delete': GlanceDelete,
                         'verify': GlanceVerify}
    drill_supported = True

    def compare_restored(self, ctx: OperationContext, new_id: str) -> list[str]:
        """The restored image's bytes, read back from Glance, against the saved chunks."""
        store = ChunkStore(ctx.checkpoint.bank, plugin_settings(ctx.config).workers)
        return compare_with_chunks(ctx, store, new_id, ctx.section.get_json('metadata'))

    def drop_restored(self, ctx: OperationContext, new_id: str) -> None:
        delete_image(ctx, new_id)
        left = image_or_none(ctx, new_id)
        if left is not None and left.status != 'deleted':
            raise KarborError('Image %s is still there (%s) after its delete.'
                              % (new_id, left.status))

    def get_options_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Image protection options',
                'additionalProperties': False,
                'properties': {'backup_name': {'type': 'string', 'maxLength': 255,
                                               'title': 'Label saved with the copy'}}}

    def get_restore_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Image restore options',
                'additionalProperties': False,
                'properties': {'restore_name': {
                    'type': 'string', 'minLength': 1, 'maxLength': 255,
                    'title': 'Name of the restored image (default <checkpoint id>@<image id>)'}}}

    def get_saved_info_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Saved image', 'properties': {
            'image_metadata': {'type': 'object', 'title': 'Glance metadata of the copy'},
            'size': {'type': 'integer', 'title': 'Bytes'},
            'chunks_num': {'type': 'integer', 'title': 'Chunks'},
            'chunk_size': {'type': 'integer', 'title': 'Chunk size'},
            'sha256_tree': {'type': 'string', 'title': 'sha256 over the chunk digests'},
            'server_snapshot': {'type': 'boolean',
                                'title': 'Copy of a server snapshot (the boot disk)'},
            'server_id': {'type': 'string'}, 'original_image_id': {'type': 'string'}}}

    def get_saved_info(self, metadata: dict) -> dict:
        info = {'image_metadata': metadata.get('image_metadata'), 'size': metadata.get('size'),
                'chunks_num': len(metadata.get('chunks') or []),
                'chunk_size': metadata.get('chunk_size'),
                'sha256_tree': metadata.get('sha256_tree'),
                'server_snapshot': bool(metadata.get('server_snapshot')),
                'original_image_id': metadata.get('original_image_id')}
        if metadata.get('server_id'):
            info['server_id'] = metadata['server_id']
        return {k: v for k, v in info.items() if v is not None}


class ImageProtectable(CloudProtectable):
    resource_type = R.IMAGE
    parent_types = (R.SERVER, R.PROJECT)
    skip_statuses = ('killed', 'deleted', 'pending_delete', 'deactivated')

    def _list_raw(self) -> list:
        project = self.cloud.project_id
        return self.cloud.call('Listing images', lambda: list(
            self.cloud.conn.image.images(owner=project)))

    def _get_raw(self, resource_id: str):
        return self.cloud.call('Image %s' % resource_id, self.cloud.conn.image.get_image,
                               resource_id)

    def _to_resource(self, item, server_id: str | None = None) -> Resource:
        extra = {'server_id': server_id} if server_id else {}
        return Resource(R.IMAGE, item.id, item.name or '', extra_info=extra)

    def _usable_item(self, item) -> bool:
        # as the listing: only the project's own images
        return item.owner == self.cloud.project_id and self._usable(item.status)

    def _metadata(self, item) -> dict | None:
        return item.properties

    def _tags(self, item) -> list | None:
        return item.tags

    def get_dependent_resources(self, parent: Resource) -> list[Resource]:
        if parent.type == R.PROJECT:
            return self.list_resources()
        if parent.type == R.SERVER:
            return self._boot_image_of(parent)
        return []

    def _boot_image_of(self, server: Resource) -> list[Resource]:
        found = self.cloud.call('Server %s' % server.id, self.cloud.conn.compute.get_server,
                                server.id)
        image_id = (found.image or {}).get('id') if isinstance(found.image, dict) else None
        if not image_id:
            return []  # booted from a volume
        try:
            image = self._get_raw(image_id)
        except NotFound:
            return []  # boot image deleted since; the server snapshot still covers the disk
        if not self._usable(image.status):
            return []
        return [self._to_resource(image, server_id=server.id)]
