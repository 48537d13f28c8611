# -*- coding: utf-8 -*-
"""Site loss, through real ansible-playbook on the test cloud (issue 16's acceptance): project
A protects a volume (backup_mode bank: its bytes in the bank) and an image; a restore made
from A's bank into project B (target_cloud) gives the same bytes there, while a checkpoint
whose volume is a Cinder backup of A is refused before anything is made in B; the
checkpoint is copied into a bank of project B; then A loses the volume, the image, every
backup and the whole bank container, and the restore in B from the copy gives volumes and
images with the original bytes."""
from __future__ import annotations

import hashlib
import io
import os
import uuid

from conftest import delete_container, delete_volumes  # pylint: disable=import-error
from test_checkpoint_copy import Runner, objects, provider_file, swift_of  # copy helpers
from test_os_infra import volume_file, write_pattern  # volume file helpers
from test_volume_bank_mode import file_sha256, temporaries  # bank-mode helpers

MIB = 1024 * 1024
IMAGE = 'OS::Glance::Image'
VOLUME = 'OS::Cinder::Volume'


def in_project(conn, volume_ids=(), image_ids=()) -> dict[str, list[str]]:
    """Which of these volumes and images exist in conn's project."""
    volumes = {v.id for v in conn.block_storage.volumes(details=False)}
    images = {i.id for i in conn.image.images()}
    return {'volumes': sorted(set(volume_ids) & volumes),
            'images': sorted(set(image_ids) & images)}


def test_site_loss_restore_in_another_project(cloud, volume, run_playbook, tmp_path):
    conn_a, conn_b = cloud.connect(cloud.a), cloud.connect(cloud.b)
    folder = str(tmp_path / 'providers')
    source, source_container = provider_file(folder, 'site-a', chunk_size=4 * MIB)
    target, target_container = provider_file(folder, 'site-b', chunk_size=4 * MIB)
    image_data = os.urandom(3 * MIB + 4321)
    label = uuid.uuid4().hex[:6]
    vol = conn_a.block_storage.create_volume(size=1, name='site-loss-%s' % label)
    image = conn_a.image.create_image(name='site-loss-%s' % label, disk_format='raw',
                                      container_format='bare', allow_duplicates=True)
    made_b: dict[str, list[str]] = {'volumes': [], 'images': []}
    project_b = conn_b.current_project_id
    try:
        conn_a.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=120)
        write_pattern(cloud, vol.id, os.urandom(2 * MIB) + ('site %s' % vol.id).encode())
        volume_sha = file_sha256(volume_file(cloud, vol.id))
        image.upload(conn_a.image, data=io.BytesIO(image_data), size=len(image_data))
        conn_a.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
        run = Runner(run_playbook, tmp_path, {'state_dir': str(tmp_path / 'state'),
                                              'providers_dir': folder, 'timeout': 900})
        made = run({
            'plan': {'karbor.protection.plan': {
                'name': 'site-loss', 'provider_id': source,
                'resources': [{'id': image.id, 'type': IMAGE}, {'id': vol.id, 'type': VOLUME}],
                'parameters': {VOLUME: {'backup_mode': 'bank'}}}},
            'cinder_plan': {'karbor.protection.plan': {
                'name': 'site-loss-cinder', 'provider_id': source,
                'resources': [{'id': volume.id, 'type': VOLUME}]}},
            'cp': {'karbor.protection.checkpoint': {'plan': 'site-loss'}},
            'cinder_cp': {'karbor.protection.checkpoint': {'plan': 'site-loss-cinder'}},
        })
        for name in ('cp', 'cinder_cp'):
            assert made[name]['checkpoint']['status'] == 'available', made[name]
        cid, cinder_cid = made['cp']['checkpoint']['id'], made['cinder_cp']['checkpoint']['id']
        names = {'%s#%s' % (IMAGE, image.id): {'restore_name': 'site-b-img-%s' % label},
                 '%s#%s' % (VOLUME, vol.id): {'restore_name': 'site-b-vol-%s' % label}}
        elsewhere = {'karbor.protection.restore': {
            'cloud': cloud.a, 'target_cloud': cloud.b, 'provider_id': source,
            'checkpoint_id': cid, 'parameters': names}}

        def made_in_b() -> list[str]:
            """Images and volumes of project B this test's restores would have named (other
            tests run beside this one)."""
            names = [i.name for i in conn_b.image.images() if i.owner == project_b]
            names += [v.name for v in conn_b.block_storage.volumes(details=False)]
            return sorted(n for n in names if n and any(k in n for k in (label, cid, cinder_cid)))

        # restore elsewhere: from A's bank into B; a Cinder backup of A cannot come along
        # (refused in check mode and for real, nothing made in B); check mode makes nothing
        first = run({
            'dry': dict(elsewhere, check_mode=True),
            'cinder_dry': {'karbor.protection.restore': {
                'cloud': cloud.a, 'target_cloud': cloud.b, 'provider_id': source,
                'checkpoint_id': cinder_cid}, 'check_mode': True},
            'cinder': {'karbor.protection.restore': {
                'cloud': cloud.a, 'target_cloud': cloud.b, 'provider_id': source,
                'checkpoint_id': cinder_cid}},
        })
        assert first['dry']['changed'] and not first['dry'].get('failed'), first['dry']
        for name in ('cinder_dry', 'cinder'):
            assert first[name]['failed'], first[name]
            assert volume.id in first[name]['msg'] and 'backup_mode: bank' in first[name]['msg']
        assert made_in_b() == []
        restored = run({'restore': elsewhere})['restore']
        assert not restored.get('failed'), restored
        record = restored['restore']
        new = record['new_resources']
        made_b['volumes'].append(new[vol.id])
        made_b['images'].append(new[image.id])
        assert record['restore_target']['project_id'] == conn_b.current_project_id
        assert in_project(conn_b, [new[vol.id]], [new[image.id]]) == {
            'volumes': [new[vol.id]], 'images': [new[image.id]]}
        nothing = {'volumes': [], 'images': []}
        assert in_project(conn_a, [new[vol.id]], [new[image.id]]) == nothing
        assert conn_b.block_storage.get_volume(new[vol.id]).name == 'site-b-vol-%s' % label
        assert file_sha256(volume_file(cloud, new[vol.id])) == volume_sha
        assert conn_b.image.download_image(new[image.id]).content == image_data
        assert temporaries(conn_a, vol.id) == [] and temporaries(conn_b, vol.id) == []

        # copy to B's bank
        copied = run({'copy': {'karbor.protection.checkpoint_copy': {
            'cloud': cloud.a, 'provider_id': source, 'checkpoint_id': cid,
            'target_cloud': cloud.b, 'target_provider_id': target}}})['copy']
        assert not copied.get('failed') and copied['copy_warnings'] == [], copied

        # site A is lost: the volume, the image, every backup, the whole bank container
        conn_a.image.delete_image(image.id)
        conn_a.block_storage.delete_volume(vol.id)
        conn_a.block_storage.wait_for_delete(vol, wait=120)
        for backup in conn_a.block_storage.backups(details=True):
            if backup.volume_id == vol.id:
                conn_a.block_storage.delete_backup(backup.id)
        delete_container(conn_a, source_container)
        assert objects(swift_of(conn_a), source_container) == {}
        assert in_project(conn_a, [vol.id], [image.id]) == {'volumes': [], 'images': []}

        # at site B, from the copy, with B's credentials only
        at_b = run({'restore': {'karbor.protection.restore': {
            'cloud': cloud.b, 'provider_id': target, 'checkpoint_id': cid}}})['restore']
        assert not at_b.get('failed'), at_b
        new = at_b['restore']['new_resources']
        made_b['volumes'].append(new[vol.id])
        made_b['images'].append(new[image.id])
        assert at_b['restore']['restore_target'] is None  # B restoring into B
        assert file_sha256(volume_file(cloud, new[vol.id])) == volume_sha
        got = conn_b.image.download_image(new[image.id]).content
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(image_data).hexdigest()
        assert temporaries(conn_b, vol.id) == []
    finally:
        conn_a.image.delete_image(image.id, ignore_missing=True)
        for image_id in made_b['images']:
            conn_b.image.delete_image(image_id, ignore_missing=True)
        for conn, volume_ids in ((conn_a, [vol.id]), (conn_b, made_b['volumes'])):
            delete_volumes(conn, volume_ids)
        for backup in conn_a.block_storage.backups(details=True):
            if backup.volume_id in (vol.id, volume.id):
                conn_a.block_storage.delete_backup(backup.id, ignore_missing=True)
        delete_container(conn_a, source_container)
        delete_container(conn_b, target_container)
