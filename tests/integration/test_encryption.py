# -*- coding: utf-8 -*-
"""Client-side bank encryption against the real test cloud.

The OS Infra Provider (Swift bank; overridden by a provider file so it uses
its own container) protects a volume and an image through the modules with a
key: no bank object holds the image bytes, the image metadata or a sha256
chunk name; a restore with the key gives the same bytes; a restore with
another key, or none, fails with a clear message and creates nothing. The
same on the OS Infra Provider with the local file-system bank.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import uuid

import pytest

from conftest import delete_container  # pylint: disable=import-error

from ansible_collections.karbor.protection.plugins.module_utils.storage import encrypted_bank as C
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    CHUNKS_PREFIX, chunk_key)
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import KarborError
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    OS_INFRA_FS_PROVIDER_ID, OS_INFRA_PROVIDER_ID)

VOLUME = 'OS::Cinder::Volume'
IMAGE = 'OS::Glance::Image'
MIB = 1024 * 1024
CHUNK = MIB
PATTERN_OFFSET = 4096


def provider_file(folder, provider_id: str, bank: str, container: str, bank_path: str = '') -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'enc.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = OS Infra Provider (encryption test)\n'
                     'bank = %s\nplugin = karbor-volume-protection-plugin\n'
                     'plugin = karbor-image-protection-plugin\n'
                     '[image_backup_plugin]\nbackup_image_object_size = %d\n'
                     '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                     '[file_system_bank_plugin]\nfile_system_bank_path = %s\n'
                     % (provider_id, bank, CHUNK, container, bank_path))


def write_key(path, key: bytes) -> str:
    with open(path, 'w', encoding='ascii') as handle:
        handle.write(base64.b64encode(key).decode() + '\n')
    os.chmod(path, 0o600)
    return str(path)


def chunk_sha256s(data: bytes) -> list[str]:
    return [hashlib.sha256(data[i:i + CHUNK]).hexdigest() for i in range(0, len(data), CHUNK)]


def samples(data: bytes) -> list[bytes]:
    """A 64-byte piece from the start and middle of every chunk."""
    found = []
    for start in range(0, len(data), CHUNK):
        part = data[start:start + CHUNK]
        found += [part[:64], part[len(part) // 2:len(part) // 2 + 64]]
    return found


def assert_no_plaintext(objects: dict[str, bytes], data: bytes, secrets: list[bytes]) -> None:
    """Every object but the marker is sealed; none holds image bytes, the
    plaintext metadata or a sha256 chunk name (in its name or its bytes)."""
    assert objects, 'the bank is empty'
    shas = chunk_sha256s(data)
    assert any(name.startswith(CHUNKS_PREFIX) for name in objects)
    for name, body in objects.items():
        for sha in shas:
            assert sha not in name and sha.encode() not in body, (name, sha)
        if name == C.MARKER_KEY:
            assert json.loads(body)['key_id']
            continue
        assert body.startswith(C.MAGIC), name
        for piece in samples(data) + secrets:
            assert piece not in body, (name, piece[:16])


def swift_objects(conn, container: str) -> dict[str, bytes]:
    return {'/' + obj.name: conn.object_store.download_object(obj.name, container=container)
            for obj in conn.object_store.objects(container)}


def local_objects(root: str) -> dict[str, bytes]:
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        for name in files:
            path = os.path.join(folder, name)
            with open(path, 'rb') as handle:
                handle.readline()  # LocalBank's header (checksum, length)
                found['/' + os.path.relpath(path, root)] = handle.read()
    return found


@pytest.fixture
def conn(cloud):
    return cloud.connect(cloud.a)


@pytest.fixture
def made(conn):
    """Volumes and images to delete at the end."""
    things: dict[str, list[str]] = {'volumes': [], 'images': []}
    yield things
    for image_id in things['images']:
        conn.image.delete_image(image_id, ignore_missing=True)
    for volume_id in things['volumes']:
        try:
            vol = conn.block_storage.get_volume(volume_id)
            conn.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=300)
        except Exception:  # pylint: disable=broad-except
            pass
        conn.block_storage.delete_volume(volume_id, ignore_missing=True)


def upload_image(conn, made, data: bytes, secret: str):
    image = conn.image.create_image(name='enc-it-%s' % uuid.uuid4().hex[:6], disk_format='raw',
                                    container_format='bare', allow_duplicates=True,
                                    enc_test_secret=secret)
    made['images'].append(image.id)
    image.upload(conn.image, data=io.BytesIO(data), size=len(data))
    conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
    return conn.image.get_image(image.id)


def named(conn, name: str) -> tuple[list[str], list[str]]:
    return ([v.id for v in conn.block_storage.volumes(name=name)],
            [i.id for i in conn.image.images(name=name)])


def read_json(path) -> dict:
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def test_swift_bank_volume_and_image(cloud, conn, made, run_playbook, tmp_path):
    providers = tmp_path / 'providers'
    container = 'karbor-it-enc-%s' % uuid.uuid4().hex[:8]
    provider_file(str(providers), OS_INFRA_PROVIDER_ID, 'swift', container)
    key, wrong = os.urandom(32), os.urandom(32)
    key_file = write_key(tmp_path / 'bank.key', key)
    wrong_file = write_key(tmp_path / 'wrong.key', wrong)
    secret = 'enc-secret-%s' % uuid.uuid4().hex
    data = os.urandom(3 * MIB + 777)
    image = upload_image(conn, made, data, secret)
    volume = conn.block_storage.create_volume(size=1, name='enc-it-%s' % uuid.uuid4().hex[:6])
    made['volumes'].append(volume.id)
    conn.block_storage.wait_for_status(volume, 'available', failures=['error'], wait=120)
    payload = ('karbor encrypted volume %s ' % volume.id).encode() * 50
    with open(os.path.join(cloud.base, 'data', 'cinder', 'volumes', 'volume-%s' % volume.id),
              'r+b') as handle:
        handle.seek(PATTERN_OFFSET)
        handle.write(payload)
    state = str(tmp_path / 'state')
    base = {'state_dir': state, 'providers_dir': str(providers),
            'provider_id': OS_INFRA_PROVIDER_ID}
    engine = ProtectionEngine(state_dir=state, providers_dir=str(providers),
                              cloud=CloudSession({'cloud': cloud.a}), encryption_key=key)
    try:
        # protect with the key as a (Vault) variable
        out = tmp_path / 'protect.json'
        run_playbook('encryption.yml', dict(base, step='protect', out=str(out),
                                            enc_key=base64.b64encode(key).decode(),
                                            resources=[{'id': volume.id, 'type': VOLUME},
                                                       {'id': image.id, 'type': IMAGE}]))
        checkpoint = read_json(out)['checkpoint']
        assert checkpoint['status'] == 'available', checkpoint
        objects = swift_objects(conn, container)
        assert_no_plaintext(objects, data, [secret.encode(), image.name.encode(),
                                            b'"status"', b'resource_graph'])
        assert json.loads(objects[C.MARKER_KEY])['key_id'] == C.key_id_of(key)
        # the checkpoint reads back with the key; its chunks have keyed names
        cp = engine.get_checkpoint(OS_INFRA_PROVIDER_ID, checkpoint['id'])
        meta = cp.resource_section(image.id).get_json('metadata')
        assert len(meta['chunks']) == 4
        assert sorted(meta['chunks']) != sorted(chunk_sha256s(data))
        assert all(chunk_key(c) in objects for c in meta['chunks'])
        assert engine.verify_checkpoint(cp) > 0

        # a wrong key, or none: a clear error, nothing created, the bank untouched
        for label, env in (('wrong key', {'KARBOR_ENCRYPTION_KEY_FILE': wrong_file}),
                           ('no key', {})):
            name = 'enc-it-bad-%s' % uuid.uuid4().hex[:6]
            before = sorted(objects)
            result = run_playbook('encryption.yml', dict(
                base, step='restore', out=str(tmp_path / 'bad.json'),
                checkpoint_id=checkpoint['id'], restore_name=name), check=False, env=env)
            assert result.rc != 0, label
            text = result.stdout + result.stderr
            assert 'encrypted with key id %s' % C.key_id_of(key) in text, (label, text[-3000:])
            if label == 'wrong key':
                assert 'the key given has id %s' % C.key_id_of(wrong) in text
            else:
                assert 'no key was given' in text
            assert 'Traceback' not in text
            assert named(conn, name) == ([], [])
            assert sorted(swift_objects(conn, container)) == before
        restores = engine.catalog.restores.list(engine.project_id)
        assert restores == [], 'a refused restore left a restore record'

        # the right key (from the environment): the same bytes back
        name = 'enc-it-back-%s' % uuid.uuid4().hex[:6]
        out = tmp_path / 'restore.json'
        run_playbook('encryption.yml', dict(base, step='restore', out=str(out),
                                            checkpoint_id=checkpoint['id'], restore_name=name),
                     env={'KARBOR_ENCRYPTION_KEY_FILE': key_file})
        restore = read_json(out)['restore']
        assert restore['status'] == 'success', restore
        new = restore['new_resources']
        made['images'].append(new[image.id])
        made['volumes'].append(new[volume.id])
        assert conn.image.download_image(new[image.id]).content == data
        assert conn.image.get_image(new[image.id]).properties.get('enc_test_secret') == secret
        with open(os.path.join(cloud.base, 'data', 'cinder', 'volumes',
                               'volume-%s' % new[volume.id]), 'rb') as handle:
            handle.seek(PATTERN_OFFSET)
            assert handle.read(len(payload)) == payload

        # deleting needs the key too, and frees everything
        engine.delete_checkpoint(OS_INFRA_PROVIDER_ID, checkpoint['id'])
        left = swift_objects(conn, container)
        assert not [k for k in left if k.startswith(CHUNKS_PREFIX)]
        assert all(v.startswith(C.MAGIC) for k, v in left.items() if k != C.MARKER_KEY)
    finally:
        delete_container(conn, container)


def test_local_bank_image(cloud, conn, made, tmp_path):
    providers = tmp_path / 'providers'
    bank_root = str(tmp_path / 'bank')
    provider_file(str(providers), OS_INFRA_FS_PROVIDER_ID, 'local', 'unused', bank_root)
    key = os.urandom(32)
    secret = 'enc-secret-%s' % uuid.uuid4().hex
    data = os.urandom(2 * MIB + 4321)
    image = upload_image(conn, made, data, secret)
    state = str(tmp_path / 'state')

    def engine(with_key):
        return ProtectionEngine(state_dir=state, providers_dir=str(providers),
                                cloud=CloudSession({'cloud': cloud.a}), encryption_key=with_key)

    keyed = engine(key)
    plan = keyed.plans.create({'name': 'enc-local', 'provider_id': OS_INFRA_FS_PROVIDER_ID,
                              'resources': [{'id': image.id, 'type': IMAGE}]})
    first = keyed.protect(plan)
    assert first.status == 'available', first.data.get('error')
    second = keyed.protect(plan)
    assert second.status == 'available', second.data.get('error')
    assert second.data['progress']['bytes_uploaded'] == 0  # keyed chunk ids still deduplicate
    objects = local_objects(bank_root)
    assert_no_plaintext(objects, data, [secret.encode(), image.name.encode(), b'"status"'])
    assert len([k for k in objects if k.startswith(CHUNKS_PREFIX)]) == 3

    for other in (os.urandom(32), None):
        name = 'enc-it-bad-%s' % uuid.uuid4().hex[:6]
        before = local_objects(bank_root)
        with pytest.raises(KarborError) as info:
            engine(other).restore(OS_INFRA_FS_PROVIDER_ID, second.id, {IMAGE: {'restore_name': name}})
        assert 'encrypted with key id %s' % C.key_id_of(key) in info.value.msg
        assert named(conn, name) == ([], [])
        assert local_objects(bank_root) == before

    name = 'enc-it-back-%s' % uuid.uuid4().hex[:6]
    restore = engine(key).restore(OS_INFRA_FS_PROVIDER_ID, second.id, {IMAGE: {'restore_name': name}})
    assert restore['status'] == 'success', (restore.get('error'), restore['resources_reason'])
    made['images'].append(restore['new_resources'][image.id])
    assert conn.image.download_image(restore['new_resources'][image.id]).content == data
    keyed.delete_checkpoint(OS_INFRA_FS_PROVIDER_ID, first.id)
    keyed.delete_checkpoint(OS_INFRA_FS_PROVIDER_ID, second.id)
    assert not [k for k in local_objects(bank_root) if k.startswith(CHUNKS_PREFIX)]
