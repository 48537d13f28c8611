# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming bytes into and out of a ChunkStore.

``fixed_chunks`` cuts a stream into chunks, ``ChunkUploader`` names,
references and uploads them in parallel with bounded memory, and
``ChunkReader`` reads them back, verified, as a file. Any plugin that copies
data into the bank (images, volumes, files) uses these three.
"""

from __future__ import annotations

import concurrent.futures
import io
import threading
import time
from typing import Callable, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    ChunkStore)
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    ResourceTimeout)

Digest = concurrent.futures.Future  # of a chunk's name, computed beside the download


def fixed_chunks(stream: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Re-cut an iterator of arbitrary byte blocks into ``size``-byte chunks
    (the last one shorter; never an empty one)."""
    parts: list[bytes] = []
    held = 0
    for block in stream:
        if not block:
            continue
        parts.append(block)
        held += len(block)
        if held < size:
            continue
        data = b''.join(parts)
        view = memoryview(data)
        start = 0
        while held - start >= size:
            yield bytes(view[start:start + size]) if start or len(data) != size else data
            start += size
        parts = [bytes(view[start:])] if start < held else []
        held -= start
        del view
    if held:
        yield b''.join(parts)


def _known(digest: str) -> Digest:
    future: Digest = concurrent.futures.Future()
    future.set_result(digest)
    return future


class ChunkUploader:
    """Hashes chunks, references them in batches, uploads them in parallel.

    At most ``memory_chunks`` chunks are held in memory (default
    ``workers + 2``; the plugin passes ``max_chunks_in_memory``). Before a batch of
    chunks is looked up or uploaded, one reference list naming them is
    written (``ChunkStore.add_refs``, on a thread of its own; the batch's
    uploads wait for it); batches grow (up to ``workers`` chunks, within the memory left
    beside the running uploads), so there is one small bank write per several
    chunks rather than per chunk (on Swift a small write costs as much as
    several MiB of data). Only at the start, while uploads are idle, do
    smaller batches go out (each keeping at least half the idle ones busy).

    Whether a chunk is looked up before it is written adapts: the first
    chunk is looked up (the others wait for the answer); once a lookup
    misses, new chunks are written directly (exclusively) until a write finds
    the chunk already there. ``found`` holds lookups made before the
    reference was written (a read ahead): a chunk found there is only
    trusted until the end-of-run check of reused chunks, as any reused one.
    """

    def __init__(self, store: ChunkStore, owner: str, workers: int, progress,
                 check: Callable[[], None] = lambda: None, deadline: float | None = None,
                 what: str = 'image', memory_chunks: int | None = None,
                 found: dict[str, bool] | None = None) -> None:
        self.store = store
        self.found = dict(found or {})
        self.memory_chunks = max(2, memory_chunks or workers + 2)
        self.owner = owner
        self.workers = workers
        self.progress = progress
        self.check = check
        self.deadline = deadline
        self.what = what
        self.seq = 0
        # look chunks up first? decided by the first chunk, or by the one looked up ahead
        self.probe: bool | None = any(self.found.values()) if self.found else None
        self.probing = False
        self.cond = threading.Condition()
        self.inflight = 0
        self.errors: list[BaseException] = []
        self.reused: list[str] = []
        # Batches as big as the memory beside the running uploads allows, so
        # there are few reference writes; halve the uploads if memory is short.
        capacity = self.memory_chunks  # pending + uploading + the next one read
        self.batch = max(1, min(workers, max(capacity - 1 - workers, (capacity - 1) // 2)))
        self.low = max(1, min(2, self.batch // 2))

    # -- one chunk, on an upload thread -------------------------------------------------
    def _upload(self, refs: concurrent.futures.Future, digest_of: Digest, data: bytes) -> None:
        try:
            refs.result()  # never touch a chunk before its reference is in the bank
            digest = digest_of.result()
            uploaded = self._store(digest, data)
            self.progress.add(bytes_done=len(data), bytes_uploaded=uploaded)
            if not uploaded:
                with self.cond:
                    self.reused.append(digest)
        except BaseException as exc:  # pylint: disable=broad-except
            with self.cond:
                self.errors.append(exc)
        finally:
            with self.cond:
                self.inflight -= 1
                self.cond.notify_all()

    def _probe_turn(self) -> tuple[bool, bool]:
        """(is this the first chunk, look it up first?); the first chunk's
        lookup decides for the rest, which wait for it."""
        with self.cond:
            first = self.probe is None and not self.probing
            if first:
                self.probing = True
            while self.probe is None and not first:
                self.cond.wait(1.0)
            return first, True if first else bool(self.probe)

    def _store(self, digest: str, data: bytes) -> int:
        """Store one chunk as the lookups so far suggest; the bytes written."""
        first, probe = self._probe_turn()
        if digest in self.found:  # looked up ahead
            return 0 if self.found[digest] else self.store.store(data, digest, probe=False)
        if first:
            there = True
            try:
                there = self.store.exists(digest)
            finally:
                with self.cond:
                    self.probe = there  # the bank lacked it: the next are likely new too
                    self.cond.notify_all()
            return 0 if there else self.store.store(data, digest, probe=False)
        uploaded = self.store.store(data, digest, probe=probe)
        if probe and uploaded:
            self.probe = False
        elif not probe and not uploaded:
            self.probe = True
        return uploaded

    # -- the reading thread ---------------------------------------------------------------
    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ResourceTimeout('Timed out copying %s into the bank; raise the timeout option.'
                                  % self.what)

    def _write_refs(self, seq: int, batch_digests: list[Digest]) -> None:
        self.store.add_refs(self.owner, seq, [f.result() for f in batch_digests])

    def _flush(self, pending: list[tuple[Digest, bytes]], pool, journal) -> None:
        """Reference the pending batch and hand its chunks to the uploads."""
        # On its own thread so it starts at once: by the time a worker
        # takes up the batch, its reference is usually in the bank.
        refs = journal.submit(self._write_refs, self.seq, [d for d, _data in pending])
        self.seq += 1
        with self.cond:
            self.inflight += len(pending)
        for digest, data in pending:
            pool.submit(self._upload, refs, digest, data)
        pending.clear()

    def _flush_due(self, pending: int, inflight: int, room: bool,
                   in_memory: Callable[[], int] | None) -> bool:
        """A full batch goes out; so does a partial one that keeps at least
        half the idle uploads busy (at the start, before a batch waits in
        the queue), unless the next chunk is in memory already (read ahead):
        then one list names both. Without room, a batch goes out while an
        upload is free."""
        idle = self.workers - inflight
        feeds = inflight < self.low or (idle > 0 and pending >= max(self.low, (idle + 1) // 2))
        return (pending >= self.batch or (feeds and not (in_memory and in_memory())) or
                (not room and inflight < self.workers))

    def _flush_and_wait(self, pending: list[tuple[Digest, bytes]], pool, journal,
                        in_memory: Callable[[], int] | None) -> None:
        """Flush when due, and wait until the next chunk fits in memory."""
        while True:
            with self.cond:
                if self.errors:
                    raise self.errors[0]
                inflight = self.inflight
                room = inflight + len(pending) < self.memory_chunks
            if pending and self._flush_due(len(pending), inflight, room, in_memory):
                self._flush(pending, pool, journal)
                continue
            if room:
                return
            with self.cond:
                if self.inflight == inflight and not self.errors:
                    self.cond.wait(1.0)
            self._check_time()

    def _wait_idle(self) -> None:
        with self.cond:
            while self.inflight:
                self.cond.wait(1.0)

    def run(self, chunks: Iterator[bytes | tuple[bytes, str]],
            all_read: Callable[[list[str], int], None] | None = None,
            in_memory: Callable[[], int] | None = None) -> tuple[list[str], int]:
        """Returns (digests in order, total bytes). ``chunks`` yields bytes,
        or (bytes, digest) when the digest is known. ``all_read(digests,
        total)`` is called once every chunk is read and hashed, while the last
        uploads may still run. ``in_memory()``: how many of the next chunks
        ``chunks`` holds read already."""
        digests: list[Digest] = []
        pending: list[tuple[Digest, bytes]] = []
        total = 0
        # Hashing runs beside the download (hashlib releases the GIL), so the
        # thread reading from Glance only reads, as a plain copy would.
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.workers,
                                                   thread_name_prefix='karbor-chunk') as pool, \
                concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                      thread_name_prefix='karbor-refs') as journal, \
                concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                      thread_name_prefix='karbor-hash') as hasher:
            try:
                for item in chunks:
                    self.check()
                    self._check_time()
                    if isinstance(item, tuple):
                        data, digest = item[0], _known(item[1])
                    else:
                        # the bank's content digest: sha256, or keyed HMAC if encrypted
                        data, digest = item, hasher.submit(self.store.digest, item)
                    digests.append(digest)
                    total += len(data)
                    pending.append((digest, data))
                    del data, item
                    self._flush_and_wait(pending, pool, journal, in_memory)
                if pending and not self.errors:
                    self._flush(pending, pool, journal)
                if all_read is not None and not self.errors:
                    all_read([d.result() for d in digests], total)
            finally:
                pending.clear()
                self._wait_idle()
        if self.errors:
            raise self.errors[0]
        return [d.result() for d in digests], total


class ChunkReader(io.RawIOBase):
    """A file-like view of chunks read back (and verified) from the bank,
    ``prefetch`` chunks ahead in parallel; has a length so HTTP clients send
    it with a Content-Length."""

    def __init__(self, store: ChunkStore, digests: list[str], size: int, prefetch: int = 4,
                 progress=None) -> None:
        super().__init__()
        self.store = store
        self.digests = list(digests)
        self.size = size
        self.read_bytes = 0
        self.verified: list[str] = []
        self.progress = progress
        self.pool = concurrent.futures.ThreadPoolExecutor(max(1, prefetch),
                                                          thread_name_prefix='karbor-read')
        self.window = max(1, prefetch)
        self.futures: list[tuple[str, concurrent.futures.Future]] = []
        self.next = 0
        self.view = memoryview(b'')

    def __len__(self) -> int:
        return self.size

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while len(self.futures) < self.window and self.next < len(self.digests):
            digest = self.digests[self.next]
            self.futures.append((digest, self.pool.submit(self.store.get, digest)))
            self.next += 1

    def readinto(self, target) -> int:
        while not len(self.view):
            self._fill()
            if not self.futures:
                return 0
            digest, future = self.futures.pop(0)
            data = future.result()
            self.verified.append(digest)
            self.view = memoryview(data)
            if self.progress is not None:
                self.progress.add(bytes_done=len(data))
            self._fill()
        size = min(len(target), len(self.view))
        target[:size] = self.view[:size]
        self.view = self.view[size:]
        self.read_bytes += size
        return size

    def close(self) -> None:
        for _digest, future in self.futures:
            future.cancel()
        self.futures = []
        self.pool.shutdown(wait=True)
        super().close()
