# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Content-addressed chunks shared by checkpoints, with batched references.

Bank layout (global, outside any checkpoint)::

  /chunks/<id[:2]>/<id>                      the bytes; the bank checks their sha256 on read
  /chunk-refs/<checkpoint>/<resource>/<seq>  JSON list of the chunks that owner uses

An *owner* is ``<checkpoint id>/<resource id>``. References are lists, one
object per batch of chunks, not one object per chunk: on Swift a small
object costs about as much as several MiB of data, so a per-chunk reference
would cost a quarter of the throughput (see docs/image-plugin.md).

Rules that keep data safe when a run dies at any line, and when a protect
races the delete of another checkpoint sharing chunks:

* a writer adds a reference list naming a batch of chunks (``add_refs``)
  before it looks any of them up or uploads them, so whatever it may have
  stored is findable from its owner;
* ``release`` first removes the owner's own lists, then scans the other
  owners' lists and deletes only the chunks nobody references; it is
  idempotent, so a delete that died is finished by running it again (the
  caller keeps its chunk list until then);
* a writer that found a chunk already stored re-checks it at the end
  (``missing``) and stores it again if a racing release removed it.

A chunk's id is the bank's ``content_digest`` of its bytes: their sha256,
or, on an encrypted bank (``encrypted_bank.EncryptedBank``), their
HMAC-SHA256 under a key derived from the bank key: the names of an encrypted
bank must not reveal content hashes. Use ``ChunkStore.digest`` to name
chunks, never sha256.

Reusable by any plugin that stores bytes (images, volumes, files).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
from typing import Callable, Iterable

from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, Conflict, InvalidInput, NotFound)

CHUNKS_PREFIX = '/chunks/'
REFS_PREFIX = '/chunk-refs/'
_HEX = frozenset('0123456789abcdef')


def check_digest(digest: str) -> str:
    if not isinstance(digest, str) or len(digest) != 64 or not _HEX.issuperset(digest):
        raise InvalidInput('%r is not a sha256 chunk name.' % (digest,))
    return digest


def chunk_key(digest: str) -> str:
    digest = check_digest(digest)
    return '%s%s/%s' % (CHUNKS_PREFIX, digest[:2], digest)


def owner_name(checkpoint_id: str, resource_id: str) -> str:
    for part in (checkpoint_id, resource_id):
        if not part or '/' in part or part.startswith('.'):
            raise InvalidInput('Chunk owner parts must be non-empty names without "/"; got %r.'
                               % (part,))
    return '%s/%s' % (checkpoint_id, resource_id)


def refs_prefix(owner: str) -> str:
    return '%s%s/' % (REFS_PREFIX, owner)


def tree_digest(digests: Iterable[str]) -> str:
    """sha256 over the ordered chunk digests: the whole content's identity
    (a one-level hash tree; with every chunk verified on read it verifies
    the whole image)."""
    return hashlib.sha256('\n'.join(digests).encode('ascii')).hexdigest()


class ChunkStore:
    """Chunks in a bank, named by the sha256 (or keyed HMAC) of their bytes."""

    def __init__(self, bank: Bank, workers: int = 8) -> None:
        self.bank = bank
        self.workers = max(1, workers)
        # An encrypted bank names chunks by a keyed HMAC (see the module doc).
        self.digest: Callable[[bytes], str] = bank.content_digest

    # -- bytes --------------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        return self.bank.exists(chunk_key(digest))

    def store(self, data: bytes, digest: str | None = None, probe: bool = True) -> int:
        """Write the bytes unless present; returns the bytes actually written.

        ``digest`` must be ``self.digest(data)`` when given (it is checked
        on every read). With ``probe`` the chunk is looked up first; without,
        an exclusive write is tried directly (cheaper for chunks that are
        probably new). Reference the chunk first (``add_refs``).
        """
        digest = digest or self.digest(data)
        if probe and self.exists(digest):
            return 0
        key = chunk_key(digest)
        try:
            # the bank's own digest: a plain bank need not hash the bytes again
            self.bank.put(key, data, exclusive=True, digest=digest)
        except Conflict:
            return 0  # already there, or a concurrent writer stored the same bytes
        return len(data)

    def get(self, digest: str) -> bytes:
        """The chunk's bytes, verified against its name."""
        key = chunk_key(digest)
        try:
            data = self.bank.get(key)
        except NotFound:
            raise BankCorrupted('Chunk %s is missing from the bank; the checkpoints using it '
                                'cannot be restored.' % digest, key=key)
        if self.digest(data) != digest:
            raise BankCorrupted('Chunk %s does not hold the bytes its name promises; the bank '
                                'is damaged.' % digest, key=key)
        return data

    def missing(self, digests: Iterable[str]) -> list[str]:
        """The digests (deduplicated, in order) whose chunk is not in the bank."""
        unique = list(dict.fromkeys(digests))
        if len(unique) <= 1:
            return [d for d in unique if not self.exists(d)]
        with concurrent.futures.ThreadPoolExecutor(min(self.workers, len(unique))) as pool:
            found = list(pool.map(self.exists, unique))
        return [d for d, there in zip(unique, found) if not there]

    # -- references ---------------------------------------------------------------
    def add_refs(self, owner: str, seq: int, digests: list[str]) -> None:
        """Record that ``owner`` uses ``digests`` (batch number ``seq``)."""
        for digest in digests:
            check_digest(digest)
        self.bank.put('%s%08d' % (refs_prefix(owner), seq), {'chunks': list(digests)})

    def ref_keys(self, owner: str) -> list[str]:
        return list(self.bank.iter_all(refs_prefix(owner)))

    def owner_refs(self, owner: str) -> list[str]:
        """Every chunk ``owner``'s lists name (deduplicated, in order)."""
        found: dict[str, None] = {}
        for key in self.ref_keys(owner):
            found.update(dict.fromkeys(self._read_list(key)))
        return list(found)

    def _read_list(self, key: str) -> list[str]:
        try:
            value = self.bank.get_json(key)
        except NotFound:
            return []  # released meanwhile
        chunks = value.get('chunks') if isinstance(value, dict) else None
        if not isinstance(chunks, list):
            raise BankCorrupted('Chunk reference list %s is damaged.' % key, key=key)
        return chunks

    def referenced(self, digests: Iterable[str], exclude_owner: str | None = None,
                   check: Callable[[], None] | None = None) -> set[str]:
        """Which of ``digests`` some owner (other than ``exclude_owner``) references.

        Scans the reference lists, those of the same resource first (they
        share the most), and stops as soon as every digest is accounted for.
        """
        wanted = set(digests)
        found: set[str] = set()
        if not wanted:
            return found
        skip = refs_prefix(exclude_owner) if exclude_owner else None
        resource = exclude_owner.split('/', 1)[1] if exclude_owner else None
        keys = [k for k in self.bank.iter_all(REFS_PREFIX) if not (skip and k.startswith(skip))]
        if resource:
            keys.sort(key=lambda k: k[len(REFS_PREFIX):].split('/')[1:2] != [resource])
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            for start in range(0, len(keys), self.workers):
                if check is not None:
                    check()
                for chunks in pool.map(self._read_list, keys[start:start + self.workers]):
                    found.update(wanted.intersection(chunks))
                if found == wanted:
                    break
        return found

    def release(self, owner: str, digests: Iterable[str],
                check: Callable[[], None] | None = None) -> int:
        """Drop ``owner``'s references and delete the chunks of ``digests``
        (plus any its lists still name) that no other owner references.

        Idempotent: after a crash, call it again with the same digests (the
        caller must keep them until it returns). Returns the chunks deleted.
        """
        own = dict.fromkeys(digests)
        own.update(dict.fromkeys(self.owner_refs(owner)))
        for key in self.ref_keys(owner):
            self.bank.delete(key)
        used = self.referenced(own, owner, check)
        unused = [d for d in own if d not in used]
        if not unused:
            return 0
        with concurrent.futures.ThreadPoolExecutor(min(self.workers, len(unused))) as pool:
            return sum(pool.map(lambda d: bool(self.bank.delete(chunk_key(d))), unused))

    # -- inspection ---------------------------------------------------------------
    def check(self, digests: Iterable[str], read: Iterable[str] = (),
              on_read: Callable[[int], None] | None = None) -> dict[str, str]:
        """What is wrong with an owner's chunks, by digest (empty when
        nothing is): each must be in the bank, and those of ``read`` are also
        read back, so the bank's sha256 and the chunk's name are both checked
        (a verification; ``on_read`` counts the bytes). Missing chunks are
        found by a lookup, without downloading them."""
        problems = {d: 'Chunk object %s is missing from the bank.' % chunk_key(d)
                    for d in self.missing(digests)}
        wanted = [d for d in dict.fromkeys(read) if d not in problems]

        def read_one(digest: str) -> str | None:
            try:
                data = self.get(digest)
            except BankCorrupted as exc:
                return exc.msg
            if on_read is not None:
                on_read(len(data))
            return None

        if wanted:
            with concurrent.futures.ThreadPoolExecutor(min(self.workers, len(wanted))) as pool:
                for digest, problem in zip(wanted, pool.map(read_one, wanted)):
                    if problem:
                        problems[digest] = problem
        return problems

    def iter_chunks(self):
        """Digests of every stored chunk."""
        for key in self.bank.iter_all(CHUNKS_PREFIX):
            yield key.rsplit('/', 1)[1]

    def orphans(self) -> list[str]:
        """Stored chunks no reference list names (a delete that died after
        dropping its lists leaves them until it is run again)."""
        stored = list(self.iter_chunks())
        used = self.referenced(stored)
        return [d for d in stored if d not in used]
