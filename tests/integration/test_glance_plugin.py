# -*- coding: utf-8 -*-
"""The Glance image plugin against the real test cloud, through the engine.

Each test uses its own provider (a local bank in tmp_path, or its own Swift
container) so chunk counts are not disturbed by other tests sharing the
built-in providers' banks.
"""
from __future__ import annotations

import io
import os
import uuid

import pytest

from conftest import delete_container  # pylint: disable=import-error

from ansible_collections.karbor.protection.plugins.module_utils.resources import image as glance_plugin
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    CHUNKS_PREFIX, REFS_PREFIX, ChunkStore, chunk_key)
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import KarborError

IMAGE = 'OS::Glance::Image'
MIB = 1024 * 1024


def provider_file(folder, bank: str, chunk: int = MIB, extra: str = '') -> tuple[str, str]:
    provider_id = str(uuid.uuid4())
    os.makedirs(folder, exist_ok=True)
    container = 'karbor-it-glance-%s' % provider_id[:8]
    with open(os.path.join(folder, provider_id + '.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = glance-it-%s\nbank = %s\n'
                     'plugin = karbor-image-protection-plugin\n'
                     'plugin = karbor-server-protection-plugin\n'
                     'plugin = karbor-volume-protection-plugin\n'
                     '[image_backup_plugin]\nbackup_image_object_size = %d\n'
                     'upload_concurrency = 4\n%s'
                     '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                     % (provider_id, bank, bank, chunk, extra, container))
    return provider_id, container


@pytest.fixture
def conn(cloud):
    return cloud.connect(cloud.a)


@pytest.fixture
def images(conn):
    made: list[str] = []
    yield made
    for image_id in made:
        conn.image.delete_image(image_id, ignore_missing=True)


def make_engine(tmp_path, providers_dir):
    return ProtectionEngine(state_dir=str(tmp_path / 'state'), providers_dir=str(providers_dir),
                            cloud=CloudSession({'cloud': 'karbor-a'}))


def upload_image(conn, images, data, **props):
    image = conn.image.create_image(name='glance-it-%s' % uuid.uuid4().hex[:6],
                                    disk_format='raw', container_format='bare',
                                    allow_duplicates=True, **props)
    images.append(image.id)
    image.upload(conn.image, data=io.BytesIO(data), size=len(data))
    conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
    return conn.image.get_image(image.id)


def checkpoint_keys(bank, checkpoint_id):
    return [k for k in bank.iter_all('/checkpoints/%s/resource-data/' % checkpoint_id)
            if not k.endswith('/status')]


@pytest.mark.parametrize('bank_kind', ['local', 'swift'])
def test_protect_dedup_restore_and_shared_chunks(cloud, conn, images, tmp_path, bank_kind):
    providers = tmp_path / 'providers'
    provider_id, container = provider_file(str(providers), bank_kind)
    data = os.urandom(5 * MIB + 4321)
    image = upload_image(conn, images, data, min_ram=64, hw_disk_bus='scsi',
                         karbor_test_prop='kept')
    engine = make_engine(tmp_path, providers)
    try:
        plan = engine.plans.create({'name': 'img', 'provider_id': provider_id,
                                   'resources': [{'id': image.id, 'type': IMAGE}],
                                    'parameters': {IMAGE: {'backup_name': 'nightly'}}})
        first = engine.protect(plan)
        assert first.status == 'available', first.data.get('error')
        assert first.data['progress']['bytes_uploaded'] == len(data)
        assert first.data['progress']['bytes_done'] == len(data)
        bank = first.bank
        meta = first.resource_section(image.id).get_json('metadata')
        assert len(meta['chunks']) == 6 and meta['size'] == len(data)
        assert meta['image_metadata']['checksum'] == image.checksum
        assert meta['image_metadata']['properties']['karbor_test_prop'] == 'kept'
        assert meta['backup_name'] == 'nightly' and not meta.get('server_snapshot')
        assert len(bank.list(CHUNKS_PREFIX)) == 6

        second = engine.protect(plan)
        assert second.status == 'available', second.data.get('error')
        assert second.data['progress']['bytes_uploaded'] <= len(data) // 100
        assert second.resource_section(image.id).get_json('metadata')['chunks'] == meta['chunks']
        assert len(bank.list(CHUNKS_PREFIX)) == 6

        restore = engine.restore(provider_id, second.id, {IMAGE: {'restore_name': 'glance-it-back'}})
        assert restore['status'] == 'success', (restore.get('error'), restore['resources_reason'])
        new_id = restore['new_resources'][image.id]
        images.append(new_id)
        restored = conn.image.get_image(new_id)
        assert restored.name == 'glance-it-back'
        assert conn.image.download_image(new_id).content == data
        assert restored.checksum == image.checksum and restored.hash_value == image.hash_value
        assert restored.min_ram == 64 and restored.hw_disk_bus == 'scsi'
        assert restored.properties.get('karbor_test_prop') == 'kept'

        # default name <checkpoint id>@<image id>
        restore = engine.restore(provider_id, first.id)
        assert restore['status'] == 'success', restore.get('error')
        images.append(restore['new_resources'][image.id])
        assert conn.image.get_image(restore['new_resources'][image.id]).name == \
            '%s@%s' % (first.id, image.id)

        engine.delete_checkpoint(provider_id, first.id)
        assert all(bank.exists(chunk_key(c)) for c in meta['chunks'])  # the second uses them
        assert not bank.list(REFS_PREFIX + first.id + '/')
        assert checkpoint_keys(bank, first.id) == []
        engine.delete_checkpoint(provider_id, second.id)
        assert bank.list(CHUNKS_PREFIX) == [] and bank.list(REFS_PREFIX) == []
        assert checkpoint_keys(bank, second.id) == []
    finally:
        if bank_kind == 'swift':
            delete_container(conn, container)


def test_changed_image_uploads_only_changed_chunks(cloud, conn, images, tmp_path):
    providers = tmp_path / 'providers'
    provider_id, _container = provider_file(str(providers), 'local')
    data = bytearray(os.urandom(4 * MIB))
    image = upload_image(conn, images, bytes(data))
    engine = make_engine(tmp_path, providers)
    plan = engine.plans.create({'name': 'img', 'provider_id': provider_id,
                               'resources': [{'id': image.id, 'type': IMAGE}]})
    first = engine.protect(plan)
    assert first.status == 'available', first.data.get('error')
    data[MIB + 10:MIB + 20] = b'0123456789'  # one chunk differs
    other = upload_image(conn, images, bytes(data))
    plan2 = engine.plans.create({'name': 'img2', 'provider_id': provider_id,
                                'resources': [{'id': other.id, 'type': IMAGE}]})
    second = engine.protect(plan2)
    assert second.status == 'available', second.data.get('error')
    assert second.data['progress']['bytes_uploaded'] == MIB
    bank = first.bank
    assert len(bank.list(CHUNKS_PREFIX)) == 5
    engine.delete_checkpoint(provider_id, first.id)  # frees only its own chunk
    assert len(bank.list(CHUNKS_PREFIX)) == 4
    restore = engine.restore(provider_id, second.id, {IMAGE: {'restore_name': 'glance-it-2'}})
    assert restore['status'] == 'success', restore.get('error')
    images.append(restore['new_resources'][other.id])
    assert conn.image.download_image(restore['new_resources'][other.id]).content == bytes(data)
    engine.delete_checkpoint(provider_id, second.id)
    assert bank.list(CHUNKS_PREFIX) == [] and bank.list(REFS_PREFIX) == []


def test_failed_protect_is_fully_freed_by_delete(cloud, conn, images, tmp_path, monkeypatch):
    providers = tmp_path / 'providers'
    provider_id, _container = provider_file(str(providers), 'local')
    image = upload_image(conn, images, os.urandom(6 * MIB))
    engine = make_engine(tmp_path, providers)
    plan = engine.plans.create({'name': 'img', 'provider_id': provider_id,
                               'resources': [{'id': image.id, 'type': IMAGE}]})
    real_store = ChunkStore.store
    calls = []

    def failing_store(self, data, digest=None, probe=True):
        calls.append(digest)
        if len(calls) > 3:
            raise KarborError('injected bank failure')
        return real_store(self, data, digest, probe)

    monkeypatch.setattr(ChunkStore, 'store', failing_store)
    checkpoint = engine.protect(plan)
    monkeypatch.undo()
    assert checkpoint.status == 'error' and 'injected' in checkpoint.data['error']
    bank = checkpoint.bank
    meta = checkpoint.resource_section(image.id).get_json('metadata')
    assert meta['state'] == 'error' and 'chunks' not in meta
    assert bank.list(CHUNKS_PREFIX) and bank.list(REFS_PREFIX)
    engine.delete_checkpoint(provider_id, checkpoint.id)
    assert bank.list(CHUNKS_PREFIX) == [] and bank.list(REFS_PREFIX) == []
    assert checkpoint_keys(bank, checkpoint.id) == []


def test_restore_of_a_damaged_chunk_fails_and_leaves_no_image(cloud, conn, images, tmp_path):
    providers = tmp_path / 'providers'
    provider_id, _container = provider_file(str(providers), 'local')
    image = upload_image(conn, images, os.urandom(3 * MIB))
    engine = make_engine(tmp_path, providers)
    plan = engine.plans.create({'name': 'img', 'provider_id': provider_id,
                               'resources': [{'id': image.id, 'type': IMAGE}]})
    checkpoint = engine.protect(plan)
    assert checkpoint.status == 'available', checkpoint.data.get('error')
    chunks = checkpoint.resource_section(image.id).get_json('metadata')['chunks']
    path = checkpoint.bank.root + chunk_key(chunks[-1])
    with open(path, 'r+b') as handle:
        handle.seek(-100, os.SEEK_END)
        handle.write(b'\0' * 100)
    name = 'glance-it-damaged-%s' % uuid.uuid4().hex[:6]
    restore = engine.restore(provider_id, checkpoint.id, {IMAGE: {'restore_name': name}})
    assert restore['status'] == 'fail', restore
    reason = str(restore['resources_reason'])
    assert 'corrupted' in reason or 'damaged' in reason, reason
    assert 'The restore deleted the image' in reason, reason
    assert list(conn.image.images(name=name)) == []
    assert restore['new_resources'] == {}

    # keep_failed: the half-restored image stays, named, for a look
    kept = engine.restore(provider_id, checkpoint.id, {IMAGE: {'restore_name': name}},
                          keep_failed=True)
    assert kept['status'] == 'fail' and kept['keep_failed'] is True, kept
    left = [i.id for i in conn.image.images(name=name)]
    images.extend(left)
    assert left == [kept['new_resources'][image.id]], (left, kept['new_resources'])
    assert 'Kept the image %s' % left[0] in str(kept['resources_reason'])
    engine.delete_checkpoint(provider_id, checkpoint.id)
    assert checkpoint.bank.list(CHUNKS_PREFIX) == []


def test_server_boot_image_is_protected_as_a_snapshot(cloud, conn, images, tmp_path):
    providers = tmp_path / 'providers'
    provider_id, _container = provider_file(str(providers), 'local')
    image = upload_image(conn, images, os.urandom(MIB + 17))
    flavor = conn.compute.find_flavor('m1.tiny')
    network = next(conn.network.networks(name='private'))
    server = conn.compute.create_server(name='glance-it-srv', image_id=image.id,
                                        flavor_id=flavor.id, networks=[{'uuid': network.id}])
    engine = make_engine(tmp_path, providers)
    try:
        server = conn.compute.wait_for_server(server, wait=180)
        plan = engine.plans.create({'name': 'boot', 'provider_id': provider_id, 'resources': [
            {'id': image.id, 'type': IMAGE, 'extra_info': {'server_id': server.id}}]})
        checkpoint = engine.protect(plan)
        assert checkpoint.status == 'available', checkpoint.data.get('error')
        meta = checkpoint.resource_section(image.id).get_json('metadata')
        assert meta['server_snapshot'] is True and meta['server_id'] == server.id
        assert meta['original_image_id'] == image.id and meta['snapshot_deleted'] is True
        assert list(conn.image.images(name=meta['snapshot_name'])) == []  # temp snapshot gone
        restore = engine.restore(provider_id, checkpoint.id, {IMAGE: {'restore_name': 'glance-it-snap'}})
        assert restore['status'] == 'success', restore.get('error')
        new_id = restore['new_resources'][image.id]  # published under the original image id
        images.append(new_id)
        content = conn.image.download_image(new_id).content
        assert len(content) == meta['size']
        assert content.startswith(('karbor test cloud snapshot of instance %s' % server.id).encode())
        engine.delete_checkpoint(provider_id, checkpoint.id)
        assert checkpoint.bank.list(CHUNKS_PREFIX) == []
    finally:
        conn.compute.delete_server(server, ignore_missing=True)
        conn.compute.wait_for_delete(server, wait=120)


def test_delete_after_a_crash_while_snapshotting_removes_the_snapshot(cloud, conn, images,
                                                                      tmp_path, monkeypatch):
    """The run died after asking Nova for the snapshot, before recording its
    id: the delete finds it by its unique name."""
    providers = tmp_path / 'providers'
    provider_id, _container = provider_file(str(providers), 'local')
    image = upload_image(conn, images, os.urandom(MIB))
    flavor = conn.compute.find_flavor('m1.tiny')
    network = next(conn.network.networks(name='private'))
    server = conn.compute.create_server(name='glance-it-srv2', image_id=image.id,
                                        flavor_id=flavor.id, networks=[{'uuid': network.id}])
    engine = make_engine(tmp_path, providers)
    try:
        server = conn.compute.wait_for_server(server, wait=180)
        plan = engine.plans.create({'name': 'boot', 'provider_id': provider_id, 'resources': [
            {'id': image.id, 'type': IMAGE, 'extra_info': {'server_id': server.id}}]})
        real_put = glance_plugin.GlanceProtect._snapshot_server

        def dies_after_create(ctx, meta, server_id, deadline):
            snapshot_id = real_put(ctx, meta, server_id, deadline)
            meta.pop('snapshot_image_id')
            ctx.section.put('metadata', meta)  # as if the id had never been written
            raise KarborError('process died (simulated)')

        monkeypatch.setattr(glance_plugin.GlanceProtect, '_snapshot_server',
                            staticmethod(dies_after_create))
        checkpoint = engine.protect(plan)
        monkeypatch.undo()
        assert checkpoint.status == 'error'
        meta = checkpoint.resource_section(image.id).get_json('metadata')
        name = meta['snapshot_name']
        assert [i.id for i in conn.image.images(name=name)]  # left behind by the "crash"
        engine.delete_checkpoint(provider_id, checkpoint.id)
        assert list(conn.image.images(name=name)) == []
    finally:
        conn.compute.delete_server(server, ignore_missing=True)
        conn.compute.wait_for_delete(server, wait=120)
