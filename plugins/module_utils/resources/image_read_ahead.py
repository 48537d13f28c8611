# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image plugin's read ahead: the image's record and first chunks read
while the engine writes the checkpoint."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any, Callable, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.resources.glance_calls import (
    READ_BLOCK, image_document, open_image_data)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    OperationContext)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_pipeline import (
    fixed_chunks)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    ChunkStore)


class ImageReadAhead:
    """Reads an image's record and first chunks while the engine writes the
    checkpoint, so the uploads can start as soon as the checkpoint is in the
    bank. Holds at most ``limit`` chunks, named, and whether the first one is
    in the bank already; the chunks it has not read are read by whoever
    takes it, from the same download."""

    def __init__(self, ctx: OperationContext, image_id: str, chunk_size: int,
                 limit: int, store: ChunkStore) -> None:
        self.ctx = ctx
        self.image_id = image_id
        self.chunk_size = chunk_size
        self.limit = max(0, limit)
        self.store = store
        self.document: dict | None = None
        self.response = None
        self.chunks: Iterator[bytes] | None = None
        self.prefix: list[tuple[bytes, str]] = []
        self.found: dict[str, bool] = {}  # looked up before any reference: see ChunkUploader
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.opened = threading.Event()  # record and download there (or failed)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, name='karbor-read-ahead', daemon=True)
        self.thread.start()

    def _read(self) -> None:
        opener = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='karbor-open')
        try:
            opened = opener.submit(open_image_data, self.ctx, self.image_id)
            try:
                self.document = image_document(self.ctx, self.image_id)
            finally:
                self.response = opened.result()
            if self.document.get('status') != 'active':
                return  # on_main waits for it and opens the download again
            chunks = fixed_chunks(self.response.iter_content(READ_BLOCK), self.chunk_size)
            self.chunks = chunks
            self.opened.set()
            looked_up = None
            while len(self.prefix) < self.limit and not self.stop.is_set():
                data = next(chunks, None)
                if data is None:
                    break
                digest = self.store.digest(data)
                with self.lock:
                    self.prefix.append((data, digest))
                if looked_up is None:
                    looked_up = opener.submit(self.store.exists, digest)
                    looked_up.add_done_callback(
                        lambda f, d=digest: f.exception() or self.found.update({d: f.result()}))
        except BaseException as exc:  # pylint: disable=broad-except
            self.error = exc  # before take(): on_main starts over; after: the copy fails
        finally:
            self.opened.set()
            opener.shutdown(wait=False)

    def take(self) -> tuple[dict, Any, Iterator[bytes | tuple[bytes, str]],
                            Callable[[], int]] | None:
        """(image record, open response, every chunk from the first: the
        ones read ahead as (bytes, digest), how many of those are still to be
        handed over), or None when the read ahead found nothing usable (it is
        then closed)."""
        self.stop.set()  # the chunk being read is still added, then the thread ends
        self.opened.wait()
        if self.error is not None or self.chunks is None:
            self.close()
            return None
        chunks = self.chunks

        def every_chunk() -> Iterator[bytes | tuple[bytes, str]]:
            while True:  # the chunks read ahead first, without waiting for the last one
                with self.lock:
                    item = self.prefix.pop(0) if self.prefix else None  # not kept once given
                if item is not None:
                    yield item
                elif self.thread.is_alive():
                    self.thread.join()
                else:
                    break
            if self.error is not None:
                raise self.error
            yield from chunks

        def in_memory() -> int:
            with self.lock:
                return len(self.prefix)
        return self.document or {}, self.response, every_chunk(), in_memory

    def close(self) -> None:
        self.stop.set()
        if self.response is not None:
            self.response.close()  # also ends a read that is blocked
        self.thread.join(timeout=30)
        with self.lock:
            self.prefix = []
