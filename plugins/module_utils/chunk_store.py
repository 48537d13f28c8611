# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Content-addressed chunks shared by checkpoints, with references.

  /chunks/<sha[:2]>/<sha>            the bytes (the bank checks the sha256 on read)
  /chunk-refs/<sha>/<checkpoint id>  one reference per checkpoint using the chunk

A reference is written before the chunk is looked up or uploaded, and a
chunk is deleted only when its last reference is gone, so a chunk shared by
several checkpoints lives as long as the last of them, and a protect racing
a delete re-uploads rather than loses data (``ensure`` after the fact).
"""

from __future__ import annotations

import hashlib

from ansible_collections.karbor.protection.plugins.module_utils.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.errors import (
    BankCorrupted, Conflict)


def chunk_key(digest: str) -> str:
    return '/chunks/%s/%s' % (digest[:2], digest)


def ref_prefix(digest: str) -> str:
    return '/chunk-refs/%s/' % digest


class ChunkStore:
    def __init__(self, bank: Bank) -> None:
        self.bank = bank

    def add_ref(self, digest: str, owner: str) -> None:
        self.bank.put(ref_prefix(digest) + owner, owner)

    def put(self, data: bytes, owner: str, digest: str | None = None) -> tuple[str, int]:
        """Reference and store a chunk; returns (sha256, bytes actually uploaded).

        Zero uploaded bytes means the chunk was already there: only such
        chunks can be lost to a racing delete, so only they need ``missing``.
        """
        digest = digest or hashlib.sha256(data).hexdigest()
        self.add_ref(digest, owner)
        if self.bank.exists(chunk_key(digest)):
            return digest, 0
        try:
            self.bank.put(chunk_key(digest), data, exclusive=True, sha256=digest)
        except Conflict:
            return digest, 0  # a concurrent writer stored the same bytes
        return digest, len(data)

    def get(self, digest: str) -> bytes:
        data = self.bank.get(chunk_key(digest))
        if hashlib.sha256(data).hexdigest() != digest:
            raise BankCorrupted('Chunk %s does not hold the bytes its name promises.' % digest)
        return data

    def missing(self, digests: list[str]) -> list[str]:
        return [d for d in dict.fromkeys(digests) if not self.bank.exists(chunk_key(d))]

    def release(self, digest: str, owner: str) -> bool:
        """Drop ``owner``'s reference; delete the chunk if nobody else uses it."""
        self.bank.delete(ref_prefix(digest) + owner)
        if self.bank.list(ref_prefix(digest), limit=1):
            return False
        self.bank.delete(chunk_key(digest))
        return True
