# -*- coding: utf-8 -*-
"""Stateless runners, proven through AWX-style jobs (awx_job.py): each job
has a fresh private data dir and HOME, the collection from its tarball and a
one-cloud credential; what a later job needs must come from the cloud.

* the protect role in consecutive jobs keeps one plan, backs up
  incrementally under ``backup_mode: auto`` and keep-N deletes the oldest;
* the restore role in a fresh job restores the plan's newest checkpoint;
* the control node is lost: a job with nothing but the credential lists
  every plan, checkpoint and restore and restores one;
* the runner is killed mid-protect (every process of the job, as when its
  container goes): the next job sees the checkpoint ``error`` after the
  lease and deleting it leaves no orphan.
"""
from __future__ import annotations

import io
import os
import shutil
import time
import uuid

from awx_job import AwxJobs
from conftest import delete_container

VOLUME = 'OS::Cinder::Volume'
IMAGE = 'OS::Glance::Image'
KILL_PROVIDER = '7a3c9d10-5b2e-4f61-8c0d-3e4f5a6b7c8d'


def backups_of(conn, volume_id: str) -> list:
    return [b for b in conn.block_storage.backups(details=True) if b.volume_id == volume_id]


def checkpoint_of(job) -> dict:
    return job.result('Record the checkpoint as it ended')['ansible_facts']['protect_result']


def test_protect_restore_and_lost_control_node_through_fresh_jobs(awx, cloud, volume):
    conn = cloud.connect(cloud.a)
    plan = 'awx-plan-%s' % uuid.uuid4().hex[:6]
    protect = {'protect_plan_name': plan,
               'protect_resources': [{'id': volume.id, 'type': VOLUME}],
               'protect_parameters': {VOLUME: {'backup_mode': 'auto', 'full_backup_every': 2}},
               'protect_keep': 2, 'protect_poll_seconds': 2}
    restored_volumes = []
    try:
        jobs, incremental = [], []
        for _n in range(4):
            jobs.append(awx.run('protect.yml', protect))
            made = checkpoint_of(jobs[-1])['id']
            incremental.append({b.name: b for b in backups_of(conn, volume.id)}[
                'karbor-%s' % made].is_incremental)
        plans = [job.result('Ensure the plan') for job in jobs]
        # one plan across jobs that share nothing but the cloud
        assert len({p['plan']['id'] for p in plans}) == 1
        assert plans[0]['changed'] and not any(p['changed'] for p in plans[1:])
        checkpoints = [checkpoint_of(job) for job in jobs]
        assert [c['status'] for c in checkpoints] == ['available'] * 4
        # auto: a full, an incremental on it, then (full_backup_every 2) a full again
        assert incremental == [False, True, False, True]
        # keep 2: after job 3 the first chain is still needed by a kept checkpoint
        pruned3 = jobs[2].result('Delete the checkpoints beyond the newest 2')
        assert checkpoints[0]['id'] in [s['id'] for s in pruned3['not_deleted']]
        # after job 4 the whole first chain is beyond keep and goes, incremental first
        pruned4 = jobs[3].result('Delete the checkpoints beyond the newest 2')
        assert pruned4['deleted'] == [checkpoints[1]['id'], checkpoints[0]['id']]
        left = {b.name for b in backups_of(conn, volume.id)}
        assert left == {'karbor-%s' % c['id'] for c in checkpoints[2:]}

        # a fresh job restores the newest checkpoint of the plan by its name
        restored = awx.run('restore.yml', {'restore_plan': plan}).result('Restore')['restore']
        assert restored['checkpoint_id'] == checkpoints[3]['id']
        restored_volumes.append(restored['new_resources'][volume.id])
        assert conn.block_storage.get_volume(restored_volumes[0]).status == 'available'

        # the control node is gone: a job with only the credential sees everything
        listing = awx.run('inventory.yml')
        seen_plans = listing.result('Plans')['plans']
        assert [p['name'] for p in seen_plans] == [plan]
        seen = listing.result('Checkpoints')['results'][0]['checkpoints']
        assert sorted(c['id'] for c in seen) == sorted(c['id'] for c in checkpoints[2:])
        assert [r['id'] for r in listing.result('Restores')['restores']] == [restored['id']]
        again = awx.run('restore.yml', {'restore_plan': seen_plans[0]['id'],
                                        'restore_checkpoint_id': checkpoints[2]['id']})
        second_restore = again.result('Restore')['restore']
        restored_volumes.append(second_restore['new_resources'][volume.id])
        assert second_restore['status'] == 'success'
    finally:
        for vol in restored_volumes:
            conn.block_storage.delete_volume(vol, ignore_missing=True)
        # newest first: Cinder keeps a parent while its incrementals exist
        for backup in sorted(backups_of(conn, volume.id), key=lambda b: b.created_at,
                             reverse=True):
            conn.block_storage.delete_backup(backup, ignore_missing=True)
            conn.block_storage.wait_for_delete(backup, wait=120)


KILL_PROVIDER_CONF = """[provider]
id = %s
name = AWX kill test
bank = karbor-swift-bank-plugin
plugin = karbor-volume-protection-plugin
plugin = karbor-image-protection-plugin

[swift_bank_plugin]
bank_swift_object_container = %s
lease_expire_window = 8
lease_renew_window = 2
lease_validity_window = 1

[image_backup_plugin]
backup_image_object_size = 1048576
upload_concurrency = 1
"""


def swift_names(conn, container: str) -> list[str]:
    return [o.name for o in conn.object_store.objects(container)]


def test_killed_job_leaves_an_error_checkpoint_that_deletes_cleanly(
        cloud, awx_collections, catalog_container, tmp_path):
    conn = cloud.connect(cloud.a)
    container = 'awx-kill-%s' % uuid.uuid4().hex[:8]
    project = str(tmp_path / 'project')
    shutil.copytree(os.path.join(os.path.dirname(__file__), 'awx_project'), project)
    os.makedirs(os.path.join(project, 'providers.d'))
    with open(os.path.join(project, 'providers.d', 'kill.conf'), 'w') as handle:
        handle.write(KILL_PROVIDER_CONF % (KILL_PROVIDER, container))
    awx = AwxJobs(cloud, str(tmp_path / 'jobs'), project, awx_collections,
                  {'KARBOR_CATALOG_CONTAINER': catalog_container})
    volume = conn.block_storage.create_volume(size=1, name='awx-kill-%s' % uuid.uuid4().hex[:6])
    data = os.urandom(48 * 1024 * 1024)
    image = conn.image.create_image(name='awx-kill-img', disk_format='raw',
                                    container_format='bare', allow_duplicates=True)
    image.upload(conn.image, data=io.BytesIO(data), size=len(data))
    conn.block_storage.wait_for_status(volume, 'available', failures=['error'], wait=120)
    conn.image.wait_for_status(image, 'active', wait=120)
    # the provider file is part of the job's project, in the job's private data dir
    providers = {'KARBOR_PROVIDERS_DIR': '{pdd}/project/providers.d'}
    try:
        job = awx.job('protect.yml', {
            'protect_plan_name': 'awx-kill', 'protect_provider_id': KILL_PROVIDER,
            'protect_resources': [{'id': volume.id, 'type': VOLUME},
                                  {'id': image.id, 'type': IMAGE}]}, providers).start()
        deadline = time.time() + 240
        checkpoint_id = None
        while time.time() < deadline and checkpoint_id is None:
            names = swift_names(conn, container) if container in [
                c.name for c in conn.object_store.containers()] else []
            metas = [n for n in names if n.endswith('/resource-data/%s/metadata' % volume.id)]
            chunks = [n for n in names if n.startswith('chunks/')]
            if metas and chunks and b'backup_id' in conn.object_store.download_object(
                    metas[0], container=container):
                checkpoint_id = metas[0].split('/')[1]
            time.sleep(0.3)
        assert checkpoint_id, 'the protect never got going'
        job.kill()
        assert job.collect(job.proc.returncode, '').status != 'successful'
        time.sleep(9)  # the dead run's lease (8 s) expires

        listing = awx.run('inventory.yml', envvars=providers)
        plans = listing.result('Plans')['plans']
        plan_id = [p['id'] for p in plans if p['name'] == 'awx-kill'][0]
        shown = awx.run('checkpoint.yml', {'checkpoint_step': 'show', 'checkpoint_plan': plan_id,
                                           'checkpoint_id': checkpoint_id},
                        envvars=providers)
        found = shown.result('Show the checkpoint')['checkpoints']
        assert found[0]['status'] == 'error' and 'lease expired' in found[0]['error']
        awx.run('checkpoint.yml', {'checkpoint_step': 'delete', 'checkpoint_plan': plan_id,
                                   'checkpoint_id': checkpoint_id},
                envvars=providers)
        assert backups_of(conn, volume.id) == []
        assert [s for s in conn.block_storage.snapshots() if s.volume_id == volume.id] == []
        left = [n for n in swift_names(conn, container)
                if not n.endswith(checkpoint_id + '/index.json')
                and not n.startswith(('leases/', 'locks/'))]
        assert left == [], left
    finally:
        conn.block_storage.delete_volume(volume, ignore_missing=True)
        conn.image.delete_image(image.id, ignore_missing=True)
        delete_container(conn, container)
