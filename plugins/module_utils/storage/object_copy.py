# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sending bank objects a target bank lacks, each checked at the target.

A checkpoint's objects are its resource sections, its chunk reference lists
and the chunks those lists name (content-addressed, so most of a later copy
of a similar checkpoint is already there). Objects move as stored (on an
encrypted bank, as ciphertext: both banks use the same key).

What the target lacks is learnt from one listing of the target per group of
keys (``target_listing``), not a lookup per object: an object the listing
does not show is sent at once (one GET, its sha256 checked on the bytes
read, and one write the target checks: ``Bank.write_stored``; on Swift a
PUT with the MD5 as ETag, which Swift verifies, in place of a read back).
An object the listing shows is compared by its recorded sha256 and size at
both ends (a HEAD each), never by its name alone, and sent when they differ
or it is gone since (a stale listing). Whatever the listing gets wrong
costs a request, never a skipped object.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from dataclasses import dataclass, field
from typing import Iterable

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import (
    Bank, StoredObject)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    REFS_PREFIX, chunk_key)


# A listing of the target is read up to this many names per key looked up
# (at least one page of 10000): one listing request of 10000 names costs about
# as much as a few HEADs, so a target holding far more objects under the
# prefix than the copy has keys is looked up per object instead.
LISTING_NAMES_PER_KEY = 100
LISTING_PAGE = 10000


def raw(bank: Bank) -> Bank:
    """The bank that stores the bytes (an encrypted bank's inner one)."""
    return bank.backend()


def checkpoint_objects(bank: Bank, checkpoint_id: str) -> list[str]:
    """Every object of a checkpoint but its index.json, in the order a copy
    writes them: chunk reference lists first (whatever is stored is findable
    from its owner, as ``chunk_store`` requires), then the chunks they name,
    then the resource sections."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # one round trip less
        sections = pool.submit(lambda: list(bank.iter_all(
            '/checkpoints/%s/resource-data/' % checkpoint_id)))
        refs = list(bank.iter_all('%s%s/' % (REFS_PREFIX, checkpoint_id)))
        chunks: dict[str, None] = {}
        for listed in bank.get_json_many(refs):
            for digest in (listed or {}).get('chunks', []):
                chunks[chunk_key(digest)] = None
        return refs + list(chunks) + sections.result()


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


def target_listing(target: Bank, keys: list[str]) -> dict[str, bool]:
    """Which of ``keys`` the target lists (True) or does not (False), from
    one listing per group of keys with the same first segment, under their
    common folder; keys past where a long listing was cut off are left out
    (to be looked up one by one)."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(key.split('/', 2)[1], []).append(key)
    known: dict[str, bool] = {}

    def one(group: list[str]) -> None:
        common = os.path.commonprefix(group)
        prefix = common[:common.rfind('/') + 1]
        budget = max(LISTING_PAGE, LISTING_NAMES_PER_KEY * len(group))
        names = set(target.list(prefix, limit=budget))
        last = max(names) if len(names) >= budget else None
        for key in group:
            if last is None or key <= last:
                known[key] = key in names

    if len(groups) <= 1:
        for group in groups.values():
            one(group)
    else:  # the groups' listings at once: one round trip
        with concurrent.futures.ThreadPoolExecutor(len(groups)) as pool:
            for future in [pool.submit(one, group) for group in groups.values()]:
                future.result()
    return known


def read_ahead(source: Bank, keys: list[str]) -> dict[str, StoredObject]:
    """The objects of ``keys`` read (and checked) now, to be sent later by
    ``copy_objects(stored=...)`` (small ones: a checkpoint's sections, read
    while its chunks are sent). One that cannot be read is left out:
    ``copy_objects`` reads it again and reports what is wrong."""
    stored = {}
    for key in keys:
        try:
            stored[key] = source.read_stored(key)
        except KarborError:
            continue
    return stored


def copy_objects(source: Bank, target: Bank, keys: Iterable[str], dry_run: bool = False,
                 workers: int = 8, listed: dict[str, bool] | None = None,
                 stored: dict[str, StoredObject] | None = None) -> CopyCounters:
    """Send each of ``keys`` the target lacks (or holds with another
    sha256); with ``dry_run`` only count what would be sent. Both banks are
    raw (see ``raw``). ``listed`` may pass a ``target_listing`` made
    earlier for these keys (however stale: it only saves lookups), and
    ``stored`` objects already read (``read_ahead``). A sent object the
    target does not hold as sent raises BankCorrupted."""
    counters = CopyCounters()
    stored = stored or {}
    keys = list(keys)
    if listed is None:
        listed = target_listing(target, keys) if keys else {}

    def source_stat(key: str) -> tuple[str, int]:
        wanted = source.stat(key)
        if wanted is None:
            raise disappeared(key)
        return wanted

    def one(key: str) -> None:
        wanted = None
        if listed.get(key, True):  # listed, or past a cut-off listing: look it up
            found = target.stat(key)
            if found is not None:
                wanted = source_stat(key)
                if found == wanted:
                    counters.add(False, wanted[1])
                    return
        if dry_run:
            counters.add(True, (wanted or source_stat(key))[1])
            with counters.lock:
                counters.to_send.append(key)
            return
        obj = stored.get(key)
        if obj is None:
            try:
                obj = source.read_stored(key)  # checks the sha256 of what is read
            except NotFound:
                raise disappeared(key)
        target.write_stored(key, obj)  # checked at the target
        counters.add(True, len(obj.data))

    if keys:
        with concurrent.futures.ThreadPoolExecutor(min(workers, len(keys))) as pool:
            for future in [pool.submit(one, key) for key in keys]:
                future.result()
    counters.to_send.sort()
    return counters


def disappeared(key: str) -> NotFound:
    return NotFound('Bank object %s of the source checkpoint disappeared while it was being '
                    'copied; was the checkpoint deleted? Run the copy again.' % key)
