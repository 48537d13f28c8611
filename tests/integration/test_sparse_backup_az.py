# -*- coding: utf-8 -*-
"""The test cloud's opt-in availability zone 'bench' (KARBOR_CLOUD_BENCH_AZ=1
tests/cloud/up): volumes there land on the karbor-bench cinder-volume, their
backups on the sparse backup driver (tests/cloud/drivers/karbor_sparse_backup.py);
volumes of the default zone keep backing up into Swift.

Skipped when the zone is not running (CI does not start it).
"""
from __future__ import annotations

import hashlib
import os
import time
import uuid

import pytest

GIB = 1024 ** 3
BENCH = 'bench'


def volume_path(cloud, volume_id):
    return os.path.join(cloud.base, 'data', 'cinder', 'volumes', 'volume-%s' % volume_id)


def sparse_path(cloud, backup_id):
    return os.path.join(cloud.base, 'data', 'cinder', 'sparse-backups', backup_id)


def write_at(cloud, volume_id, writes):
    with open(volume_path(cloud, volume_id), 'r+b') as handle:
        for offset, payload in writes:
            handle.seek(offset)
            handle.write(payload)


def digest(cloud, volume_id):
    """sha256 of a volume's first GiB (what the backups hold), holes included."""
    sha = hashlib.sha256()
    with open(volume_path(cloud, volume_id), 'rb') as handle:
        left = GIB
        while left:
            block = handle.read(min(left, 16 * 1024 * 1024))
            if not block:
                sha.update(bytes(left))  # shorter file: the rest reads as zeros
                break
            sha.update(block)
            left -= len(block)
    return sha.hexdigest()


@pytest.fixture
def bench(cloud):
    admin = cloud.connect(cloud.admin)
    up = {(s.binary, s.host.split('@')[0]) for s in admin.block_storage.services()
          if s.availability_zone == BENCH and s.state == 'up'}
    if not {('cinder-volume', 'karbor-bench'), ('cinder-backup', 'karbor-bench')} <= up:
        if os.environ.get('CI'):  # make test starts the zone: its absence is a failure there
            pytest.fail("the test cloud's availability zone 'bench' is not running: %s" % up)
        pytest.skip("the test cloud's availability zone 'bench' is not running "
                    '(start it with KARBOR_CLOUD_BENCH_AZ=1 tests/cloud/up)')
    conn = cloud.connect(cloud.a)
    made = {'volumes': [], 'backups': []}
    yield admin, conn, made
    for backup_id in reversed(made['backups']):  # incrementals first
        try:
            backup = conn.block_storage.get_backup(backup_id)
            conn.block_storage.wait_for_status(backup, 'available', failures=['error'], wait=120)
            conn.block_storage.delete_backup(backup_id, ignore_missing=True)
            conn.block_storage.wait_for_delete(backup, wait=120)
        except Exception:  # pylint: disable=broad-except
            pass  # already deleted by the test
    for volume_id in made['volumes']:
        conn.block_storage.delete_volume(volume_id, ignore_missing=True)


def new_volume(conn, made, zone=None):
    volume = conn.block_storage.create_volume(size=1, name='sparse-az-%s' % uuid.uuid4().hex[:6],
                                              availability_zone=zone)
    made['volumes'].append(volume.id)
    return conn.block_storage.wait_for_status(volume, 'available', failures=['error'], wait=120)


def backup_of(conn, made, volume_id, incremental=False):
    backup = conn.block_storage.create_backup(volume_id=volume_id, is_incremental=incremental,
                                              name='sparse-az-%s' % uuid.uuid4().hex[:6])
    made['backups'].append(backup.id)
    return conn.block_storage.wait_for_status(backup, 'available', failures=['error'], wait=300)


def restore(conn, made, backup_id, volume_id=None):
    """Restore into volume_id, or a new volume; wait for the volume and the backup."""
    body = {'volume_id': volume_id} if volume_id else {'name': 'sparse-az-restore'}
    response = conn.block_storage.post('/backups/%s/restore' % backup_id, json={'restore': body})
    assert response.status_code == 202, response.text
    target = response.json()['restore']['volume_id']
    if not volume_id:
        made['volumes'].append(target)
    deadline = time.time() + 300
    while time.time() < deadline:  # the volume is briefly available before the restore
        volume = conn.block_storage.get_volume(target)
        backup = conn.block_storage.get_backup(backup_id)
        assert not volume.status.startswith('error'), volume.status
        if volume.status == 'available' and backup.status == 'available':
            return target
        time.sleep(1)
    raise AssertionError('restore of %s into %s did not finish' % (backup_id, target))


def test_bench_zone_sparse_backups_full_incremental_restore(cloud, bench):
    admin, conn, made = bench
    volume = new_volume(conn, made, BENCH)
    assert admin.block_storage.get_volume(volume.id).host.startswith('karbor-bench@')
    write_at(cloud, volume.id, [(0, b'first block ' * 100), (GIB // 3 + 7, os.urandom(300000)),
                                (700 * 1024 * 1024, b'middle' * 5000), (GIB - 11, b'last bytes!')])
    first = digest(cloud, volume.id)
    full = backup_of(conn, made, volume.id)
    assert full.availability_zone == BENCH
    manifest = sparse_path(cloud, full.id) + '.json'
    assert os.path.exists(manifest), 'no sparse backup file: went to another driver'
    assert os.stat(sparse_path(cloud, full.id)).st_blocks * 512 < 4 * 1024 * 1024

    # overwrite some bytes, zero a whole region, add a new one
    write_at(cloud, volume.id, [(5, b'CHANGED'), (GIB // 3 + 7, bytes(300000)),
                                (900 * 1024 * 1024 + 1, b'new' * 3000)])
    second = digest(cloud, volume.id)
    assert second != first
    incremental = backup_of(conn, made, volume.id, incremental=True)
    assert incremental.is_incremental and incremental.availability_zone == BENCH
    assert os.stat(sparse_path(cloud, incremental.id)).st_blocks * 512 <= 256 * 1024

    fresh = restore(conn, made, full.id)
    assert digest(cloud, fresh) == first
    target = new_volume(conn, made, BENCH)
    restore(conn, made, incremental.id, target.id)
    assert digest(cloud, target.id) == second
    # onto the original, which holds other data: where the backup has holes, zeros
    restore(conn, made, full.id, volume.id)
    assert digest(cloud, volume.id) == first
    restore(conn, made, incremental.id, volume.id)
    assert digest(cloud, volume.id) == second

    for backup in (incremental, full):
        conn.block_storage.delete_backup(backup.id)
        conn.block_storage.wait_for_delete(backup, wait=120)
        assert not os.path.exists(sparse_path(cloud, backup.id))
        assert not os.path.exists(sparse_path(cloud, backup.id) + '.json')


def test_default_zone_backups_still_go_to_swift(cloud, bench):
    admin, conn, made = bench
    volume = new_volume(conn, made)
    assert admin.block_storage.get_volume(volume.id).host.startswith('karbor-cloud@')
    write_at(cloud, volume.id, [(4096, b'default zone')])
    backup = backup_of(conn, made, volume.id)
    assert backup.availability_zone != BENCH
    assert not os.path.exists(sparse_path(cloud, backup.id) + '.json')
    prefix = 'volume_%s/' % volume.id
    objects = [o.name for o in conn.object_store.objects('volumebackups', prefix=prefix)]
    assert any(backup.id in name for name in objects), objects
