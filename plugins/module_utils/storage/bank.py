# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bank interface: a checksummed key/value object store.

Every object carries the sha256 of its bytes; every read verifies it, so a
damaged bank is reported as BankCorrupted instead of being restored from.
Backends (LocalBank, SwiftBank) only move bytes and checksums.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import re
from typing import Any, Callable, Iterator, NamedTuple

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, BankCorrupted, NotFound)

_KEY_RE = re.compile(r'^[A-Za-z0-9/_.\-@:]+$')


def normalize_key(key: str) -> str:
    """Absolute, slash-separated key; rejects empty, dotted and hidden segments."""
    if not isinstance(key, str) or not key or not _KEY_RE.match(key) or key.endswith('/'):
        raise InvalidInput('Bank key %r is not valid: use letters, digits and /_.-@: only, '
                           'and do not end it with a slash.' % (key,))
    parts = [p for p in key.split('/') if p]
    if not parts or any(p.startswith('.') for p in parts):
        raise InvalidInput('Bank key %r is not valid: no segment may be empty or start with a dot.'
                           % (key,))
    return '/' + '/'.join(parts)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_sha256(key: str, data: bytes, stored: str) -> None:
    """BankCorrupted unless ``data`` has the sha256 recorded with it."""
    actual = sha256_hex(data)
    if stored != actual:
        raise BankCorrupted('Bank object %s is corrupted: its sha256 is %s but %s was '
                            'recorded when it was written. Do not restore from it; delete the '
                            'checkpoint or repair the bank.' % (key, actual, stored), key=key)


def copy_incomplete(key: str, why: str) -> BankCorrupted:
    """The error of an object copied into a bank that does not hold it as sent."""
    return BankCorrupted('Bank object %s was copied but %s; the copy is not complete. Run it '
                         'again.' % (key, why), key=key)


def to_bytes(value: Any) -> bytes:
    """bytes pass through, str is UTF-8, everything else is canonical JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode('utf-8')
    return json.dumps(value, sort_keys=True, separators=(',', ':')).encode('utf-8')


class StoredObject(NamedTuple):
    """An object as its bank stores it, read for a copy into another bank:
    the bytes (already checked against ``sha256``) and, where the backend
    keeps one, the MD5 it computed when the object was written (Swift's
    ETag): a target backend that checks an MD5 on write (Swift) then checks
    what it received without hashing the bytes here once more."""
    data: bytes
    sha256: str
    md5: str | None = None


class Bank:
    """Abstract bank. Keys are absolute paths such as ``/checkpoints/<id>/index.json``."""

    kind = 'abstract'

    # -- backend primitives -------------------------------------------------
    def _put(self, key: str, data: bytes, checksum: str, exclusive: bool,
             expire_after: int | None) -> None:
        raise NotImplementedError

    def _get(self, key: str) -> tuple[bytes, str]:
        """Return (data, stored checksum); raise NotFound when absent."""
        raise NotImplementedError

    def _delete(self, key: str) -> bool:
        raise NotImplementedError

    def _list(self, prefix: str, marker: str | None, limit: int | None,
              reverse: bool) -> list[str]:
        raise NotImplementedError

    @classmethod
    def from_provider_config(cls, provider_id: str, section: dict[str, str],
                             config: dict[str, dict[str, str]], state_dir: str,
                             cloud_factory: Callable[[], Any]) -> 'Bank':
        """The bank a provider file describes: ``section`` is the bank's own
        section (see ``registry.BANK_KINDS``), ``config`` the whole file."""
        raise NotImplementedError

    # -- what every bank declares --------------------------------------------
    supports_expiry = False
    """Whether ``put(expire_after=...)`` makes the object disappear (Swift);
    other banks keep it and readers check the times they record."""

    def describe(self) -> dict:
        """The facts a user sees about the bank (type, where it is)."""
        return {'type': self.kind}

    def reset(self) -> None:
        """Drop cached connections (after fork)."""

    def content_digest(self, data: bytes) -> str:
        """The name of some content (a chunk, a checkpoint name): its sha256;
        an encrypted bank keys it, so its names reveal nothing."""
        return sha256_hex(data)

    # -- public API -----------------------------------------------------------
    def put(self, key: str, value: Any, exclusive: bool = False,
            expire_after: int | None = None, digest: str | None = None) -> str:
        """Write an object; with ``exclusive`` fail with Conflict if it exists.

        ``digest`` may pass ``content_digest(value)`` that the caller has just
        computed (content-addressed chunks): a plain bank records it as the
        sha256 instead of hashing the bytes twice.
        Returns the sha256 of the stored bytes.
        """
        key = normalize_key(key)
        data = to_bytes(value)
        checksum = digest or sha256_hex(data)
        self._put(key, data, checksum, exclusive, expire_after)
        return checksum

    def claim(self, key: str, value: Any) -> str:
        """Create an ownership marker (a named checkpoint, a delete, a fire
        time): like an exclusive put, and of several concurrent callers at
        most one succeeds; the others get Conflict. Returns the sha256."""
        key = normalize_key(key)
        data = to_bytes(value)
        checksum = sha256_hex(data)
        self._claim(key, data, checksum)
        return checksum

    def _claim(self, key: str, data: bytes, checksum: str) -> None:
        """Backends whose exclusive create is atomic need nothing more."""
        self._put(key, data, checksum, True, None)

    def get(self, key: str) -> bytes:
        """Read and verify an object."""
        key = normalize_key(key)
        data, stored = self._get(key)
        check_sha256(key, data, stored)
        return data

    # -- copying objects between banks as they are stored ------------------------
    def backend(self) -> 'Bank':
        """The bank that stores the bytes: this one, or the one an encrypting
        bank wraps. A copy moves objects between backends as they are stored
        (ciphertext stays ciphertext)."""
        return self

    def read_stored(self, key: str) -> StoredObject:
        """An object as stored, its sha256 checked (BankCorrupted otherwise;
        NotFound when absent), to be written into another bank with
        ``write_stored``."""
        key = normalize_key(key)
        data, stored = self._get(key)
        check_sha256(key, data, stored)
        return StoredObject(data, stored)

    def write_stored(self, key: str, obj: StoredObject) -> None:
        """Write an object read with ``read_stored`` from another bank, as
        is, and check that this bank holds it: here by reading back the
        recorded sha256 and size; a backend that checks the bytes it
        receives (Swift) does that instead. BankCorrupted when they differ."""
        key = normalize_key(key)
        self.put(key, obj.data, digest=obj.sha256)
        found = self.stat(key)
        if found != (obj.sha256, len(obj.data)):
            raise copy_incomplete(key, 'the target records %s instead of sha256 %s (%d bytes)'
                                  % (found, obj.sha256, len(obj.data)))

    def get_json(self, key: str) -> Any:
        data = self.get(key)
        try:
            return json.loads(data.decode('utf-8'))
        except ValueError:
            raise BankCorrupted('Bank object %s is not valid JSON although its checksum '
                                'matches; it was written by another tool.' % key, key=key)

    def get_text(self, key: str) -> str:
        return self.get(key).decode('utf-8', 'replace')

    def get_json_many(self, keys: list[str], workers: int = 8) -> list[Any]:
        """The JSON objects of ``keys`` in their order, fetched concurrently (a
        listing of N records costs about N / workers round trips, not N); None
        for a key deleted since it was listed."""
        def one(key: str) -> Any:
            try:
                return self.get_json(key)
            except NotFound:
                return None
        if len(keys) <= 1 or workers <= 1:
            return [one(key) for key in keys]
        with concurrent.futures.ThreadPoolExecutor(min(workers, len(keys))) as pool:
            return list(pool.map(one, keys))

    def _exists(self, key: str) -> bool:
        try:
            self._get(key)
            return True
        except NotFound:
            return False

    def exists(self, key: str) -> bool:
        return self._exists(normalize_key(key))

    def stat(self, key: str) -> tuple[str, int] | None:
        """The sha256 recorded with an object when it was written and its
        stored size (None when absent), without checking the bytes: what a
        copy compares to decide whether the target already holds an object.
        Backends that can read them alone (a Swift HEAD) override this."""
        try:
            data, checksum = self._get(normalize_key(key))
        except NotFound:
            return None
        return checksum, len(data)

    def location(self) -> str:
        """Where the objects are, precisely enough that two banks with the
        same location are one bank (a copy onto itself is refused)."""
        return json.dumps(self.describe(), sort_keys=True)

    def delete(self, key: str) -> bool:
        """Delete an object; returns False if it was already gone."""
        return self._delete(normalize_key(key))

    def list(self, prefix: str = '/', marker: str | None = None, limit: int | None = None,
             reverse: bool = False) -> list[str]:
        """Keys under ``prefix`` in key order (or reverse), after ``marker``."""
        if prefix != '/':
            prefix = '/' + prefix.lstrip('/')
        if marker is not None:
            marker = normalize_key(marker)
        if limit is not None and limit <= 0:
            return []
        return self._list(prefix, marker, limit, reverse)

    def iter_all(self, prefix: str, reverse: bool = False, page: int = 1000) -> Iterator[str]:
        """Every key under ``prefix``, fetched page by page."""
        marker = None
        while True:
            keys = self.list(prefix, marker=marker, limit=page, reverse=reverse)
            yield from keys
            if len(keys) < page:
                return
            marker = keys[-1]

    def check_all(self, prefix: str) -> tuple[int, dict[str, str]]:
        """Read back every object under ``prefix`` (each read checks its
        sha256): how many were read, and what is wrong by key (an object
        listed but gone when read counts as missing), so a caller can report
        every damaged object, not only the first."""
        count = 0
        problems: dict[str, str] = {}
        for key in self.iter_all(prefix):
            count += 1
            try:
                self.get(key)
            except BankCorrupted as exc:
                problems[key] = exc.msg
            except NotFound:
                problems[key] = 'Bank object %s is listed but missing.' % key
        return count, problems

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for key in list(self.iter_all(prefix)):
            if self.delete(key):
                count += 1
        return count

    def section(self, prefix: str) -> 'BankSection':
        return BankSection(self, prefix)


class BankSection:
    """A prefix-scoped view of a bank, used by protection plugins."""

    def __init__(self, bank: Bank, prefix: str) -> None:
        self.bank = bank
        self.prefix = normalize_key(prefix)

    def _key(self, key: str) -> str:
        return self.prefix + '/' + key.lstrip('/')

    def put(self, key: str, value: Any, exclusive: bool = False) -> str:
        return self.bank.put(self._key(key), value, exclusive=exclusive)

    def claim(self, key: str, value: Any) -> str:
        return self.bank.claim(self._key(key), value)

    def get(self, key: str) -> bytes:
        return self.bank.get(self._key(key))

    def get_json(self, key: str) -> Any:
        return self.bank.get_json(self._key(key))

    def get_text(self, key: str) -> str:
        return self.bank.get_text(self._key(key))

    def exists(self, key: str) -> bool:
        return self.bank.exists(self._key(key))

    def delete(self, key: str) -> bool:
        return self.bank.delete(self._key(key))

    def list(self, prefix: str = '') -> list[str]:
        """Keys relative to the section."""
        start = len(self.prefix) + 1
        return [k[start:] for k in self.bank.iter_all(self._key(prefix) if prefix else self.prefix + '/')]

    def delete_all(self) -> int:
        return self.bank.delete_prefix(self.prefix + '/')

    def section(self, prefix: str) -> 'BankSection':
        return BankSection(self.bank, self._key(prefix))
