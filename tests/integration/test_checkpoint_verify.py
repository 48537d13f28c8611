# -*- coding: utf-8 -*-
"""checkpoint_verify and verification_info through real ansible-playbook on
the test cloud: a clean checkpoint (a volume and an image) verifies at both
levels; after one byte of one image chunk is flipped in the Swift bank and
the volume's Cinder backup is deleted, level bank names the backup and level
data also names the chunk; the records are listed newest first."""
from __future__ import annotations

import io
import json
import os
import uuid

from conftest import delete_container  # pylint: disable=import-error

MIB = 1024 * 1024


def provider_file(folder) -> tuple[str, str]:
    """Its own Swift container with 1 MiB chunks: the test damages it freely."""
    provider_id = str(uuid.uuid4())
    container = 'karbor-it-verify-%s' % provider_id[:8]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, provider_id + '.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = verify-it-%s\nbank = swift\n'
                     'plugin = karbor-image-protection-plugin\n'
                     'plugin = karbor-volume-protection-plugin\n'
                     '[image_backup_plugin]\nbackup_image_object_size = %d\n'
                     '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                     % (provider_id, provider_id[:8], MIB, container))
    return provider_id, container


def test_verify_clean_then_damaged(cloud, volume, run_playbook, tmp_path):
    import swiftclient  # the test venv has it
    conn = cloud.connect(cloud.a)
    provider_id, container = provider_file(str(tmp_path / 'providers'))
    image = conn.image.create_image(name='verify-it-%s' % uuid.uuid4().hex[:6],
                                    disk_format='raw', container_format='bare',
                                    allow_duplicates=True)
    backups = []
    try:
        image.upload(conn.image, data=io.BytesIO(os.urandom(3 * MIB)), size=3 * MIB)
        conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
        common = {'state_dir': str(tmp_path / 'state'), 'providers_dir': str(tmp_path / 'providers'),
                  'provider_id': provider_id, 'volume_id': volume.id, 'image_id': image.id}
        out = str(tmp_path / 'clean.json')
        run_playbook('checkpoint_verify.yml', dict(common, out=out))
        with open(out) as handle:
            clean = json.load(handle)
        for level in ('bank', 'data'):
            record = clean[level]['verification']
            assert record['status'] == 'success', record
            assert set(record['resources_status'].values()) == {'ok'}
            assert len(record['resources_status']) == 2 and record['level'] == level
        assert clean['data']['verification']['progress']['bytes_done'] == 3 * MIB
        assert 'id' not in clean['dry']['verification']
        assert clean['strict']['failed'] is not True
        assert clean['bad_subset']['failed'] and 'from 1 to 100' in clean['bad_subset']['msg']
        assert clean['unknown']['failed'] and 'does not exist' in clean['unknown']['msg']
        ids = [v['id'] for v in clean['listed']]
        assert ids == [clean['strict']['verification']['id'], clean['data']['verification']['id'],
                       clean['bank']['verification']['id']]

        # damage: one byte of one chunk (its recorded sha256 kept), and the backup
        swift = swiftclient.Connection(session=conn.session, retries=3, os_options={
            'object_storage_url': conn.object_store.get_endpoint()})
        names = [o['name'] for o in swift.get_container(container, prefix='chunks/')[1]]
        assert len(names) == 3
        headers, body = swift.get_object(container, names[1])
        swift.put_object(container, names[1], contents=bytes([body[0] ^ 1]) + body[1:],
                         headers={'X-Object-Meta-Sha256': headers['x-object-meta-sha256']})
        backups = [b.id for b in conn.block_storage.backups(details=True)
                   if b.volume_id == volume.id]
        assert len(backups) == 1
        conn.block_storage.delete_backup(backups[0])
        conn.block_storage.wait_for_delete(conn.block_storage.get_backup(backups[0]), wait=120)

        out = str(tmp_path / 'damaged.json')
        run_playbook('checkpoint_verify.yml', dict(common, out=out,
                                                   checkpoint_id=clean['checkpoint_id']))
        with open(out) as handle:
            damaged = json.load(handle)
        volume_key, image_key = 'OS::Cinder::Volume#' + volume.id, 'OS::Glance::Image#' + image.id
        bank = damaged['bank']['verification']
        assert bank['status'] == 'fail'
        assert bank['resources_status'] == {volume_key: 'failed', image_key: 'ok'}
        assert backups[0] in bank['resources_reason'][volume_key]
        assert 'does not exist' in bank['resources_reason'][volume_key]
        data = damaged['data']['verification']
        assert data['resources_status'] == {volume_key: 'failed', image_key: 'failed'}
        assert '/' + names[1] in data['resources_reason'][image_key]
        assert 'corrupted' in data['resources_reason'][image_key]
        assert damaged['strict']['failed'] and backups[0] in damaged['strict']['msg']
        assert damaged['listed'][0]['id'] == damaged['strict']['verification']['id']
        assert len(damaged['listed']) == 6
    finally:
        conn.image.delete_image(image.id, ignore_missing=True)
        for backup in conn.block_storage.backups(details=True):
            if backup.volume_id == volume.id:
                conn.block_storage.delete_backup(backup.id, ignore_missing=True)
        delete_container(conn, container)
