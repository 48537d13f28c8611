# -*- coding: utf-8 -*-
"""backup_mode bank on the real test cloud, through ansible-playbook: a volume with known
bytes (copied from a snapshot's volume, then, with force, directly) goes into the bank's
chunks (its own Swift container) with no Cinder backup and no temporary snapshot, volume
or image left; it restores into a new volume with the same bytes; a second checkpoint of
the unchanged volume uploads (almost) no new chunk bytes; deleting both checkpoints leaves
no chunk behind."""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid

import pytest

from conftest import delete_container  # pylint: disable=import-error
from test_os_infra import read_pattern, volume_file, write_pattern  # volume file helpers

MIB = 1024 * 1024
CHUNK = 4 * MIB
TEMPORARY = ('karbor-bank-', 'karbor-restore-')
LEASE_EXPIRE = 20  # seconds a killed run's lease outlives it (a short window for the test)


def provider_file(folder: str) -> tuple[str, str]:
    provider_id = str(uuid.uuid4())
    container = 'karbor-it-volbank-%s' % provider_id[:8]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, provider_id + '.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = volume-bank-it-%s\nbank = swift\n'
                     'plugin = karbor-volume-protection-plugin\n'
                     '[image_backup_plugin]\nbackup_image_object_size = %d\n'
                     'upload_concurrency = 4\n'
                     '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                     'lease_expire_window = %d\nlease_renew_window = 5\n'
                     'lease_validity_window = 3\n'
                     % (provider_id, provider_id[:8], CHUNK, container, LEASE_EXPIRE))
    return provider_id, container


def chunk_objects(conn, container: str) -> dict[str, int]:
    """The bank's chunk objects and their sizes."""
    return {o.name: o.content_length
            for o in conn.object_store.objects(container, prefix='chunks/')}


def ref_objects(conn, container: str) -> list[str]:
    return [o.name for o in conn.object_store.objects(container, prefix='chunk-refs/')]


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(8 * MIB), b''):
            digest.update(block)
    return digest.hexdigest()


def temporaries(conn) -> list[str]:
    """Snapshots, volumes and images a bank-mode run makes for itself, still there."""
    names = [s.name for s in conn.block_storage.snapshots(details=True)]
    names += [v.name for v in conn.block_storage.volumes(details=True)]
    names += [i.name for i in conn.image.images()]
    return [n for n in names if n and n.startswith(TEMPORARY)]


@pytest.fixture
def bank_volume(cloud):
    """Project A's 1 GiB volume with 3 MiB of known bytes; deleted afterwards with what the
    test restored, and the test's bank container."""
    conn = cloud.connect(cloud.a)
    vol = conn.block_storage.create_volume(size=1, name='volbank-%s' % uuid.uuid4().hex[:6])
    made = {'volumes': [], 'container': None}
    try:
        conn.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=120)
        payload = os.urandom(3 * MIB) + ('karbor bank mode %s' % vol.id).encode()
        write_pattern(cloud, vol.id, payload)
        yield conn, vol, payload, made
    finally:
        for volume_id in made['volumes'] + [vol.id]:
            found = conn.block_storage.find_volume(volume_id, ignore_missing=True)
            if found:
                conn.block_storage.delete_volume(found)
                conn.block_storage.wait_for_delete(found, wait=120)
        if made['container']:
            delete_container(conn, made['container'])


def test_volume_in_the_bank_dedup_restore_and_delete(
        cloud, bank_volume, run_playbook, tmp_path):
    conn, vol, payload, made = bank_volume
    providers = str(tmp_path / 'providers')
    provider_id, container = provider_file(providers)
    made['container'] = container
    base = {'state_dir': str(tmp_path / 'state'), 'providers_dir': providers,
            'provider_id': provider_id}

    def step(name: str, **extravars) -> dict:
        out = str(tmp_path / ('%s.json' % name))
        run_playbook('volume_bank_mode.yml', dict(base, step=name, out=out, **extravars))
        with open(out, encoding='utf-8') as handle:
            return json.load(handle)

    from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import (
        CloudSession)
    from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
        ProtectionEngine)
    from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
        chunk_key)
    engine = ProtectionEngine(state_dir=base['state_dir'], providers_dir=providers,
                              cloud=CloudSession({'cloud': cloud.a}))

    first = step('protect', volume_id=vol.id)['checkpoint']
    assert first['status'] == 'available', first
    meta = engine.get_checkpoint(provider_id, first['id']).resource_section(
        vol.id).get_json('metadata')
    assert meta['backup_mode'] == 'bank' and meta['state'] == 'available', meta
    assert meta['direct'] is False  # from a snapshot's copy (no force)
    assert meta['data_size'] == vol.size * 1024 ** 3
    assert meta['temporary'] == {} and 'backup_id' not in meta
    chunks = chunk_objects(conn, container)
    assert {chunk_key(c)[1:] for c in meta['chunks']} == set(chunks)  # all in the bank
    assert 2 <= len(chunks) <= 3  # the known bytes' chunk(s) and the zero chunk, once each
    assert list(conn.block_storage.backups(details=True, volume_id=vol.id)) == []
    assert temporaries(conn) == []

    # a restore killed once its temporary image is made: the restore record keeps the image,
    # and once the run's lease has expired the next look at the record deletes it
    name = 'volbank-restored-%s' % uuid.uuid4().hex[:6]
    killed = run_playbook('volume_bank_mode.yml', dict(
        base, step='restore', checkpoint_id=first['id'], restore_name=name + '-killed',
        out=str(tmp_path / 'killed.json')), env={'KARBOR_FAULT': 'restore.volume_image'},
        check=False)
    assert killed.rc != 0
    assert temporaries(conn) == ['karbor-restore-%s-%s' % (first['id'], vol.id)]
    time.sleep(LEASE_EXPIRE + 2)
    dead = step('restore_info', checkpoint_id=first['id'])['restores']
    assert [r['status'] for r in dead] == ['fail'], dead
    assert 'stopped before it finished' in dead[0]['error']
    assert 'could not be deleted' not in dead[0]['error'] and not dead[0].get('temporary')
    assert temporaries(conn) == []

    # restore: a new volume with the saved bytes, and nothing temporary left
    restore = step('restore', checkpoint_id=first['id'], restore_name=name)['restore']
    assert restore['status'] == 'success', restore
    restored_id = restore['new_resources'][vol.id]
    made['volumes'].append(restored_id)
    restored = conn.block_storage.get_volume(restored_id)
    assert restored.name == name and restored.size == vol.size
    assert read_pattern(cloud, restored_id, len(payload)) == payload
    assert file_sha256(volume_file(cloud, restored_id)) == file_sha256(volume_file(cloud, vol.id))
    assert temporaries(conn) == []

    # a second checkpoint of the unchanged volume: (almost) no new chunk bytes
    before = chunk_objects(conn, container)
    second = step('protect', volume_id=vol.id, force=True)['checkpoint']  # the direct path
    assert second['status'] == 'available', second
    after = chunk_objects(conn, container)
    new_bytes = sum(size for key, size in after.items() if key not in before)
    assert new_bytes <= 0.01 * meta['data_size'], (new_bytes, len(after) - len(before))
    meta2 = engine.get_checkpoint(provider_id, second['id']).resource_section(
        vol.id).get_json('metadata')
    assert meta2['direct'] is True and meta2['sha256_tree'] == meta['sha256_tree']
    assert conn.block_storage.get_volume(vol.id).status == 'available'
    assert temporaries(conn) == []

    # deleting both frees every chunk: the first keeps the shared ones for the second
    step('delete', checkpoint_id=first['id'])
    assert set(chunk_objects(conn, container)) == set(after)
    step('delete', checkpoint_id=second['id'])
    assert chunk_objects(conn, container) == {} and ref_objects(conn, container) == []
    assert list(conn.block_storage.backups(details=True, volume_id=vol.id)) == []
