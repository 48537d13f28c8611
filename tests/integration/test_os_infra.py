# -*- coding: utf-8 -*-
"""Issue 4 acceptance against the real test cloud: the Karbor walkthrough
with two volumes (data compared byte by byte), incremental chains, and
Cinder artifacts removed with the checkpoint."""
from __future__ import annotations

import json
import os
import uuid

import pytest

OS_INFRA = 'cf56bd3e-97a7-4078-b6d5-f36246333fd9'
PATTERN_OFFSET = 4096


def volume_file(cloud, volume_id):
    return os.path.join(cloud.base, 'data', 'cinder', 'volumes', 'volume-%s' % volume_id)


def write_pattern(cloud, volume_id, payload):
    with open(volume_file(cloud, volume_id), 'r+b') as handle:
        handle.seek(PATTERN_OFFSET)
        handle.write(payload)


def read_pattern(cloud, volume_id, size):
    with open(volume_file(cloud, volume_id), 'rb') as handle:
        handle.seek(PATTERN_OFFSET)
        return handle.read(size)


@pytest.fixture
def two_volumes(cloud):
    conn = cloud.connect(cloud.a)
    made = []
    for _index in range(2):
        vol = conn.block_storage.create_volume(size=1, name='seed-%s' % uuid.uuid4().hex[:6])
        made.append(vol)
    for vol in made:
        conn.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=120)
    yield conn, made
    for vol in made:
        conn.block_storage.delete_volume(vol, ignore_missing=True)


def backups_of(conn, volume_ids):
    return [b for b in conn.block_storage.backups(details=True) if b.volume_id in volume_ids]


def test_seed_walkthrough_two_volumes(cloud, two_volumes, run_playbook, tmp_path):
    conn, volumes = two_volumes
    payloads = {}
    for vol in volumes:
        payloads[vol.id] = ('karbor walkthrough %s ' % vol.id).encode() * 100
        write_pattern(cloud, vol.id, payloads[vol.id])
    ids = [v.id for v in volumes]
    run_playbook('seed_walkthrough.yml', {
        'volume_ids': ids, 'state_dir': str(tmp_path),
        'volume_resources': [{'id': i, 'type': 'OS::Cinder::Volume'} for i in ids]})
    with open(tmp_path / 'walkthrough.json') as handle:
        facts = json.load(handle)
    checkpoint_id = facts['checkpoint']['id']
    new = facts['restore']['new_resources']
    assert sorted(new) == sorted(ids)
    for original, restored_id in new.items():
        restored = conn.block_storage.get_volume(restored_id)
        assert restored.name == '%s@%s' % (checkpoint_id, original)
        assert read_pattern(cloud, restored_id, len(payloads[original])) == payloads[original]
        conn.block_storage.delete_volume(restored_id)
    # the checkpoint was deleted at the end of the walkthrough: its backups are gone
    assert backups_of(conn, ids) == []


def test_auto_mode_chains_incrementals_and_protects_parents(cloud, two_volumes, tmp_path):
    conn, volumes = two_volumes
    from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
    from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
    from ansible_collections.karbor.protection.plugins.module_utils.common.errors import Conflict
    engine = ProtectionEngine(state_dir=str(tmp_path), cloud=CloudSession({'cloud': cloud.a}))
    plan = engine.plans.create({'name': 'auto', 'provider_id': OS_INFRA,
                               'resources': [{'id': volumes[0].id, 'type': 'OS::Cinder::Volume'}],
                                'parameters': {'OS::Cinder::Volume': {'backup_mode': 'auto'}}})
    first = engine.protect(plan)
    second = engine.protect(plan)
    assert first.status == second.status == 'available', (first.data, second.data)
    meta1 = first.resource_section(volumes[0].id).get_json('metadata')
    meta2 = second.resource_section(volumes[0].id).get_json('metadata')
    assert meta1['is_incremental'] is False
    assert meta2['is_incremental'] is True and meta2['parent_backup_id'] == meta1['backup_id']
    with pytest.raises(Conflict) as err:
        engine.delete_checkpoint(OS_INFRA, first.id)
    assert 'parent of incremental backups' in err.value.msg
    # deleting newest first works and leaves no backup behind
    engine.delete_checkpoint(OS_INFRA, second.id)
    engine.delete_checkpoint(OS_INFRA, first.id)
    assert backups_of(conn, [volumes[0].id]) == []


def test_two_checkpoints_of_one_volume_at_once(cloud, two_volumes, tmp_path):
    """Cinder refuses a backup of a volume that is backing-up; the later run waits.

    Both runs see the volume available; the second asks Cinder for its backup
    just after the first one's was accepted, so Cinder refuses it with a 400
    naming the status (the race two schedules on one volume meet).
    """
    import threading
    from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
    from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
    conn, volumes = two_volumes
    volume_id = volumes[0].id
    sessions = [CloudSession({'cloud': cloud.a}), CloudSession({'cloud': cloud.a})]
    engines = [ProtectionEngine(state_dir=str(tmp_path), cloud=s) for s in sessions]
    plan = engines[0].plans.create({'name': 'busy', 'provider_id': OS_INFRA,
                                   'resources': [{'id': volume_id, 'type': 'OS::Cinder::Volume'}]})
    second_ready, first_created = threading.Event(), threading.Event()
    refused = []

    def ordered(index, real_create):
        def create_backup(**attrs):
            if index == 0 and not first_created.is_set():
                second_ready.wait(300)
                try:
                    return real_create(**attrs)
                finally:
                    first_created.set()
            if index == 1 and not second_ready.is_set():
                second_ready.set()
                first_created.wait(300)
            try:
                return real_create(**attrs)
            except Exception as exc:
                refused.append(str(exc))
                raise
        return create_backup

    for index, session in enumerate(sessions):
        cinder = session.conn.block_storage
        cinder.create_backup = ordered(index, cinder.create_backup)
    results = [None, None]

    def protect(index):
        try:
            results[index] = engines[index].protect(plan)
        except Exception as exc:  # pylint: disable=broad-except
            results[index] = exc

    threads = [threading.Thread(target=protect, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    try:
        for checkpoint in results:
            assert not isinstance(checkpoint, Exception), checkpoint
            assert checkpoint.status == 'available', checkpoint.data
        assert len(refused) == 1 and 'backing-up' in refused[0], refused
        made = {c.resource_section(volume_id).get_json('metadata')['backup_id'] for c in results}
        assert len(made) == 2 and len(backups_of(conn, [volume_id])) == 2
    finally:
        for checkpoint in results:
            if not isinstance(checkpoint, Exception) and checkpoint is not None:
                engines[0].delete_checkpoint(OS_INFRA, checkpoint.id)


def engine_for(cloud, name, state_dir):
    from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
    from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
    return ProtectionEngine(state_dir=str(state_dir), cloud=CloudSession({'cloud': name}))


def upload_image(conn, data, name=None):
    import io
    image = conn.image.create_image(name=name or 'karbor-it-%s' % uuid.uuid4().hex[:6],
                                    disk_format='raw', container_format='bare',
                                    allow_duplicates=True)
    image.upload(conn.image, data=io.BytesIO(data), size=len(data))
    conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
    return conn.image.get_image(image.id)


def download(conn, image_id):
    return conn.image.download_image(image_id).content


def test_image_protect_dedup_restore_and_shared_chunks(cloud, tmp_path):
    conn = cloud.connect(cloud.a)
    data = os.urandom(9 * 1024 * 1024 + 12345)
    image = upload_image(conn, data)
    engine = engine_for(cloud, cloud.a, tmp_path)
    try:
        plan = engine.plans.create({'name': 'img', 'provider_id': OS_INFRA,
                                   'resources': [{'id': image.id, 'type': 'OS::Glance::Image'}]})
        first = engine.protect(plan)
        assert first.status == 'available', first.data
        assert first.data['progress']['bytes_uploaded'] == len(data)
        second = engine.protect(plan)
        assert second.status == 'available', second.data
        assert second.data['progress']['bytes_uploaded'] <= len(data) // 100
        bank = first.bank
        from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
            chunk_key)
        chunks = first.resource_section(image.id).get_json('metadata')['chunks']
        assert len(chunks) == 2  # 8 MiB chunks
        assert second.resource_section(image.id).get_json('metadata')['chunks'] == chunks
        restore = engine.restore(OS_INFRA, second.id, {'OS::Glance::Image': {'restore_name': 'back'}})
        assert restore['status'] == 'success', restore
        new_id = restore['new_resources'][image.id]
        restored = conn.image.get_image(new_id)
        assert restored.name == 'back'
        assert download(conn, new_id) == data
        assert restored.checksum == image.checksum
        conn.image.delete_image(new_id)
        engine.delete_checkpoint(OS_INFRA, first.id)
        assert all(bank.exists(chunk_key(c)) for c in chunks)  # the second still uses them
        engine.delete_checkpoint(OS_INFRA, second.id)
        assert not any(bank.exists(chunk_key(c)) for c in chunks)
    finally:
        conn.image.delete_image(image.id, ignore_missing=True)


def test_server_with_attached_volume(cloud, tmp_path):
    conn = cloud.connect(cloud.a)
    image = upload_image(conn, os.urandom(1024 * 1024))
    volume = conn.block_storage.create_volume(size=1, name='srv-data')
    conn.block_storage.wait_for_status(volume, 'available', failures=['error'], wait=120)
    flavor = conn.compute.find_flavor('m1.tiny')
    network = next(conn.network.networks(name='private'))
    server = conn.compute.create_server(name='karbor-srv', image_id=image.id, flavor_id=flavor.id,
                                        networks=[{'uuid': network.id}])
    server = conn.compute.wait_for_server(server, wait=180)
    conn.compute.create_volume_attachment(server, volume_id=volume.id)
    conn.block_storage.wait_for_status(volume, 'in-use', wait=120)
    payload = b'attached volume of a protected server ' * 50
    write_pattern(cloud, volume.id, payload)
    engine = engine_for(cloud, cloud.a, tmp_path)
    made = []
    try:
        plan = engine.plans.create({
            'name': 'srv', 'provider_id': OS_INFRA,
            'resources': [{'id': server.id, 'type': 'OS::Nova::Server'}],
            'parameters': {'OS::Cinder::Volume': {'force': True}}})
        checkpoint = engine.protect(plan)
        assert checkpoint.status == 'available', checkpoint.data.get('error')
        keys = sorted(checkpoint.data['resources_status'])
        assert keys == sorted(['OS::Nova::Server#' + server.id, 'OS::Cinder::Volume#' + volume.id,
                               'OS::Glance::Image#' + image.id])
        restore = engine.restore(OS_INFRA, checkpoint.id,
                                 {'OS::Nova::Server': {'restore_name': 'srv-restored'}})
        assert restore['status'] == 'success', (restore['resources_reason'], restore.get('error'))
        new = restore['new_resources']
        made = [('server', new[server.id]), ('volume', new[volume.id]), ('image', new[image.id])]
        restored_server = conn.compute.get_server(new[server.id])
        assert restored_server.name == 'srv-restored' and restored_server.status == 'ACTIVE'
        attached = [a.volume_id for a in conn.compute.volume_attachments(restored_server)]
        assert attached == [new[volume.id]]
        assert read_pattern(cloud, new[volume.id], len(payload)) == payload
        # the restored boot image is the server snapshot taken at protect time
        assert download(conn, new[image.id]).startswith(
            ('karbor test cloud snapshot of instance %s' % server.id).encode())
        engine.delete_checkpoint(OS_INFRA, checkpoint.id)
        assert backups_of(conn, [volume.id]) == []
    finally:
        for kind, rid in made:
            if kind == 'server':
                conn.compute.delete_server(rid, ignore_missing=True)
                conn.compute.wait_for_delete(conn.compute.get_server(rid), wait=120) \
                    if conn.compute.find_server(rid) else None
        for kind, rid in made:
            if kind == 'volume':
                conn.block_storage.wait_for_status(conn.block_storage.get_volume(rid), 'available',
                                                   wait=120)
                conn.block_storage.delete_volume(rid, ignore_missing=True)
            if kind == 'image':
                conn.image.delete_image(rid, ignore_missing=True)
        conn.compute.delete_server(server, ignore_missing=True)
        conn.compute.wait_for_delete(server, wait=120)
        conn.block_storage.wait_for_status(volume, 'available', wait=120)
        conn.block_storage.delete_volume(volume, ignore_missing=True)
        conn.image.delete_image(image.id, ignore_missing=True)


def test_whole_project(cloud, tmp_path):
    conn = cloud.connect(cloud.b)
    volume = conn.block_storage.create_volume(size=1, name='proj-vol')
    conn.block_storage.wait_for_status(volume, 'available', failures=['error'], wait=120)
    image = upload_image(conn, os.urandom(300 * 1024))
    engine = engine_for(cloud, cloud.b, tmp_path)
    project_id = conn.current_project_id
    new = {}
    try:
        plan = engine.plans.create({'name': 'proj', 'provider_id': OS_INFRA,
                                   'resources': [{'id': project_id,
                                                  'type': 'OS::Keystone::Project'}]})
        checkpoint = engine.protect(plan)
        assert checkpoint.status == 'available', checkpoint.data
        statuses = checkpoint.data['resources_status']
        assert 'OS::Cinder::Volume#' + volume.id in statuses
        assert 'OS::Glance::Image#' + image.id in statuses
        assert 'OS::Keystone::Project#' + project_id in statuses
        restore = engine.restore(OS_INFRA, checkpoint.id)
        assert restore['status'] == 'success', restore
        new = restore['new_resources']
        assert conn.block_storage.get_volume(new[volume.id]).status == 'available'
        assert conn.image.get_image(new[image.id]).checksum == image.checksum
        engine.delete_checkpoint(OS_INFRA, checkpoint.id)
    finally:
        for original, created in new.items():
            if original == volume.id:
                conn.block_storage.delete_volume(created, ignore_missing=True)
            elif original == image.id:
                conn.image.delete_image(created, ignore_missing=True)
        conn.block_storage.delete_volume(volume, ignore_missing=True)
        conn.image.delete_image(image.id, ignore_missing=True)
