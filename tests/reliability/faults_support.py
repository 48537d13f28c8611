# -*- coding: utf-8 -*-
"""Shared harness of the fault-injection and race tests (test_faults.py,
test_races.py): a private OS Infra provider (the built-in id, a Swift
container of its own, short lease windows), real ansible-playbook runs of
one operator step each (playbooks/faults_steps.yml), and the checks that
say whether what is left in the catalog, the bank and the cloud is
consistent.

Kept out of conftest.py on purpose: another suite owns that file.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field

import pytest

import reliability_lib

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
STEPS = os.path.join(os.path.dirname(__file__), 'playbooks', 'faults_steps.yml')
OS_INFRA = 'cf56bd3e-97a7-4078-b6d5-f36246333fd9'
LEASE_EXPIRE = 8  # seconds; a dead run's checkpoint turns error this long after the kill
VOLUME = 'OS::Cinder::Volume'
IMAGE = 'OS::Glance::Image'
LIVE_STATES = ('protecting', 'deleting')


# tests/integration/conftest.py's, which also puts the collection on sys.path when it loads
collections_path = reliability_lib.integration.collections_path


@dataclass
class RelCloud:
    base: str
    clouds_yaml: str
    member: str = 'karbor-a'


def start_cloud() -> RelCloud:
    """The shared test cloud (tests/cloud/up is idempotent)."""
    base = os.environ.get('KARBOR_CLOUD_BASE', '/tmp/karbor-cloud')
    clouds_yaml = os.path.join(base, 'clouds.yaml')
    problem = None
    if os.environ.get('KARBOR_CLOUD_SKIP_UP') != '1':
        proc = subprocess.run([os.path.join(REPO, 'tests', 'cloud', 'up')], capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            problem = 'tests/cloud/up failed (exit %d):\n%s' % (
                proc.returncode, (proc.stdout + proc.stderr)[-3000:])
    if problem is None and not os.path.exists(clouds_yaml):
        problem = 'No clouds.yaml at %s; start the cloud with tests/cloud/up.' % clouds_yaml
    if problem:
        if os.environ.get('CI'):
            pytest.fail(problem)
        pytest.skip(problem)
    os.environ['OS_CLIENT_CONFIG_FILE'] = clouds_yaml
    return RelCloud(base, clouds_yaml)


@pytest.fixture(scope='session')
def rel_cloud() -> RelCloud:
    return start_cloud()


def playbook_env(cloud: RelCloud, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.pop('KARBOR_FAULT', None)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_path(),
        'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_LOCALHOST_WARNING': 'False', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'OS_CLIENT_CONFIG_FILE': cloud.clouds_yaml, 'OS_CLOUD': cloud.member,
    })
    env.update(extra or {})
    return env


def killed(result: dict) -> bool:
    """True when the module process died of SIGKILL (the fault hook), not of an error."""
    return bool(result.get('failed')) and result.get('rc') in (-9, 137) and \
        not result.get('module_stdout')


def no_traceback(result: dict) -> bool:
    text = json.dumps(result)
    return 'Traceback (most recent call last)' not in text


@dataclass
class Step:
    """A started ansible-playbook run of one step."""
    proc: subprocess.Popen
    result_file: str
    name: str = ''
    started: float = field(default_factory=time.monotonic)


class Lab:
    """One test's world: a volume (and optionally an image), a plan of them
    on the OS Infra provider, a private Swift container as its bank."""

    def __init__(self, cloud: RelCloud, tmp: str, tag: str, with_image: bool = False,
                 image_mib: int = 3) -> None:
        import openstack
        self.cloud = cloud
        self.tmp = tmp
        self.tag = '%s-%s' % (tag, uuid.uuid4().hex[:6])
        self.conn = openstack.connect(cloud=cloud.member, config_files=[cloud.clouds_yaml])
        self.container = 'rel-%s' % self.tag
        self.state_dir = os.path.join(tmp, 'state')
        self.providers_dir = os.path.join(tmp, 'providers.d')
        self.plan_name = 'plan-%s' % self.tag
        os.makedirs(self.providers_dir, exist_ok=True)
        with open(os.path.join(self.providers_dir, 'os-infra.conf'), 'w') as handle:
            handle.write(
                '[provider]\nid = %s\nname = OS Infra Provider\n'
                'bank = karbor-swift-bank-plugin\n'
                'plugin = karbor-volume-protection-plugin\n'
                'plugin = karbor-image-protection-plugin\n'
                '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                'lease_expire_window = %d\nlease_renew_window = 2\nlease_validity_window = 1\n'
                '[image_backup_plugin]\nbackup_image_object_size = 1048576\n'
                'upload_concurrency = 2\n' % (OS_INFRA, self.container, LEASE_EXPIRE))
        self.volume = self.conn.block_storage.create_volume(size=1, name='rel-%s' % self.tag)
        self.image = None
        self.image_data = b''
        if with_image:
            self.image_data = os.urandom(image_mib * 1024 * 1024)
            image = self.conn.image.create_image(
                name='rel-%s' % self.tag, disk_format='raw', container_format='bare',
                allow_duplicates=True)
            image.upload(self.conn.image, data=io.BytesIO(self.image_data),
                         size=len(self.image_data))
            self.conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
            self.image = image
        self.conn.block_storage.wait_for_status(self.volume, 'available', failures=['error'],
                                                wait=120)
        self.resources = [{'id': self.volume.id, 'type': VOLUME}]
        if self.image is not None:
            self.resources.append({'id': self.image.id, 'type': IMAGE})
        self._engine = None
        self.seen_checkpoints: set[str] = set()

    # -- running steps -----------------------------------------------------------
    def start(self, step: str, fault: str | None = None, **extravars) -> Step:
        fd, result_file = tempfile.mkstemp(suffix='.json', dir=self.tmp)
        os.close(fd)
        os.unlink(result_file)
        variables = {'step': step, 'state_dir': self.state_dir,
                     'providers_dir': self.providers_dir, 'provider_id': OS_INFRA,
                     'plan_name': self.plan_name, 'resources': self.resources,
                     'result_file': result_file}
        variables.update(extravars)
        fd, varfile = tempfile.mkstemp(suffix='.vars.json', dir=self.tmp)
        with os.fdopen(fd, 'w') as handle:
            json.dump(variables, handle)
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
               '-i', 'localhost,', '-c', 'local', STEPS, '-e', '@' + varfile]
        env = playbook_env(self.cloud, {'KARBOR_FAULT': fault} if fault else None)
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        return Step(proc, result_file, '%s%s' % (step, ' (fault %s)' % fault if fault else ''))

    @staticmethod
    def finish(step: Step, timeout: int = 900) -> dict:
        output = step.proc.communicate(timeout=timeout)[0]
        assert step.proc.returncode == 0, 'the step playbook itself failed:\n%s' % output[-4000:]
        with open(step.result_file) as handle:
            result = json.load(handle)
        result['_output'] = output[-4000:]
        result['_seconds'] = round(time.monotonic() - step.started, 1)
        print('[%s] %s: %s in %.1f s%s' % (time.strftime('%H:%M:%S'), step.name,
                                           'failed' if result.get('failed') else 'ok',
                                           result['_seconds'], ': %s' % str(result.get('msg'))[:300]
                                           if result.get('failed') else ''))
        return result

    def run(self, step: str, fault: str | None = None, **extravars) -> dict:
        return self.finish(self.start(step, fault, **extravars))

    def ok(self, step: str, **extravars) -> dict:
        result = self.run(step, **extravars)
        assert not result.get('failed'), '%s failed: %s' % (step, result.get('msg'))
        return result

    # -- in-process views --------------------------------------------------------
    @property
    def engine(self):
        if self._engine is None:
            from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import (
                CloudSession)
            from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
                ProtectionEngine)
            self._engine = ProtectionEngine(
                state_dir=self.state_dir, providers_dir=self.providers_dir,
                cloud=CloudSession({'cloud': self.cloud.member}))
        return self._engine

    @property
    def bank(self):
        return self.engine.bank(self.engine.provider(OS_INFRA))

    def bank_keys(self) -> list[str]:
        """Every object of the container except expired leases (Swift
        hides those from reads; the object expirer removes them later)."""
        keys = []
        for key in self.bank.iter_all('/'):
            if key.startswith('/leases/') and not self.bank.exists(key):
                continue
            keys.append(key)
        return keys

    def bank_checkpoint_ids(self) -> set[str]:
        ids = {key.split('/')[2] for key in self.bank.iter_all('/checkpoints/')
               if key.endswith('/index.json')}
        self.seen_checkpoints |= ids
        return ids

    def checkpoint(self, checkpoint_id: str):
        return self.engine.get_checkpoint(OS_INFRA, checkpoint_id)

    def wait_lease_expiry(self, checkpoint_id: str | None = None) -> None:
        """Sleep past the dead run's lease, then read the checkpoint (which reaps it)."""
        time.sleep(LEASE_EXPIRE + 1.5)
        if checkpoint_id:
            deadline = time.monotonic() + 20
            while self.checkpoint(checkpoint_id).status in LIVE_STATES and \
                    time.monotonic() < deadline:
                time.sleep(1)

    def cloud_artifacts(self) -> dict[str, set[str]]:
        """What this lab's operations can have made in the cloud."""
        cps = self.bank_checkpoint_ids() | self.seen_checkpoints
        conn = self.conn
        mine = {self.volume.id}
        backups = {b.id for b in conn.block_storage.backups(details=True) if b.volume_id in mine}
        snapshots = {s.id for s in conn.block_storage.snapshots(details=True)
                     if s.volume_id in mine}
        volumes = {v.id for v in conn.block_storage.volumes(details=True)  # restored, temporary
                   if v.id not in mine and any(c in (v.name or '') for c in cps)}
        images = {i.id for i in conn.image.images()
                  if any(c in (i.name or '') for c in cps)}
        return {'backups': backups, 'snapshots': snapshots, 'volumes': volumes,
                'images': images}

    def restore_records(self) -> list[dict]:
        return self.engine.restores.list()

    def recorded_backups(self) -> set[str]:
        """Backup ids recorded by the checkpoints that are not deleted."""
        found = set()
        for cid in self.bank_checkpoint_ids():
            checkpoint = self.checkpoint(cid)
            if checkpoint.status == 'deleted':
                continue
            try:
                meta = checkpoint.resource_section(self.volume.id).get_json('metadata')
            except Exception:  # pylint: disable=broad-except
                continue
            if meta.get('backup_id'):
                found.add(meta['backup_id'])
        return found

    def assert_consistent_catalog(self, transitional_deleted: bool = False) -> list:
        """Every checkpoint in the bank is readable; every one not deleted is
        listed under its plan; none stays protecting/deleting without a
        live lease. Returns the plan's listing."""
        from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease
        listed = self.engine.list_checkpoints(OS_INFRA, plan_id=self.plan_id())
        listed_ids = [c.id for c in listed]
        assert len(listed_ids) == len(set(listed_ids)), 'a checkpoint is listed twice: %s' % (
            listed_ids,)
        everything = self.engine.list_checkpoints(OS_INFRA)
        assert {c.id for c in everything} == set(listed_ids), (
            'the provider listing and the plan listing differ')
        for cid in self.bank_checkpoint_ids():
            checkpoint = self.checkpoint(cid)  # readable, checksums verified
            if checkpoint.status == 'deleted':
                # right after a delete died between its tombstone and its indices,
                # the listing may show it as deleted until the operator deletes again
                assert transitional_deleted or cid not in listed_ids, (
                    'deleted checkpoint %s is still listed' % cid)
                continue
            assert cid in listed_ids, ('checkpoint %s (%s) is in the bank but not listed: an '
                                       'operator cannot find it to delete it'
                                       % (cid, checkpoint.status))
            if checkpoint.status in LIVE_STATES:
                assert Lease.is_alive(self.bank, checkpoint.data.get('owner_id')), (
                    'checkpoint %s is %s without a live lease' % (cid, checkpoint.status))
            if checkpoint.status == 'available':
                self.engine.verify_checkpoint(checkpoint)
        return listed

    def plan_id(self) -> str:
        return self.engine.plans.get(self.plan_name)['id']

    def assert_backups_accounted(self) -> None:
        art = self.cloud_artifacts()
        assert art['backups'] <= self.recorded_backups(), (
            'orphan Cinder backups (recorded by no checkpoint): %s'
            % sorted(art['backups'] - self.recorded_backups()))
        assert art['snapshots'] == set(), 'orphan volume snapshots: %s' % art['snapshots']

    def assert_nothing_left(self) -> None:
        """After every checkpoint and every recorded restored resource was
        deleted: no backup, snapshot, restored volume or image, and only
        deleted checkpoints' tombstones in the bank."""
        art = self.cloud_artifacts()
        assert art == {'backups': set(), 'snapshots': set(), 'volumes': set(),
                       'images': set()}, 'orphans in the cloud: %s' % art
        left = []
        for key in self.bank_keys():
            parts = key.split('/')
            if len(parts) == 4 and parts[1] == 'checkpoints' and parts[3] == 'index.json' and \
                    self.checkpoint(parts[2]).status == 'deleted':
                continue
            left.append(key)
        assert left == [], 'orphan bank objects: %s' % left

    # -- operator actions used by several tests -----------------------------------
    def delete_recorded_restores(self) -> None:
        """What an operator does with restored resources: delete those the
        restore records list."""
        for record in self.restore_records():
            for original, new_id in (record.get('new_resources') or {}).items():
                if original == self.volume.id:
                    self.delete_volume(new_id)
                else:
                    self.conn.image.delete_image(new_id, ignore_missing=True)

    def delete_volume(self, volume_id: str) -> None:
        volume = self.conn.block_storage.find_volume(volume_id)
        if volume is None:
            return
        self.conn.block_storage.wait_for_status(volume, 'available', failures=['error'],
                                                wait=120)
        self.conn.block_storage.delete_volume(volume)
        self.conn.block_storage.wait_for_delete(volume, wait=120)

    # -- teardown --------------------------------------------------------------------
    def cleanup(self) -> None:
        """Best effort: free everything this lab may have made."""
        conn = self.conn
        try:
            for cid in self.bank_checkpoint_ids():
                try:
                    checkpoint = self.checkpoint(cid)
                    if checkpoint.status not in ('deleted',):
                        if checkpoint.status in LIVE_STATES:
                            checkpoint.set_status('error')
                        self.engine.delete_checkpoint(OS_INFRA, cid)
                except Exception:  # pylint: disable=broad-except
                    pass
        except Exception:  # pylint: disable=broad-except
            pass
        try:
            art = self.cloud_artifacts()
        except Exception:  # pylint: disable=broad-except
            art = {}
        for snapshot in art.get('snapshots', ()):
            conn.block_storage.delete_snapshot(snapshot, ignore_missing=True)
        for backup in art.get('backups', ()):
            try:
                conn.block_storage.delete_backup(backup, ignore_missing=True, force=True)
            except Exception:  # pylint: disable=broad-except
                pass
        for volume in art.get('volumes', ()):
            self._drop_volume(volume)
        for image in art.get('images', ()):
            conn.image.delete_image(image, ignore_missing=True)
        try:
            for obj in conn.object_store.objects(self.container):
                conn.object_store.delete_object(obj, container=self.container,
                                                ignore_missing=True)
            conn.object_store.delete_container(self.container, ignore_missing=True)
        except Exception:  # pylint: disable=broad-except
            pass
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
                b.volume_id == self.volume.id for b in conn.block_storage.backups(details=True)):
            time.sleep(2)
        self._drop_volume(self.volume.id)
        if self.image is not None:
            conn.image.delete_image(self.image, ignore_missing=True)

    def _drop_volume(self, volume_id: str) -> None:
        """A plain delete (a member may not force-delete; that is why the labs' volumes
        used to stay behind), once the volume is no longer busy; force as the last try."""
        block = self.conn.block_storage
        try:
            volume = block.find_volume(volume_id)
            if volume is None:
                return
            block.wait_for_status(volume, 'available', failures=['error'], wait=60)
        except Exception:  # pylint: disable=broad-except
            pass
        try:
            block.delete_volume(volume_id, ignore_missing=True)
        except Exception:  # pylint: disable=broad-except
            try:
                block.delete_volume(volume_id, ignore_missing=True, force=True)
            except Exception:  # pylint: disable=broad-except
                pass


@pytest.fixture
def make_lab(rel_cloud, tmp_path):
    """make_lab(tag, with_image=False) -> Lab; cleaned up after the test."""
    labs = []

    def make(tag: str, with_image: bool = False, **kwargs) -> Lab:
        folder = str(tmp_path / ('lab%d' % len(labs)))
        os.makedirs(folder, exist_ok=True)
        lab = Lab(rel_cloud, folder, tag, with_image, **kwargs)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.cleanup()
