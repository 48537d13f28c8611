# -*- coding: utf-8 -*-
"""backup_mode bank on the real test cloud, through ansible-playbook: a volume with known
bytes (copied from a snapshot's volume, then, with force, directly) goes into the bank's
chunks (its own Swift container) with no Cinder backup and no temporary snapshot, volume
or image left; it restores into a new volume with the same bytes; a second checkpoint of
the unchanged volume uploads (almost) no new chunk bytes; deleting both checkpoints leaves
no chunk behind."""
from __future__ import annotations

import hashlib
import io
import json
import os
import time
import uuid

import pytest

from conftest import delete_container, delete_volumes  # pylint: disable=import-error
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


def temporaries(conn, volume_id: str) -> list[str]:
    """Snapshots, volumes and images a bank-mode run makes for itself for this volume, still
    there (tests beside this one make their own)."""
    names = [s.name for s in conn.block_storage.snapshots(details=True)]
    names += [v.name for v in conn.block_storage.volumes(details=True)]
    names += [i.name for i in conn.image.images()]
    return [n for n in names if n and n.startswith(TEMPORARY) and n.endswith(volume_id)]


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
        delete_volumes(conn, made['volumes'] + [vol.id])
        if made['container']:
            delete_container(conn, made['container'])


class BankSteps:
    """The test's provider (its own bank container, deleted with the volume) and one
    playbook run per step of volume_bank_mode.yml; ``engine`` reads the bank in process."""

    def __init__(self, cloud, run_playbook, tmp_path, made):
        from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import (
            CloudSession)
        from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
            ProtectionEngine)
        providers = str(tmp_path / 'providers')
        self.provider_id, made['container'] = provider_file(providers)
        self.base = {'state_dir': str(tmp_path / 'state'), 'providers_dir': providers,
                     'provider_id': self.provider_id}
        self.run_playbook, self.tmp_path = run_playbook, tmp_path
        self.engine = ProtectionEngine(state_dir=self.base['state_dir'], providers_dir=providers,
                                       cloud=CloudSession({'cloud': cloud.a}))

    def __call__(self, name: str, check: bool = True, **extravars):
        """The step's registered result (its out file), or with check=False the run itself."""
        out = str(self.tmp_path / ('%s.json' % name))
        result = self.run_playbook('volume_bank_mode.yml',
                                   dict(self.base, step=name, out=out, **extravars), check=check)
        if not check:
            return result
        with open(out, encoding='utf-8') as handle:
            return json.load(handle)

    def metadata(self, checkpoint_id: str, volume_id: str) -> dict:
        return self.engine.get_checkpoint(self.provider_id, checkpoint_id).resource_section(
            volume_id).get_json('metadata')


def test_volume_in_the_bank_dedup_restore_and_delete(
        cloud, bank_volume, run_playbook, tmp_path):
    conn, vol, payload, made = bank_volume
    step = BankSteps(cloud, run_playbook, tmp_path, made)
    base, container = step.base, made['container']
    from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
        chunk_key)

    first = step('protect', volume_id=vol.id)['checkpoint']
    assert first['status'] == 'available', first
    meta = step.metadata(first['id'], vol.id)
    assert meta['backup_mode'] == 'bank' and meta['state'] == 'available', meta
    assert meta['direct'] is False  # from a snapshot's copy (no force)
    assert meta['data_size'] == vol.size * 1024 ** 3
    assert meta['temporary'] == {} and 'backup_id' not in meta
    chunks = chunk_objects(conn, container)
    assert {chunk_key(c)[1:] for c in meta['chunks']} == set(chunks)  # all in the bank
    assert 2 <= len(chunks) <= 3  # the known bytes' chunk(s) and the zero chunk, once each
    assert list(conn.block_storage.backups(details=True, volume_id=vol.id)) == []
    assert temporaries(conn, vol.id) == []

    # a restore killed once its temporary image is made: the restore record keeps the image,
    # and once the run's lease has expired the next look at the record deletes it
    name = 'volbank-restored-%s' % uuid.uuid4().hex[:6]
    killed = run_playbook('volume_bank_mode.yml', dict(
        base, step='restore', checkpoint_id=first['id'], restore_name=name + '-killed',
        out=str(tmp_path / 'killed.json')), env={'KARBOR_FAULT': 'restore.volume_image'},
        check=False)
    assert killed.rc != 0
    assert temporaries(conn, vol.id) == ['karbor-restore-%s-%s' % (first['id'], vol.id)]
    time.sleep(LEASE_EXPIRE + 2)
    dead = step('restore_info', checkpoint_id=first['id'])['restores']
    assert [r['status'] for r in dead] == ['fail'], dead
    assert 'stopped before it finished' in dead[0]['error']
    assert 'could not be deleted' not in dead[0]['error'] and not dead[0].get('temporary')
    assert temporaries(conn, vol.id) == []

    # restore: a new volume with the saved bytes, and nothing temporary left
    restore = step('restore', checkpoint_id=first['id'], restore_name=name)['restore']
    assert restore['status'] == 'success', restore
    restored_id = restore['new_resources'][vol.id]
    made['volumes'].append(restored_id)
    restored = conn.block_storage.get_volume(restored_id)
    assert restored.name == name and restored.size == vol.size
    assert read_pattern(cloud, restored_id, len(payload)) == payload
    assert file_sha256(volume_file(cloud, restored_id)) == file_sha256(volume_file(cloud, vol.id))
    assert temporaries(conn, vol.id) == []

    # a second checkpoint of the unchanged volume: (almost) no new chunk bytes
    before = chunk_objects(conn, container)
    second = step('protect', volume_id=vol.id, force=True)['checkpoint']  # the direct path
    assert second['status'] == 'available', second
    after = chunk_objects(conn, container)
    new_bytes = sum(size for key, size in after.items() if key not in before)
    assert new_bytes <= 0.01 * meta['data_size'], (new_bytes, len(after) - len(before))
    meta2 = step.metadata(second['id'], vol.id)
    assert meta2['direct'] is True and meta2['sha256_tree'] == meta['sha256_tree']
    assert conn.block_storage.get_volume(vol.id).status == 'available'
    assert temporaries(conn, vol.id) == []

    # deleting both frees every chunk: the first keeps the shared ones for the second
    step('delete', checkpoint_id=first['id'])
    assert set(chunk_objects(conn, container)) == set(after)
    step('delete', checkpoint_id=second['id'])
    assert chunk_objects(conn, container) == {} and ref_objects(conn, container) == []
    assert list(conn.block_storage.backups(details=True, volume_id=vol.id)) == []


def test_in_use_volume_in_the_bank(cloud, bank_volume, run_playbook, tmp_path):
    """A volume attached to a server: refused without force (nothing made), then with force
    copied from a forced snapshot while it stays attached, and restored with its bytes."""
    conn, vol, payload, made = bank_volume
    step = BankSteps(cloud, run_playbook, tmp_path, made)
    tag = 'volbank-inuse-%s' % uuid.uuid4().hex[:6]
    image = conn.image.create_image(name=tag, disk_format='raw', container_format='bare',
                                    allow_duplicates=True)
    server = None
    try:
        image.upload(conn.image, data=io.BytesIO(b'in-use bank mode boot image\n' * 40),
                     size=1120)
        conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
        server = conn.compute.wait_for_server(conn.compute.create_server(
            name=tag, image_id=image.id, flavor_id=conn.compute.find_flavor('m1.tiny').id,
            networks=[{'uuid': next(conn.network.networks(name='private')).id}]), wait=180)
        conn.compute.create_volume_attachment(server, volume_id=vol.id)
        conn.block_storage.wait_for_status(vol, 'in-use', wait=120)

        refused = step('protect', check=False, volume_id=vol.id)
        assert refused.rc != 0 and 'is in use; set force: true' in refused.stdout, \
            refused.stdout[-3000:]
        assert temporaries(conn, vol.id) == [] and chunk_objects(conn, made['container']) == {}

        checkpoint = step('protect', volume_id=vol.id, force=True)['checkpoint']
        assert checkpoint['status'] == 'available', checkpoint
        meta = step.metadata(checkpoint['id'], vol.id)
        assert meta['backup_mode'] == 'bank' and meta['direct'] is False, meta
        assert list(conn.block_storage.backups(details=True, volume_id=vol.id)) == []
        assert temporaries(conn, vol.id) == []
        attached = conn.block_storage.get_volume(vol.id)
        assert attached.status == 'in-use' and attached.attachments[0]['server_id'] == server.id

        name = 'volbank-inuse-restored-%s' % uuid.uuid4().hex[:6]
        restore = step('restore', checkpoint_id=checkpoint['id'], restore_name=name)['restore']
        assert restore['status'] == 'success', restore
        made['volumes'].append(restore['new_resources'][vol.id])
        assert read_pattern(cloud, restore['new_resources'][vol.id], len(payload)) == payload
        assert temporaries(conn, vol.id) == []
        step('delete', checkpoint_id=checkpoint['id'])
        assert chunk_objects(conn, made['container']) == {}
    finally:
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, wait=180)
            conn.block_storage.wait_for_status(vol, 'available', wait=120)
        conn.image.delete_image(image, ignore_missing=True)
