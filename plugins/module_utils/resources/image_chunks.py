# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Glance image's data into and out of bank chunks, and the chunks'
release and check: shared by the image plugin and the volume plugin's
``backup_mode: bank`` (which moves a volume's bytes through a temporary
image), so both store, verify and free chunks the same way."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.resources.glance_calls import (
    READ_BLOCK, open_image_data, raise_for_response)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    OperationContext)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_pipeline import (
    ChunkReader, ChunkUploader, fixed_chunks)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    ChunkStore, tree_digest)


def copy_image_data(ctx: OperationContext, store: ChunkStore, source_id: str, owner: str,
                    chunk_size: int, workers: int, memory_chunks: int, deadline: float,
                    response, chunks: Iterator[bytes | tuple[bytes, str]] | None = None,
                    all_read: Callable[[list[str], int], None] | None = None,
                    found: dict[str, bool] | None = None,
                    in_memory: Callable[[], int] | None = None) -> tuple[list[str], int]:
    """Copies the open download ``response`` of image ``source_id`` (closed
    when done) into chunks owned by ``owner``; ``chunks``, ``found`` and
    ``in_memory`` when it is already under way (read ahead; see
    ChunkUploader). Returns (digests in order, total bytes)."""
    if chunks is None:
        chunks = fixed_chunks(response.iter_content(READ_BLOCK), chunk_size)
    uploader = ChunkUploader(store, owner, workers, ctx.progress, ctx.check_lease,
                             deadline, 'image %s' % source_id, memory_chunks, found)
    try:
        digests, total = uploader.run(chunks, all_read, in_memory)
    finally:
        response.close()
    # A chunk found in the bank may have been deleted since by a delete of
    # another checkpoint that had not seen our reference yet: check the
    # reused ones and store them again from a new read of the image.
    for _attempt in range(3):
        missing = set(store.missing(uploader.reused))
        if not missing:
            return digests, total
        ctx.check_lease()
        response = open_image_data(ctx, source_id)
        try:
            for data in fixed_chunks(response.iter_content(READ_BLOCK), chunk_size):
                digest = store.digest(data)
                if digest in missing:
                    ctx.progress.add(bytes_uploaded=store.store(data, digest, probe=False))
                    missing.discard(digest)
                if not missing:
                    break
        finally:
            response.close()
        uploader.reused = [d for d in uploader.reused if d in missing]
    raise KarborError('%d chunk(s) of image %s were deleted from the bank while it was '
                      'protected; run the checkpoint again.'
                      % (len(missing), source_id))


def saved_chunks(ctx: OperationContext, meta: dict, what: str = 'image') -> list[str]:
    """The chunk list of a complete copy, checked against its hash tree."""
    chunks = meta.get('chunks')
    if meta.get('state') != 'available' or not isinstance(chunks, list):
        raise KarborError('Checkpoint %s holds no complete copy of %s %s.'
                          % (ctx.checkpoint.id, what, ctx.resource.id))
    if tree_digest(chunks) != meta.get('sha256_tree'):
        raise BankCorrupted('The chunk list of %s %s in checkpoint %s is damaged.'
                            % (what, ctx.resource.id, ctx.checkpoint.id))
    return chunks


def upload_chunks(ctx: OperationContext, image: Any, store: ChunkStore, chunks: list[str],
                  size: int, workers: int, what: str = 'Image') -> None:
    """Stream the chunks (each verified on read) into the created, empty
    Glance ``image``; refuses a read back that differs from the record."""
    conn = ctx.cloud.conn
    reader = ChunkReader(store, chunks, size, max(1, workers // 2), ctx.progress)
    try:
        def upload():
            response = image.upload(conn.image, data=reader, size=size)
            raise_for_response(response)
        ctx.cloud.call('Uploading image %s' % image.id, upload)
    finally:
        reader.close()
    if reader.read_bytes != size or reader.verified != chunks:
        raise BankCorrupted('%s %s read back from the bank has %d bytes in %d chunks; '
                            '%d bytes in %d chunks were recorded.' % (
                                what, ctx.resource.id, reader.read_bytes,
                                len(reader.verified), size, len(chunks)))


def release_chunks(ctx: OperationContext, store: ChunkStore, owner: str, meta: dict) -> None:
    """Free the owner's chunks that no other checkpoint uses.

    The chunk list stays in the checkpoint (``release-set``) until every
    chunk is released: a delete that dies after dropping the references is
    finished by the next."""
    digests = dict.fromkeys(meta.get('chunks') or [])
    try:
        digests.update(dict.fromkeys(ctx.section.get_json('release-set')))
    except NotFound:
        pass
    digests.update(dict.fromkeys(store.owner_refs(owner)))
    if digests:
        ctx.section.put('release-set', list(digests))
    store.release(owner, digests, ctx.check_lease)
    ctx.section.delete('release-set')


def check_chunks(ctx: OperationContext, store: ChunkStore, owner: str, chunks: list[str],
                 what: str = 'Image') -> None:
    """Every chunk is in the bank and referenced by ``owner`` (else a delete
    of another checkpoint may free it); at level ``data`` the chosen chunks
    are read and hashed."""
    options = ctx.verification
    read = options.pick(chunks) if options is not None else []
    problems = store.check(chunks, read, lambda size: ctx.progress.add(bytes_done=size))
    unreferenced = set(chunks) - set(store.owner_refs(owner)) - set(problems)
    problems.update({d: 'Chunk %s is not referenced by the checkpoint\'s reference lists.'
                     % d for d in unreferenced})
    if problems:
        raise BankCorrupted('%s %s: %d of %d chunk(s) failed: %s' % (
            what, ctx.resource.id, len(problems), len(set(chunks)),
            ' '.join(problems[d] for d in dict.fromkeys(chunks) if d in problems)))


def compare_with_chunks(ctx: OperationContext, store: ChunkStore, image_id: str,
                        meta: dict) -> list[str]:
    """What differs between the bytes Glance serves for ``image_id`` and the
    saved copy: read once, cut as protect cut them, each piece named as the
    bank names chunks, so the size and the hash tree over those names
    (``sha256_tree``) are compared without keeping anything (a drill)."""
    chunks = saved_chunks(ctx, meta)
    digests: list[str] = []
    total = 0
    response = open_image_data(ctx, image_id)
    try:
        for data in fixed_chunks(response.iter_content(READ_BLOCK), int(meta['chunk_size'])):
            digests.append(store.digest(data))
            total += len(data)
            ctx.progress.add(bytes_done=len(data))
    finally:
        response.close()
    problems = []
    if total != meta.get('size'):
        problems.append('size %d bytes, saved %s' % (total, meta.get('size')))
    if tree_digest(digests) != meta.get('sha256_tree'):
        first = next((i for i, pair in enumerate(zip(digests, chunks)) if pair[0] != pair[1]),
                     min(len(digests), len(chunks)))
        problems.append('bytes differ from the saved copy from chunk %d (of %d) on: sha256 '
                        'tree %s, saved %s' % (first, len(chunks), tree_digest(digests),
                                               meta.get('sha256_tree')))
    return problems
