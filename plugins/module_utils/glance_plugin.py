# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS::Glance::Image: image data into the bank as content-addressed chunks.

The image is streamed from Glance, cut into fixed-size chunks (4 MiB by
default) and uploaded by a bounded pool of threads; a chunk already in the
bank is only referenced, so an unchanged image costs almost nothing the
second time. A server's boot image is protected as a snapshot of the
server (its current disk). Restore streams the chunks back into a new image
and checks each chunk's sha256, the chunk list's digest and Glance's own hash.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import threading
from typing import Any, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.chunk_store import ChunkStore
from ansible_collections.karbor.protection.plugins.module_utils.cloud import wait_for
from ansible_collections.karbor.protection.plugins.module_utils.errors import (
    BankCorrupted, InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.protection_plugin import (
    Operation, OperationContext, ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils import resource as R

DEFAULT_CHUNK = 8 * 1024 * 1024
DEFAULT_CONCURRENCY = 8
KEPT_PROPERTIES = ('disk_format', 'container_format', 'min_disk', 'min_ram', 'visibility',
                   'architecture', 'os_distro', 'os_type', 'hw_disk_bus', 'hw_scsi_model')


def plugin_settings(config: dict) -> tuple[int, int]:
    section = config.get('image_backup_plugin', {})
    try:
        size = int(section.get('backup_image_object_size', DEFAULT_CHUNK))
        workers = int(section.get('upload_concurrency', DEFAULT_CONCURRENCY))
    except ValueError:
        raise InvalidInput('[image_backup_plugin] backup_image_object_size and '
                           'upload_concurrency must be integers.')
    if size <= 0 or workers <= 0:
        raise InvalidInput('[image_backup_plugin] chunk size and concurrency must be positive.')
    return size, workers


def fixed_chunks(stream: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Re-cut an iterator of arbitrary byte blocks into ``size``-byte chunks."""
    buffer = bytearray()
    for block in stream:
        if not block:
            continue
        buffer.extend(block)
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload_chunks(store, chunks: Iterator[bytes], owner: str, workers: int, progress,
                  check_lease, journal=None) -> tuple[list[str], int, list[str]]:
    """Upload in parallel, at most ``2 * workers`` chunks in memory.

    Chunks are hashed in parallel a batch at a time; ``journal(digests)`` is
    called with each batch before any of it is referenced or uploaded, so a
    run killed mid-way leaves a record of every chunk it may have touched.
    Returns (digests in order, total size, digests that were already stored).
    """
    digests: list[str] = []
    reused: list[str] = []
    total = 0
    slots = threading.Semaphore(workers * 2)
    errors: list[BaseException] = []
    lock = threading.Lock()
    batch: list[bytes] = []

    def upload(digest: str, data: bytes) -> None:
        try:
            _digest, uploaded = store.put(data, owner, digest)
            progress.add(bytes_done=len(data), bytes_uploaded=uploaded)
            if not uploaded:
                with lock:
                    reused.append(digest)
        except BaseException as exc:  # pylint: disable=broad-except
            errors.append(exc)
        finally:
            slots.release()

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                               thread_name_prefix='karbor-chunk') as pool:
        def flush() -> None:
            hashed = list(pool.map(_sha256, batch))
            if journal is not None:
                journal(hashed)
            for digest, data in zip(hashed, batch):
                digests.append(digest)
                pool.submit(upload, digest, data)
            batch.clear()

        for data in chunks:
            if errors:
                break
            check_lease()
            slots.acquire()
            total += len(data)
            batch.append(data)
            if len(batch) >= workers:
                flush()
        if batch and not errors:
            flush()
    if errors:
        raise errors[0]
    return digests, total, reused


def manifest_digest(digests: list[str]) -> str:
    """One sha256 over the ordered chunk digests: the image's identity in the bank."""
    return hashlib.sha256('\n'.join(digests).encode('ascii')).hexdigest()


class ChunkReader(io.RawIOBase):
    """A file-like view of the chunks, read back (and verified) one at a time."""

    def __init__(self, store: ChunkStore, digests: list[str], progress=None) -> None:
        super().__init__()
        self.store = store
        self.digests = list(digests)
        self.buffer = b''
        self.size = 0
        self.progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self.buffer and self.digests:
            self.buffer = self.store.get(self.digests.pop(0))
            self.size += len(self.buffer)
            if self.progress is not None:
                self.progress.add(bytes_done=len(self.buffer))
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        return size


def _image_or_none(ctx: OperationContext, image_id: str):
    try:
        return ctx.cloud.call('Image %s' % image_id, ctx.cloud.conn.image.get_image, image_id)
    except NotFound:
        return None


def wait_image_active(ctx: OperationContext, image_id: str):
    return wait_for('image %s' % image_id,
                    lambda: ctx.cloud.call('Image %s' % image_id, ctx.cloud.conn.image.get_image,
                                           image_id),
                    lambda i: i.status == 'active',
                    lambda i: 'image is %s' % i.status if i.status in (
                        'killed', 'deleted', 'deactivated') else None,
                    ctx.timeout)


def delete_image(ctx: OperationContext, image_id: str) -> None:
    if _image_or_none(ctx, image_id) is not None:
        ctx.cloud.call('Deleting image %s' % image_id, ctx.cloud.conn.image.delete_image,
                       image_id, ignore_missing=True)


class GlanceProtect(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        conn = ctx.cloud.conn
        size, workers = plugin_settings(ctx.config)
        meta: dict[str, Any] = {'resource_id': ctx.resource.id, 'state': 'protecting'}
        source_id = ctx.resource.id
        server_id = (ctx.resource.extra_info or {}).get('server_id')
        snapshot_id = None
        try:
            if server_id:
                snapshot = ctx.cloud.call(
                    'Snapshot of server %s' % server_id, conn.compute.create_server_image,
                    server_id, name='karbor-%s-%s' % (ctx.checkpoint.id[:8], server_id[:8]))
                snapshot_id = snapshot.id
                meta.update({'server_id': server_id, 'server_snapshot': True,
                             'snapshot_image_id': snapshot_id})
                ctx.section.put('metadata', meta)  # before waiting: a crash can clean up
                source_id = snapshot_id
            image = wait_image_active(ctx, source_id)
            meta['image_metadata'] = {
                'name': image.name, 'size': image.size, 'checksum': image.checksum,
                'os_hash_algo': image.hash_algo, 'os_hash_value': image.hash_value,
                'properties': {k: image.get(k) for k in KEPT_PROPERTIES if image.get(k) is not None},
                'extra_properties': dict(image.properties or {})}
            ctx.progress.add(bytes_total=image.size or 0)
            response = ctx.cloud.call('Downloading image %s' % source_id,
                                      conn.image.download_image, image, stream=True)
            store = ChunkStore(ctx.checkpoint.bank)
            journal = _Journal(ctx.section)
            digests, total, reused = upload_chunks(
                store, fixed_chunks(response.iter_content(chunk_size=1024 * 1024), size),
                ctx.checkpoint.id, workers, ctx.progress, ctx.check_lease, journal)
            missing = store.missing(reused)
            if missing:  # lost to a racing delete of another checkpoint
                raise KarborError('%d chunk(s) vanished from the bank while protecting image %s; '
                                  'run the checkpoint again.' % (len(missing), source_id))
            if image.size and total != image.size:
                raise KarborError('Image %s streamed %d bytes, %d expected.'
                                  % (source_id, total, image.size))
            meta.update({'chunks': digests, 'chunk_size': size, 'size': total,
                         'manifest_sha256': manifest_digest(digests), 'state': 'available'})
        finally:
            if snapshot_id:
                try:
                    delete_image(ctx, snapshot_id)
                    meta['snapshot_deleted'] = True
                except KarborError:
                    pass  # stays recorded; checkpoint delete removes it
            ctx.section.put('metadata', meta)


class _Journal:
    """Notes, batch by batch, every chunk this checkpoint references, so a
    delete finds them even if the protect died before its manifest."""

    def __init__(self, section) -> None:
        self.section = section
        self.count = 0

    def __call__(self, digests: list[str]) -> None:
        self.section.put('journal/%08d' % self.count, {'chunks': digests})
        self.count += 1


class GlanceRestore(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        conn = ctx.cloud.conn
        meta = ctx.section.get_json('metadata')
        if meta.get('state') != 'available' or not meta.get('chunks'):
            raise KarborError('The checkpoint holds no complete copy of image %s.'
                              % ctx.resource.id)
        store = ChunkStore(ctx.checkpoint.bank)
        if manifest_digest(meta['chunks']) != meta.get('manifest_sha256'):
            raise BankCorrupted('The chunk list of image %s in checkpoint %s is damaged.'
                                % (ctx.resource.id, ctx.checkpoint.id))
        missing = store.missing(meta['chunks'])
        if missing:
            raise BankCorrupted('%d chunk(s) of image %s are missing from the bank (first: %s).'
                                % (len(missing), ctx.resource.id, missing[0]))
        info = meta['image_metadata']
        props = dict(info.get('properties') or {})
        name = (ctx.parameters.get('restore_name') or
                '%s@%s' % (ctx.checkpoint.id, ctx.resource.id))
        ctx.progress.add(bytes_total=meta['size'])
        image = ctx.cloud.call('Creating image', conn.image.create_image, name=name,
                               disk_format=props.get('disk_format', 'raw'),
                               container_format=props.get('container_format', 'bare'),
                               allow_duplicates=True)
        try:
            ctx.section.put('restore-%s' % (ctx.restore or {}).get('id', 'image'),
                            {'image_id': image.id})
            reader = ChunkReader(store, meta['chunks'], ctx.progress)
            ctx.cloud.call('Uploading image %s' % image.id, image.upload, conn.image,
                           data=io.BufferedReader(reader, 1024 * 1024), size=meta['size'])
            if reader.size != meta['size']:
                raise BankCorrupted('Image %s read back from the bank has %d bytes, %d recorded.'
                                    % (ctx.resource.id, reader.size, meta['size']))
            restored = wait_image_active(ctx, image.id)
            expected = info.get('os_hash_value')
            if expected and restored.hash_algo == info.get('os_hash_algo') and \
                    restored.hash_value != expected:
                raise BankCorrupted('Restored image %s has %s %s, the original had %s.' % (
                    image.id, restored.hash_algo, restored.hash_value, expected))
        except BaseException:
            try:
                delete_image(ctx, image.id)
            except KarborError:
                pass
            raise
        ctx.publish_new_resource(ctx.resource.id, image.id)


class GlanceDelete(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        try:
            meta = ctx.section.get_json('metadata')
        except NotFound:
            meta = {}
        if meta.get('snapshot_image_id') and not meta.get('snapshot_deleted'):
            delete_image(ctx, meta['snapshot_image_id'])
        store = ChunkStore(ctx.checkpoint.bank)
        digests = set(meta.get('chunks') or [])
        for key in ctx.section.list('journal/'):
            digests.update(ctx.section.get_json(key).get('chunks') or [])
        for digest in sorted(digests):
            ctx.check_lease()
            store.release(digest, ctx.checkpoint.id)


class GlanceImagePlugin(ProtectionPlugin):
    name = 'karbor-image-protection-plugin'
    supported_types = (R.IMAGE,)

    def get_options_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Image options', 'additionalProperties': False,
                'properties': {'backup_name': {'type': 'string', 'title': 'Label of the copy'}}}

    def get_restore_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Image restore options', 'additionalProperties': False,
                'properties': {'restore_name': {'type': 'string',
                                                'title': 'Name of the restored image'}}}

    def get_saved_info_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'properties': {
            'image_metadata': {'type': 'object'}, 'size': {'type': 'integer'},
            'manifest_sha256': {'type': 'string'}, 'chunks_num': {'type': 'integer'}}}

    def get_saved_info(self, metadata: dict) -> dict:
        return {'image_metadata': metadata.get('image_metadata'), 'size': metadata.get('size'),
                'manifest_sha256': metadata.get('manifest_sha256'), 'chunks_num': len(metadata.get('chunks') or [])}

    def get_protect_operation(self, resource):
        return GlanceProtect()

    def get_restore_operation(self, resource):
        return GlanceRestore()

    def get_delete_operation(self, resource):
        return GlanceDelete()
