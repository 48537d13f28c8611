# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sending bank objects a target bank lacks, each checked at the target.

A checkpoint's objects are its resource sections, its chunk reference lists
and the chunks those lists name (content-addressed, so most of a later copy
of a similar checkpoint is already there). Objects move as stored (on an
encrypted bank, as ciphertext: both banks use the same key), and whether the
target holds one is decided by its recorded sha256 (a Swift HEAD), never by
its name alone. After each upload the target's recorded sha256 is read back
and compared with the source's.
"""

from __future__ import annotations

import concurrent.futures
import threading
from dataclasses import dataclass, field
from typing import Iterable

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    REFS_PREFIX, chunk_key)


def raw(bank: Bank) -> Bank:
    """The bank that stores the bytes (an encrypted bank's inner one)."""
    return getattr(bank, 'inner', bank)


def checkpoint_objects(bank: Bank, checkpoint_id: str) -> list[str]:
    """Every object of a checkpoint but its index.json, in the order a copy
    writes them: chunk reference lists first (whatever is stored is findable
    from its owner, as ``chunk_store`` requires), then the chunks they name,
    then the resource sections."""
    refs = list(bank.iter_all('%s%s/' % (REFS_PREFIX, checkpoint_id)))
    chunks: dict[str, None] = {}
    for listed in bank.get_json_many(refs):
        for digest in (listed or {}).get('chunks', []):
            chunks[chunk_key(digest)] = None
    sections = list(bank.iter_all('/checkpoints/%s/resource-data/' % checkpoint_id))
    return refs + list(chunks) + sections


@dataclass
class CopyCounters:
    """What a copy sent and skipped (bytes are the stored sizes)."""
    objects_sent: int = 0
    objects_skipped: int = 0
    bytes_sent: int = 0
    bytes_skipped: int = 0
    to_send: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, sent: bool, size: int) -> None:
        with self.lock:
            if sent:
                self.objects_sent += 1
                self.bytes_sent += size
            else:
                self.objects_skipped += 1
                self.bytes_skipped += size

    def to_dict(self) -> dict[str, int]:
        return {'objects_sent': self.objects_sent, 'objects_skipped': self.objects_skipped,
                'bytes_sent': self.bytes_sent, 'bytes_skipped': self.bytes_skipped}


def copy_objects(source: Bank, target: Bank, keys: Iterable[str], dry_run: bool = False,
                 workers: int = 8) -> CopyCounters:
    """Send each of ``keys`` the target lacks (or holds with another
    sha256); with ``dry_run`` only count what would be sent. Both banks are
    raw (see ``raw``). A sent object whose sha256 at the target differs
    from the source's raises BankCorrupted."""
    counters = CopyCounters()

    def one(key: str) -> None:
        wanted = source.stat(key)
        if wanted is None:
            raise NotFound('Bank object %s of the source checkpoint disappeared while it was '
                           'being copied; was the checkpoint deleted? Run the copy again.' % key)
        if target.stat(key) == wanted:
            counters.add(False, wanted[1])
            return
        counters.add(True, wanted[1])
        if dry_run:
            with counters.lock:
                counters.to_send.append(key)
            return
        data = source.get(key)  # checks the sha256 of what is read
        target.put(key, data, digest=wanted[0])
        found = target.stat(key)
        if found != (wanted[0], len(data)):
            raise BankCorrupted('Bank object %s was copied but the target records %s instead '
                                'of sha256 %s (%d bytes); the copy is not complete. Run it '
                                'again.' % (key, found, wanted[0], len(data)), key=key)

    keys = list(keys)
    if keys:
        with concurrent.futures.ThreadPoolExecutor(min(workers, len(keys))) as pool:
            for future in [pool.submit(one, key) for key in keys]:
                future.result()
    counters.to_send.sort()
    return counters
