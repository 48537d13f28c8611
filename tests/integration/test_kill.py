# -*- coding: utf-8 -*-
"""SIGKILL the checkpoint module in the middle of a protect: the next run
marks the checkpoint error once the dead run's lease expires, and deleting
it leaves no Cinder backup, snapshot, or bank object behind."""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import time
import uuid

from conftest import ansible_playbook_cmd, playbook_env

PROVIDER = '5c1b7a0e-3f0d-4c55-9a61-2b9e6c0d7a11'


def descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            with open('/proc/%d/stat' % pid, encoding='utf-8') as handle:
                pid = int(handle.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def provider_file(folder, bank_path):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'kill.conf'), 'w') as handle:
        handle.write('[provider]\nid = %s\nname = Kill test\nbank = karbor-fs-bank-plugin\n'
                     'plugin = karbor-volume-protection-plugin\n'
                     'plugin = karbor-image-protection-plugin\n'
                     '[file_system_bank_plugin]\nfile_system_bank_path = %s\n'
                     'lease_expire_window = 8\nlease_renew_window = 2\n'
                     'lease_validity_window = 1\n[image_backup_plugin]\n'
                     'backup_image_object_size = 1048576\nupload_concurrency = 1\n'
                     % (PROVIDER, bank_path))


def bank_files(bank):
    return [p for p in glob.glob(os.path.join(bank, '**'), recursive=True)
            if os.path.isfile(p) and '/.tmp/' not in p]


def test_sigkill_mid_protect_then_reap_and_delete(cloud, tmp_path):
    conn = cloud.connect(cloud.a)
    volume = conn.block_storage.create_volume(size=1, name='kill-%s' % uuid.uuid4().hex[:6])
    conn.block_storage.wait_for_status(volume, 'available', failures=['error'], wait=120)
    import io
    data = os.urandom(48 * 1024 * 1024)
    image = conn.image.create_image(name='kill-img', disk_format='raw', container_format='bare',
                                    allow_duplicates=True)
    image.upload(conn.image, data=io.BytesIO(data), size=len(data))
    conn.image.wait_for_status(image, 'active', wait=120)
    bank = str(tmp_path / 'bank')
    providers = str(tmp_path / 'providers.d')
    provider_file(providers, bank)
    common = {'state_dir': str(tmp_path / 'state'), 'providers_dir': providers,
              'provider_id': PROVIDER}
    os.makedirs(common['state_dir'])  # the report's folder (the catalog is in Swift, not here)
    resources = [{'id': volume.id, 'type': 'OS::Cinder::Volume'},
                 {'id': image.id, 'type': 'OS::Glance::Image'}]
    try:
        cmd = ansible_playbook_cmd('kill_protect.yml', dict(common, step='protect',
                                                            resources=resources), str(tmp_path))
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=playbook_env(cloud.a), start_new_session=True)
        # wait until the run has made a Cinder backup and uploaded some image chunks
        deadline = time.time() + 180
        checkpoint_id = None
        while time.time() < deadline:
            metas = glob.glob(os.path.join(bank, 'checkpoints', '*', 'resource-data', volume.id,
                                           'metadata'))
            chunks = glob.glob(os.path.join(bank, 'chunks', '*', '*'))
            if metas and chunks and b'backup_id' in open(metas[0], 'rb').read():
                checkpoint_id = metas[0].split(os.sep)[-4]
                break
            time.sleep(0.2)
        assert checkpoint_id, proc.stdout.read().decode()[-3000:]
        # only this run's module (a descendant of its ansible-playbook), not other runs'
        module = [pid for pid in subprocess.run(['pgrep', '-f', 'AnsiballZ_checkpoint'],
                                                capture_output=True, text=True,
                                                check=False).stdout.split()
                  if descends_from(int(pid), proc.pid)]
        assert module, 'the checkpoint module process was not found'
        for pid in module:
            os.kill(int(pid), signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.returncode != 0
        time.sleep(9)  # the dead run's lease expires
        show = ansible_playbook_cmd('kill_protect.yml', dict(common, step='show',
                                                             checkpoint_id=checkpoint_id),
                                    str(tmp_path))
        subprocess.run(show, env=playbook_env(cloud.a), check=True, capture_output=True)
        shown = json.load(open(tmp_path / 'state' / 'shown.json'))
        assert shown['status'] == 'error'
        assert 'lease expired' in shown['error']
        delete = ansible_playbook_cmd('kill_protect.yml', dict(common, step='delete',
                                                               checkpoint_id=checkpoint_id),
                                      str(tmp_path))
        result = subprocess.run(delete, env=playbook_env(cloud.a), capture_output=True, text=True,
                                check=False)
        assert result.returncode == 0, result.stdout[-3000:]
        assert [b for b in conn.block_storage.backups() if b.volume_id == volume.id] == []
        assert [s for s in conn.block_storage.snapshots() if s.volume_id == volume.id] == []
        left = bank_files(bank)
        assert [p for p in left if not p.endswith(checkpoint_id + '/index.json')] == [], left
    finally:
        conn.block_storage.delete_volume(volume, ignore_missing=True)
        conn.image.delete_image(image.id, ignore_missing=True)
