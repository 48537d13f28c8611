# -*- coding: utf-8 -*-
"""Content-addressed chunk store over a real LocalBank, and the image
plugin's chunking/upload/read pipeline (no cloud needed)."""
from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    CHUNKS_PREFIX, REFS_PREFIX, ChunkStore, chunk_key, owner_name, tree_digest)
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, InvalidInput, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_pipeline import (
    ChunkReader, ChunkUploader, fixed_chunks)
from ansible_collections.karbor.protection.plugins.module_utils.resources.image import (
    GlanceImagePlugin, plugin_settings)
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import Progress


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def bank(tmp_path):
    return LocalBank(str(tmp_path / 'bank'))


@pytest.fixture
def store(bank):
    return ChunkStore(bank, workers=4)


def chunks_in(bank) -> int:
    return len(bank.list(CHUNKS_PREFIX))


def test_store_is_content_addressed_and_deduplicated(store, bank):
    data = b'hello world' * 1000
    assert store.store(data) == len(data)
    assert store.store(data) == 0  # probe finds it
    assert store.store(data, sha(data), probe=False) == 0  # exclusive write conflicts
    assert bank.list(CHUNKS_PREFIX) == [chunk_key(sha(data))]
    assert store.get(sha(data)) == data
    assert store.missing([sha(data), sha(b'other'), sha(data)]) == [sha(b'other')]


def test_get_detects_missing_and_damaged_chunks(store, bank, tmp_path):
    data = os.urandom(4096)
    store.store(data)
    path = str(tmp_path / 'bank') + chunk_key(sha(data))
    with open(path, 'r+b') as handle:
        handle.seek(-1, os.SEEK_END)
        handle.write(b'\x00' if data[-1:] != b'\x00' else b'\x01')
    with pytest.raises(BankCorrupted):
        store.get(sha(data))
    with pytest.raises(BankCorrupted):
        store.get(sha(b'never stored'))


def test_chunk_stored_under_a_wrong_name_is_rejected(store, bank):
    bank.put(chunk_key(sha(b'a')), b'b')  # the bank's own checksum is right, the name is not
    with pytest.raises(BankCorrupted):
        store.get(sha(b'a'))


def test_names_are_validated():
    with pytest.raises(InvalidInput):
        chunk_key('../etc/passwd')
    with pytest.raises(InvalidInput):
        owner_name('cp', 'a/b')
    with pytest.raises(InvalidInput):
        owner_name('', 'img')


def test_shared_chunks_live_until_the_last_owner_releases(store, bank):
    a, b, c = b'a' * 100, b'b' * 100, b'c' * 100
    one, two = owner_name('cp1', 'img'), owner_name('cp2', 'img')
    store.add_refs(one, 0, [sha(a), sha(b)])
    store.add_refs(two, 0, [sha(b)])
    store.add_refs(two, 1, [sha(c)])
    for data in (a, b, c):
        store.store(data)
    assert store.owner_refs(two) == [sha(b), sha(c)]
    assert store.release(one, [sha(a), sha(b)]) == 1  # a only; b is still used by cp2
    assert not store.exists(sha(a)) and store.exists(sha(b))
    assert store.ref_keys(one) == []
    assert store.release(two, []) == 2  # its lists name b and c
    assert chunks_in(bank) == 0 and bank.list(REFS_PREFIX) == []


def test_release_is_idempotent_after_a_crash(store, bank):
    data = b'x' * 10
    owner = owner_name('cp1', 'img')
    store.add_refs(owner, 0, [sha(data)])
    store.store(data)
    # a delete that died after dropping its lists, before deleting the chunk
    for key in store.ref_keys(owner):
        bank.delete(key)
    assert store.orphans() == [sha(data)]
    assert store.release(owner, [sha(data)]) == 1  # the caller kept its list
    assert store.release(owner, [sha(data)]) == 0
    assert chunks_in(bank) == 0


def test_other_resources_are_scanned_too(store):
    data = b'same bytes in two images'
    store.add_refs(owner_name('cp1', 'img-a'), 0, [sha(data)])
    store.add_refs(owner_name('cp2', 'img-b'), 0, [sha(data)])
    store.store(data)
    assert store.release(owner_name('cp1', 'img-a'), [sha(data)]) == 0
    assert store.exists(sha(data))
    assert store.referenced([sha(data)]) == {sha(data)}


def test_a_racing_delete_is_caught_by_the_missing_check(store):
    """The protect found the chunk stored, a delete that had not yet seen
    the protect's reference removed it: the end-of-protect check reports it."""
    data = b'shared'
    store.add_refs(owner_name('old', 'img'), 0, [sha(data)])
    store.store(data)
    new = owner_name('new', 'img')
    assert store.store(data) == 0  # reused ...
    store.release(owner_name('old', 'img'), [sha(data)])  # ... and deleted before our ref landed
    store.add_refs(new, 0, [sha(data)])
    assert store.missing([sha(data)]) == [sha(data)]
    assert store.store(data, probe=False) == len(data)


def test_tree_digest_depends_on_order():
    assert tree_digest(['a' * 64, 'b' * 64]) != tree_digest(['b' * 64, 'a' * 64])


# -- image plugin pipeline ------------------------------------------------------------
@pytest.mark.parametrize('blocks', [[5, 5, 5], [16], [1] * 17, [3, 0, 13, 7], [8, 8], []])
def test_fixed_chunks_recut_exactly(blocks):
    data = os.urandom(sum(blocks))
    stream, pos = [], 0
    for size in blocks:
        stream.append(data[pos:pos + size])
        pos += size
    out = list(fixed_chunks(iter(stream), 8))
    assert b''.join(out) == data
    assert all(len(c) == 8 for c in out[:-1]) and all(out)


def test_settings_defaults_and_validation():
    assert plugin_settings({}) == (8 * 1024 * 1024, 8, True, 18)
    assert plugin_settings({'image_backup_plugin': {
        'backup_image_object_size': '65536', 'upload_concurrency': '2',
        'enable_server_snapshot': 'False'}}) == (65536, 2, False, 6)
    assert plugin_settings({'image_backup_plugin': {'max_chunks_in_memory': '10'}}).memory_chunks == 10
    for bad in ({'backup_image_object_size': '0'}, {'backup_image_object_size': 'x'},
                {'upload_concurrency': '0'}, {'max_chunks_in_memory': '2'}):
        with pytest.raises(InvalidInput):
            plugin_settings({'image_backup_plugin': bad})


class SlowStore(ChunkStore):
    """Stores take a while, as on a real bank, and the chunks alive are counted
    from the moment the source yields one until its upload is done."""

    def __init__(self, bank, workers=4, delay=0.003):
        super().__init__(bank, workers)
        self.delay = delay
        self.lock = threading.Lock()
        self.alive = 0
        self.peak = 0

    def produced(self):
        with self.lock:
            self.alive += 1
            self.peak = max(self.peak, self.alive)

    def store(self, data, digest=None, probe=True):
        threading.Event().wait(self.delay)
        try:
            return super().store(data, digest, probe)
        finally:
            with self.lock:
                self.alive -= 1


def counted(store, count, size=512):
    for _index in range(count):
        store.produced()
        yield os.urandom(size)


@pytest.mark.parametrize('memory', [3, 6, 10])
def test_uploader_holds_at_most_memory_chunks(bank, memory):
    store = SlowStore(bank, 4)
    uploader = ChunkUploader(store, owner_name('cp', 'img'), 4, Progress(), memory_chunks=memory)
    digests, _total = uploader.run(counted(store, 40))
    assert len(digests) == 40 and store.alive == 0
    assert store.peak <= memory


class CountingStore(ChunkStore):
    def __init__(self, bank):
        super().__init__(bank, workers=4)
        self.lock = threading.Lock()
        self.held = 0
        self.max_held = 0

    def store(self, data, digest=None, probe=True):
        with self.lock:
            self.held += 1
            self.max_held = max(self.max_held, self.held)
        try:
            return super().store(data, digest, probe)
        finally:
            with self.lock:
                self.held -= 1


def test_uploader_references_before_storing_and_deduplicates(bank):
    store = CountingStore(bank)
    size = 4096
    data = os.urandom(size * 9) + b'\0' * (size * 6) + os.urandom(100)
    progress = Progress()
    owner = owner_name('cp1', 'img')
    uploader = ChunkUploader(store, owner, 4, progress)
    digests, total = uploader.run(fixed_chunks(iter([data]), size))
    assert total == len(data) and len(digests) == 16
    assert b''.join(store.get(d) for d in digests) == data
    assert set(store.owner_refs(owner)) == set(digests)
    assert store.max_held <= 4
    # six zero chunks: stored once
    assert progress.bytes_uploaded == len(data) - 5 * size
    assert progress.bytes_done == len(data)
    # a second run of the same data uploads nothing
    again = Progress()
    second = ChunkUploader(store, owner_name('cp2', 'img'), 4, again)
    assert second.run(fixed_chunks(iter([data]), size))[0] == digests
    assert again.bytes_uploaded == 0 and set(second.reused) == set(digests)
    # deleting the first leaves everything for the second, then the second frees all
    assert store.release(owner, digests) == 0
    assert store.release(owner_name('cp2', 'img'), digests) == len(set(digests))
    assert chunks_in(bank) == 0 and bank.list(REFS_PREFIX) == []


@pytest.mark.parametrize('delay', [0.003, 0.02])
def test_uploader_batches_its_reference_lists(bank, delay):
    # With the plugin's default memory (2 x workers + 2 chunks) a batch can
    # fill beside eight running uploads, however slow the bank is next to
    # the reader; with less memory the batches shrink to what fits.
    store = SlowStore(bank, 8, delay=delay)
    uploader = ChunkUploader(store, owner_name('cp1', 'img'), 8, Progress(), memory_chunks=18)
    digests, _total = uploader.run(counted(store, 64))
    assert len(digests) == 64 and store.peak <= 18
    assert len(store.ref_keys(owner_name('cp1', 'img'))) <= 64 // 3


def test_uploader_fills_idle_uploads_at_the_start(bank):
    # Before a batch waits in the queue, partial batches go out once they keep
    # half the idle uploads busy, so eight uploads run after nine chunks read,
    # not after ten; then batches are full. (No upload ends meanwhile: 0.5 s.)
    store = SlowStore(bank, 8, delay=0.5)
    owner = owner_name('cp1', 'img')
    uploader = ChunkUploader(store, owner, 8, Progress(), memory_chunks=18)
    digests, _total = uploader.run(counted(store, 17))
    sizes = [len(bank.get_json(key)['chunks']) for key in store.ref_keys(owner)]
    assert sizes == [1, 1, 3, 2, 2, 8] and sum(sizes) == len(digests)


def test_uploader_stops_on_the_first_error(bank):
    class Failing(ChunkStore):
        def store(self, data, digest=None, probe=True):
            raise KarborError('bank is full')

    uploader = ChunkUploader(Failing(bank), owner_name('cp1', 'img'), 2, Progress())
    with pytest.raises(KarborError, match='bank is full'):
        uploader.run(fixed_chunks(iter([os.urandom(64 * 1024)]), 1024))
    # what it may have touched is referenced, so a checkpoint delete finds it
    assert store_refs(bank)


def store_refs(bank):
    return bank.list(REFS_PREFIX)


def test_reader_streams_verified_chunks(store):
    data = os.urandom(10000)
    digests = [sha(data[i:i + 1024]) for i in range(0, len(data), 1024)]
    for i in range(0, len(data), 1024):
        store.store(data[i:i + 1024])
    progress = Progress()
    reader = ChunkReader(store, digests, len(data), prefetch=3, progress=progress)
    assert len(reader) == len(data)
    out = io.BufferedReader(reader, 777).read()
    reader.close()
    assert out == data and reader.verified == digests and progress.bytes_done == len(data)


def test_reader_fails_on_a_missing_chunk(store):
    store.store(b'one')
    reader = ChunkReader(store, [sha(b'one'), sha(b'two')], 6)
    with pytest.raises(BankCorrupted):
        reader.read()
    reader.close()


def test_schemas():
    plugin = GlanceImagePlugin()
    assert plugin.name == 'karbor-image-protection-plugin'
    assert plugin.get_options_schema('OS::Glance::Image')['additionalProperties'] is False
    restore = plugin.get_restore_schema('OS::Glance::Image')
    assert restore['additionalProperties'] is False and 'restore_name' in restore['properties']
    info = plugin.get_saved_info({'image_metadata': {'disk_format': 'raw'}, 'size': 5,
                                  'chunks': ['a' * 64], 'server_snapshot': True,
                                  'server_id': 's'})
    assert info['chunks_num'] == 1 and info['server_snapshot'] is True
    assert set(info) <= set(plugin.get_saved_info_schema('OS::Glance::Image')['properties'])


def test_saved_image_metadata_keeps_properties_but_not_glance_state():
    from ansible_collections.karbor.protection.plugins.module_utils.resources.image import (
        saved_image_metadata)
    saved = saved_image_metadata({
        'id': 'i', 'name': 'n', 'status': 'active', 'size': 5, 'checksum': 'c',
        'os_hash_algo': 'sha512', 'os_hash_value': 'h', 'disk_format': 'qcow2',
        'container_format': 'bare', 'min_disk': 1, 'min_ram': 64, 'tags': ['t'],
        'visibility': 'public', 'protected': True, 'owner': 'p', 'hw_disk_bus': 'scsi',
        'custom': 'x', 'os_glance_importing_to_stores': '', 'stores': 'fs',
        'owner_specified.openstack.md5': ''})
    assert saved['checksum'] == 'c' and saved['os_hash_value'] == 'h'
    assert saved['disk_format'] == 'qcow2' and saved['min_ram'] == 64
    assert saved['properties'] == {'disk_format': 'qcow2', 'container_format': 'bare',
                                   'min_disk': 1, 'min_ram': 64, 'tags': ['t'],
                                   'hw_disk_bus': 'scsi', 'custom': 'x'}


class LookupCountingStore(ChunkStore):
    def __init__(self, bank):
        super().__init__(bank, workers=4)
        self.looked_up = []
        self.hashed = 0
        real_digest = self.digest

        def digest(data):
            self.hashed += 1
            return real_digest(data)
        self.digest = digest

    def exists(self, digest):
        self.looked_up.append(digest)
        return super().exists(digest)


def test_uploader_trusts_digests_and_lookups_made_ahead_only_until_the_end_check(bank):
    """A read ahead hands over chunks already named, and whether the first was in the bank
    (looked up before any reference existed): neither is done again, and the chunk found is
    listed as reused, so the end-of-run check still verifies it."""
    store = LookupCountingStore(bank)
    first, second, third = os.urandom(1000), os.urandom(1000), os.urandom(1000)
    store.store(first)  # another checkpoint's chunk
    store.hashed, store.looked_up = 0, []
    owner = owner_name('cp1', 'img')
    uploader = ChunkUploader(store, owner, 4, Progress(), found={sha(first): True})
    read = []

    def chunks():
        yield first, sha(first)
        yield second, sha(second)
        read.append('third')
        yield third

    def all_read(digests, total):
        read.append((digests, total))
    digests, total = uploader.run(chunks(), all_read)
    assert digests == [sha(first), sha(second), sha(third)] and total == 3000
    assert read == ['third', (digests, 3000)]
    assert store.hashed == 1  # only the chunk that came without its name
    assert sha(first) not in store.looked_up
    assert uploader.reused == [sha(first)]
    assert set(store.owner_refs(owner)) == set(digests)
    assert [store.get(d) for d in digests] == [first, second, third]


def test_uploader_references_chunks_read_ahead_in_one_list(bank):
    """Chunks the source holds read already are named by one reference list
    (a list per chunk would keep the first uploads waiting on small writes);
    once none is left, a partial batch goes out at once to feed idle uploads."""
    store = ChunkStore(bank, workers=8)
    owner = owner_name('cp1', 'img')
    ahead = [os.urandom(1000) for _index in range(5)]
    rest = [os.urandom(1000) for _index in range(3)]
    held = list(ahead)

    def chunks():
        while held:
            data = held.pop(0)
            yield data, sha(data)
        yield from rest

    uploader = ChunkUploader(store, owner, 8, Progress(), memory_chunks=18, found={})
    digests, _total = uploader.run(chunks(), in_memory=lambda: len(held))
    lists = [bank.get_json(key)['chunks'] for key in store.ref_keys(owner)]
    assert lists[0] == [sha(d) for d in ahead]
    assert [d for chunk_list in lists for d in chunk_list] == digests


class FakeImageResponse:
    status_code = 200

    def __init__(self, data=b'', document=None):
        self.data = data
        self.document = document
        self.closed = False

    def iter_content(self, block):
        for start in range(0, len(self.data), block):
            if self.closed:
                raise ValueError('read from a closed download')
            yield self.data[start:start + block]

    def json(self):
        return self.document

    def close(self):
        self.closed = True


class FakeGlanceCloud:
    """Just the two raw Glance requests the image plugin makes."""

    def __init__(self, image_id, data):
        self.image_id = image_id
        self.data = data
        self.downloads = []
        self.conn = self
        self.image = self

    def call(self, _what, func, *args, **kwargs):
        return func(*args, **kwargs)

    def get(self, path, stream=False):
        if path.endswith('/file'):
            self.downloads.append(FakeImageResponse(self.data))
            return self.downloads[-1]
        return FakeImageResponse(document={
            'id': self.image_id, 'status': 'active', 'size': len(self.data),
            'disk_format': 'raw', 'container_format': 'bare'})


@pytest.mark.parametrize('fail_last_upload', [False, True])
def test_image_protect_takes_its_read_ahead_and_records_the_outcome_last(
        bank, monkeypatch, fail_last_upload):
    """The engine's read ahead is used by on_main (one download); the chunk list goes to the
    bank before the last uploads end, and the metadata left is the outcome: written once when
    all went well, 'error' when an upload failed after the list was written."""
    from types import SimpleNamespace
    from ansible_collections.karbor.protection.plugins.module_utils.resources import glance_calls
    from ansible_collections.karbor.protection.plugins.module_utils.resources import image as glance_plugin
    from ansible_collections.karbor.protection.plugins.module_utils.resources import image_chunks
    from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
    from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
        OperationContext)
    from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
    monkeypatch.setattr(glance_calls, 'raise_for_response', lambda response: None)
    monkeypatch.setattr(image_chunks, 'raise_for_response', lambda response: None)
    image_id = '44444444-0000-0000-0000-000000000004'
    data = os.urandom(5 * 1024 * 1024 + 3)
    cloud = FakeGlanceCloud(image_id, data)
    config = {'image_backup_plugin': {'backup_image_object_size': str(1024 * 1024),
                                      'upload_concurrency': '2'}}
    resource = Resource(R.IMAGE, image_id, 'img')
    operation = GlanceImagePlugin(config).get_protect_operation(resource)
    operation.read_ahead(OperationContext(
        operation='protect', resource=resource, parameters={}, checkpoint=None, section=None,
        cloud=cloud, new_resources={}, progress=Progress(), config=config), bank)
    section = bank.section('/checkpoints/cp1/resource-data/%s' % image_id)
    writes = []
    real_put, real_store = section.put, ChunkStore.store
    stored = []

    def put(key, value, *args, **kwargs):
        writes.append(dict(value) if isinstance(value, dict) else value)
        return real_put(key, value, *args, **kwargs)

    def store(self, chunk, digest=None, probe=True):
        stored.append(digest)
        if fail_last_upload and len(stored) == 6:
            for _wait in range(500):  # fail once the list is written (or after 5 s)
                if any(w.get('state') == 'available' for w in writes):
                    break
                threading.Event().wait(0.01)
            raise KarborError('bank is full')
        return real_store(self, chunk, digest, probe)
    monkeypatch.setattr(section, 'put', put)
    monkeypatch.setattr(ChunkStore, 'store', store)
    ctx = OperationContext(
        operation='protect', resource=resource, parameters={},
        checkpoint=SimpleNamespace(id='cp1', bank=bank), section=section, cloud=cloud,
        new_resources={}, progress=Progress(), config=config)
    if fail_last_upload:
        with pytest.raises(KarborError, match='bank is full'):
            operation.on_main(ctx)
    else:
        operation.on_main(ctx)
    operation.drop_read_ahead()
    assert len(cloud.downloads) == 1 and cloud.downloads[0].closed
    saved = section.get_json('metadata')
    if fail_last_upload:
        assert [w['state'] for w in writes] == ['available', 'error']
        assert saved['state'] == 'error'
    else:
        assert [w['state'] for w in writes] == ['available']
        assert saved['state'] == 'available' and saved['size'] == len(data)
        store_ = ChunkStore(bank)
        assert b''.join(store_.get(d) for d in saved['chunks']) == data
