# -*- coding: utf-8 -*-
"""storage/object_copy.py: what the target lacks comes from one listing (a stale or cut-off
listing costs a lookup, never a skipped object), each sent object is read once and written
once, checked at the target (Swift: the MD5 as ETag, a 422 is BankCorrupted), and an
encrypted bank's ciphertext moves as stored."""
from __future__ import annotations

import hashlib

import pytest
from swiftclient.exceptions import ClientException

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.storage import object_copy
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import (
    StoredObject, sha256_hex)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    ChunkStore)
from ansible_collections.karbor.protection.plugins.module_utils.storage.encrypted_bank import (
    EncryptedBank)
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
from ansible_collections.karbor.protection.plugins.module_utils.storage.object_copy import (
    checkpoint_objects, copy_objects, raw, target_listing)
from ansible_collections.karbor.protection.plugins.module_utils.storage.swift_bank import (
    SwiftBank)

from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.test_object_copy import (
    CID, source_bank)


class CountingBank(LocalBank):
    """A local bank that counts the calls a copy makes."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.calls: list[tuple[str, str]] = []

    def stat(self, key):
        self.calls.append(('stat', key))
        return super().stat(key)

    def read_stored(self, key):
        self.calls.append(('read', key))
        return super().read_stored(key)

    def write_stored(self, key, obj):
        self.calls.append(('write', key))
        return super().write_stored(key, obj)

    def list(self, prefix='/', marker=None, limit=None, reverse=False):
        self.calls.append(('list', prefix))
        return super().list(prefix, marker, limit, reverse)


def counting_source(tmp_path) -> CountingBank:
    source_bank(tmp_path)
    return CountingBank(str(tmp_path / 'source'))


def test_a_copy_into_an_empty_target_reads_and_writes_each_object_once(tmp_path):
    source, target = counting_source(tmp_path), CountingBank(str(tmp_path / 'target'))
    keys = checkpoint_objects(source, CID)
    source.calls.clear()
    counters = copy_objects(source, target, keys)
    assert counters.objects_sent == len(keys) == 4
    assert sorted(source.calls) == sorted(('read', k) for k in keys)  # no HEAD before
    writes = [c for c in target.calls if c[0] == 'write']
    assert sorted(writes) == sorted(('write', k) for k in keys)
    # one listing per group of keys (reference lists, chunks, sections), no lookups
    assert sorted(c for c in target.calls if c[0] == 'list') == [
        ('list', '/checkpoints/%s/resource-data/img/' % CID),
        ('list', '/chunk-refs/%s/img/' % CID), ('list', '/chunks/')]
    # and no lookup before a write: a local bank's only check is its read back after it
    assert sorted(c[1] for c in target.calls if c[0] == 'stat') == sorted(keys)
    for key in keys:
        assert target.calls.index(('write', key)) < target.calls.index(('stat', key))
    for key in keys:
        assert target.get(key) == source.get(key)


def test_a_listing_made_earlier_saves_the_lookups_of_what_it_shows_missing(tmp_path):
    source, target = source_bank(tmp_path), CountingBank(str(tmp_path / 'target'))
    keys = checkpoint_objects(source, CID)
    listed = target_listing(target, keys)
    target.write_stored(keys[1], source.read_stored(keys[1]))  # arrived since
    target.calls.clear()
    counters = copy_objects(source, target, keys, listed=listed)
    assert (counters.objects_sent, counters.objects_skipped) == (4, 0)  # sent again: harmless
    assert not [c for c in target.calls if c[0] == 'list']
    assert target.get(keys[1]) == source.get(keys[1])


def test_an_object_listed_but_gone_since_is_sent(tmp_path):
    """A stale listing (an object deleted after it was listed) is confirmed by a lookup."""
    source, target = source_bank(tmp_path), LocalBank(str(tmp_path / 'target'))
    keys = checkpoint_objects(source, CID)
    real_list = target.list

    def stale_list(prefix='/', marker=None, limit=None, reverse=False):
        return sorted(set(real_list(prefix, marker, limit, reverse)) |
                      {k for k in keys if k.startswith(prefix)})
    target.list = stale_list
    assert target_listing(target, keys) == dict.fromkeys(keys, True)
    counters = copy_objects(source, target, keys)
    assert (counters.objects_sent, counters.objects_skipped) == (4, 0)
    for key in keys:
        assert target.get(key) == source.get(key)


def test_keys_past_a_cut_off_listing_are_looked_up(tmp_path, monkeypatch):
    source, target = source_bank(tmp_path), CountingBank(str(tmp_path / 'target'))
    keys = checkpoint_objects(source, CID)
    chunks = sorted(k for k in keys if k.startswith('/chunks/'))
    for key in chunks:
        target.write_stored(key, source.read_stored(key))
    target.put('/chunks/00/' + '0' * 64, b'another checkpoint\'s chunk')
    monkeypatch.setattr(object_copy, 'LISTING_PAGE', 1)
    monkeypatch.setattr(object_copy, 'LISTING_NAMES_PER_KEY', 1)
    known = target_listing(target, chunks)  # two chunks, the listing stops after two names
    assert known == {chunks[0]: True}, known
    target.calls.clear()
    counters = copy_objects(source, target, chunks)
    assert (counters.objects_sent, counters.objects_skipped) == (0, 2)
    assert sorted(c for c in target.calls if c[0] == 'stat') == sorted(
        ('stat', k) for k in chunks)


def test_a_listed_object_that_differs_is_replaced_and_check_mode_sends_nothing(tmp_path):
    source, target = source_bank(tmp_path), LocalBank(str(tmp_path / 'target'))
    keys = checkpoint_objects(source, CID)
    target.put(keys[1], b'stale bytes under a chunk name')
    dry = copy_objects(source, target, keys, dry_run=True)
    assert (dry.objects_sent, dry.objects_skipped) == (4, 0)
    assert dry.bytes_sent == sum(source.stat(k)[1] for k in keys)
    assert target.get(keys[1]) == b'stale bytes under a chunk name'
    assert copy_objects(source, target, keys).objects_sent == 4
    assert target.get(keys[1]) == source.get(keys[1])


def test_a_source_object_deleted_during_the_copy_is_reported(tmp_path):
    source, target = source_bank(tmp_path), LocalBank(str(tmp_path / 'target'))
    key = checkpoint_objects(source, CID)[-1]
    source.delete(key)
    with pytest.raises(NotFound, match='disappeared while it was being copied'):
        copy_objects(source, target, [key])


def test_a_damaged_source_object_is_not_sent(tmp_path):
    source, target = source_bank(tmp_path), LocalBank(str(tmp_path / 'target'))
    key = checkpoint_objects(source, CID)[-1]
    data = source.get(key)
    source._put(key, data + b'x', sha256_hex(data), False, None)  # pylint: disable=protected-access
    with pytest.raises(BankCorrupted, match='is corrupted'):
        copy_objects(source, target, [key])
    assert not target.exists(key)


def test_an_encrypted_bank_moves_its_ciphertext_as_stored(tmp_path):
    key = b'k' * 32
    source = EncryptedBank(LocalBank(str(tmp_path / 'source')), key)
    digest = source.content_digest(b'chunk bytes')
    ChunkStore(source).add_refs('%s/img' % CID, 0, [digest])
    ChunkStore(source).store(b'chunk bytes')
    source.put('/checkpoints/%s/resource-data/img/secret' % CID, b'plain text')
    target = EncryptedBank(LocalBank(str(tmp_path / 'target')), key)
    assert raw(source) is source.inner and raw(target) is target.inner
    keys = checkpoint_objects(source, CID)
    stored = source.read_stored(keys[-1])
    assert stored == source.inner.read_stored(keys[-1]) and b'plain text' not in stored.data
    # through the encrypted bank itself too: written as is, not encrypted once more
    target.write_stored(keys[-1], stored)
    assert target.inner.get(keys[-1]) == stored.data
    copy_objects(raw(source), raw(target), keys)
    assert target.get('/checkpoints/%s/resource-data/img/secret' % CID) == b'plain text'
    assert ChunkStore(target).get(digest) == b'chunk bytes'


# -- Swift ------------------------------------------------------------------------------
class FakeSwift:
    """What SwiftBank uses of a swiftclient Connection, in memory; a PUT with an ETag
    is refused (422) when the bytes' MD5 differs, as Swift does."""

    def __init__(self, damage: bool = False) -> None:
        self.objects: dict[str, tuple[bytes, dict]] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.damage = damage

    def put_container(self, container):
        pass

    def put_object(self, container, name, contents, content_length=None, etag=None,
                   headers=None):
        self.requests.append(('PUT', name, {'etag': etag}))
        data = contents + b'!' if self.damage else contents
        md5 = hashlib.md5(data).hexdigest()
        if etag is not None and etag != md5:
            raise ClientException('Unprocessable Entity', http_status=422)
        meta = {k.lower(): v for k, v in (headers or {}).items()}
        self.objects[name] = (data, dict(meta, etag=md5, **{'content-length': str(len(data))}))
        return md5

    def get_object(self, container, name):
        self.requests.append(('GET', name, {}))
        if name not in self.objects:
            raise ClientException('Not Found', http_status=404)
        data, headers = self.objects[name]
        return dict(headers), data

    def head_object(self, container, name, headers=None):
        self.requests.append(('HEAD', name, {}))
        if name not in self.objects:
            raise ClientException('Not Found', http_status=404)
        return dict(self.objects[name][1])

    def get_container(self, container, prefix=None, marker=None, limit=None,
                      query_string=None):
        self.requests.append(('LIST', prefix, {}))
        names = sorted(n for n in self.objects if n.startswith(prefix or '')
                       and (marker is None or n > marker))
        return {}, [{'name': n} for n in names[:limit]]


def swift_bank(conn: FakeSwift) -> SwiftBank:
    return SwiftBank('bank', lambda: conn)


def test_swift_sends_with_two_requests_per_object_and_the_source_md5():
    source_conn, target_conn = FakeSwift(), FakeSwift()
    source, target = swift_bank(source_conn), swift_bank(target_conn)
    keys = ['/chunks/ab/' + 'ab' * 32, '/chunks/cd/' + 'cd' * 32]
    for index, key in enumerate(keys):
        source.put(key, b'chunk %d' % index)
    source_conn.requests.clear()
    counters = copy_objects(source, target, keys)
    assert counters.objects_sent == 2
    assert sorted(r[0] for r in source_conn.requests) == ['GET', 'GET']
    assert sorted(r[0] for r in target_conn.requests) == ['LIST', 'PUT', 'PUT']
    for request in target_conn.requests[1:]:
        assert request[2]['etag'] == source_conn.objects[request[1]][1]['etag']
    for key in keys:
        assert target.get(key) == source.get(key)
    assert target.stat(keys[0]) == source.stat(keys[0])
    # the second copy: one listing, then the recorded sha256 of both sides
    target_conn.requests.clear()
    again = copy_objects(source, target, keys)
    assert (again.objects_sent, again.objects_skipped) == (0, 2)
    assert sorted(r[0] for r in target_conn.requests) == ['HEAD', 'HEAD', 'LIST']


def test_swift_refusing_the_bytes_it_received_is_a_corruption():
    source, target = swift_bank(FakeSwift()), swift_bank(FakeSwift(damage=True))
    key = '/checkpoints/%s/resource-data/img/metadata' % CID
    source.put(key, {'a': 1})
    with pytest.raises(BankCorrupted, match='HTTP 422.*copy is not complete'):
        copy_objects(source, target, [key])


def test_swift_without_a_source_md5_sends_the_bytes_own():
    target_conn = FakeSwift()
    target = swift_bank(target_conn)
    data = b'from a local bank'
    target.write_stored('/a/b', StoredObject(data, sha256_hex(data)))
    assert target_conn.requests[-1][2]['etag'] == hashlib.md5(data).hexdigest()
    assert target.get('/a/b') == data


def test_swift_read_stored_checks_the_sha256_and_keeps_only_a_plain_md5():
    conn = FakeSwift()
    bank = swift_bank(conn)
    bank.put('/a/b', b'bytes')
    stored = bank.read_stored('/a/b')
    assert stored == StoredObject(b'bytes', sha256_hex(b'bytes'), hashlib.md5(b'bytes').hexdigest())
    conn.objects['a/b'][1]['x-static-large-object'] = 'True'
    assert bank.read_stored('/a/b').md5 is None
    conn.objects['a/b'] = (b'other', conn.objects['a/b'][1])
    with pytest.raises(BankCorrupted, match='is corrupted'):
        bank.read_stored('/a/b')


def test_objects_read_ahead_are_sent_without_reading_them_again(tmp_path):
    source, target = counting_source(tmp_path), LocalBank(str(tmp_path / 'target'))
    keys = checkpoint_objects(source, CID)
    section, chunk = keys[-1], keys[1]
    data = source.get(chunk)
    source._put(chunk, data + b'x', sha256_hex(data), False, None)  # pylint: disable=protected-access
    stored = object_copy.read_ahead(source, [section, chunk, '/checkpoints/gone'])
    assert list(stored) == [section]  # the damaged and the missing are left out
    source.calls.clear()
    assert copy_objects(source, target, [section], stored=stored).objects_sent == 1
    assert ('read', section) not in source.calls
    assert target.get(section) == source.get(section)
    with pytest.raises(BankCorrupted, match='is corrupted'):  # read again, and reported
        copy_objects(source, target, [chunk], stored=stored)
