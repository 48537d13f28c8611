# -*- coding: utf-8 -*-
"""Integration fixtures: the real test cloud (started once per session by
tests/cloud/up) and a runner for real ansible-playbook processes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PLAYBOOKS = os.path.join(os.path.dirname(__file__), 'playbooks')


@dataclass
class Cloud:
    base: str
    clouds_yaml: str
    admin: str = 'karbor-admin'
    a: str = 'karbor-a'
    b: str = 'karbor-b'
    password: str = 'karbor-secret'

    def connect(self, name: str | None = None):
        import openstack  # the test venv has it
        return openstack.connect(cloud=name or self.a, config_files=[self.clouds_yaml])


def _cloud_base() -> str:
    return os.environ.get('KARBOR_CLOUD_BASE', '/tmp/karbor-cloud')


@pytest.fixture(scope='session')
def cloud() -> Cloud:
    base = _cloud_base()
    clouds_yaml = os.path.join(base, 'clouds.yaml')
    if os.environ.get('KARBOR_CLOUD_SKIP_UP') != '1':
        up = os.path.join(REPO, 'tests', 'cloud', 'up')
        proc = subprocess.run([up], capture_output=True, text=True, env=dict(os.environ),
                              check=False)
        if proc.returncode != 0:
            message = 'The test cloud could not be started (tests/cloud/up exit %d):\n%s' % (
                proc.returncode, (proc.stdout + proc.stderr)[-3000:])
            if os.environ.get('CI'):
                pytest.fail(message)
            pytest.skip(message)
    if not os.path.exists(clouds_yaml):
        message = 'No clouds.yaml at %s; start the cloud with tests/cloud/up.' % clouds_yaml
        if os.environ.get('CI'):
            pytest.fail(message)
        pytest.skip(message)
    os.environ['OS_CLIENT_CONFIG_FILE'] = clouds_yaml
    return Cloud(base=base, clouds_yaml=clouds_yaml,
                 password=os.environ.get('KARBOR_CLOUD_PASSWORD', 'karbor-secret'))


@dataclass
class PlaybookResult:
    rc: int
    stdout: str
    stderr: str


@pytest.fixture(scope='module')
def volume(cloud):
    """A 1 GiB volume of project A for the tests of one file, deleted afterwards."""
    conn = cloud.connect(cloud.a)
    vol = conn.block_storage.create_volume(size=1, name='karbor-it-%s' % uuid.uuid4().hex[:6])
    conn.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=120)
    yield vol
    conn.block_storage.delete_volume(vol, ignore_missing=True)


@pytest.fixture
def swift_container(cloud):
    """A fresh container of project A and a factory of per-thread swiftclient connections
    to it; whatever the test left in it is deleted afterwards."""
    import swiftclient  # the test venv has it
    import threading
    import uuid
    conn = cloud.connect(cloud.a)
    endpoint = conn.object_store.get_endpoint()
    local = threading.local()

    def factory():
        if not hasattr(local, 'conn'):
            local.conn = swiftclient.Connection(session=conn.session, retries=3,
                                                os_options={'object_storage_url': endpoint})
        return local.conn
    container = 'karbor-it-%s' % uuid.uuid4().hex[:8]
    yield container, factory
    delete_container(conn, container, factory())


def delete_container(conn, container: str, swift=None) -> None:
    """Delete a container of conn's project with whatever is in it (nothing if absent)."""
    import swiftclient  # the test venv has it
    if swift is None:
        swift = swiftclient.Connection(session=conn.session, retries=3, os_options={
            'object_storage_url': conn.object_store.get_endpoint()})
    try:
        listed = swift.get_container(container, full_listing=True)[1]
    except swiftclient.ClientException:
        listed = []  # never created: the test wrote nothing
    for item in listed:
        try:
            swift.delete_object(container, item['name'])
        except swiftclient.ClientException as exc:
            if exc.http_status != 404:
                raise
            # expired (a killed run's lease): the test cloud runs no object-expirer, so the
            # listing keeps it until it is written again and deleted
            swift.put_object(container, item['name'], contents=b'')
            swift.delete_object(container, item['name'])
    conn.object_store.delete_container(container, ignore_missing=True)


def delete_volumes(conn, volume_ids) -> None:
    """Delete these volumes of conn's project that still exist, waiting for each to go."""
    for volume_id in volume_ids:
        found = conn.block_storage.find_volume(volume_id, ignore_missing=True)
        if found:
            conn.block_storage.delete_volume(found)
            conn.block_storage.wait_for_delete(found, wait=120)


@pytest.fixture(scope='module', autouse=True)
def module_catalog_container(cloud, request):
    """A test module whose module-scoped fixtures write catalog records (it sets
    ``CATALOG_PER_MODULE = True``) has one catalog container for all its tests, set before
    those fixtures run; deleted in both projects after the module."""
    if not getattr(request.module, 'CATALOG_PER_MODULE', False):
        yield None
        return
    from ansible_collections.karbor.protection.plugins.module_utils.engine import (
        catalog_location)
    name = 'karbor-catalog-m%s' % uuid.uuid4().hex[:8]
    saved = (os.environ.get('KARBOR_CATALOG_CONTAINER'), catalog_location.DEFAULT_CATALOG_CONTAINER)
    os.environ['KARBOR_CATALOG_CONTAINER'] = name
    catalog_location.DEFAULT_CATALOG_CONTAINER = name
    yield name
    if saved[0] is None:
        os.environ.pop('KARBOR_CATALOG_CONTAINER', None)
    else:
        os.environ['KARBOR_CATALOG_CONTAINER'] = saved[0]
    catalog_location.DEFAULT_CATALOG_CONTAINER = saved[1]
    for project in (cloud.a, cloud.b):
        delete_container(cloud.connect(project), name)


@pytest.fixture(autouse=True)
def catalog_container(cloud, monkeypatch, module_catalog_container):
    """Every test has its own catalog container (the catalog is in Swift by default, shared
    by every run of a project): the modules it runs read KARBOR_CATALOG_CONTAINER, engines it
    builds in this process the default name. Deleted in both projects afterwards. Tests of a
    CATALOG_PER_MODULE module use their module's container instead."""
    if module_catalog_container:
        yield module_catalog_container
        return
    from ansible_collections.karbor.protection.plugins.module_utils.engine import (
        catalog_location)
    name = 'karbor-catalog-t%s' % uuid.uuid4().hex[:8]
    monkeypatch.setenv('KARBOR_CATALOG_CONTAINER', name)
    monkeypatch.setattr(catalog_location, 'DEFAULT_CATALOG_CONTAINER', name)
    yield name
    for project in (cloud.a, cloud.b):
        delete_container(cloud.connect(project), name)


def collections_path() -> str:
    path = os.path.join(REPO, 'collections')
    link = os.path.join(path, 'ansible_collections', 'karbor', 'protection')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    return path


def playbook_env(cloud_name: str | None = None, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_path(),
        'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_HOST_KEY_CHECKING': 'False', 'ANSIBLE_LOCALHOST_WARNING': 'False',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
    })
    clouds_yaml = os.path.join(_cloud_base(), 'clouds.yaml')
    if os.path.exists(clouds_yaml):
        env['OS_CLIENT_CONFIG_FILE'] = clouds_yaml
    if cloud_name:
        env['OS_CLOUD'] = cloud_name
    env.update(extra or {})
    return env


def ansible_playbook_cmd(playbook: str, extravars: dict, tmpdir: str) -> list[str]:
    if not os.path.isabs(playbook):
        candidate = os.path.join(PLAYBOOKS, playbook)
        playbook = candidate if os.path.exists(candidate) else os.path.join(REPO, playbook)
    fd, varfile = tempfile.mkstemp(suffix='.json', dir=tmpdir)
    with os.fdopen(fd, 'w') as handle:
        json.dump(extravars, handle)
    binary = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    if not os.path.exists(binary):
        binary = shutil.which('ansible-playbook')
    return [binary, '-i', 'localhost,', '-c', 'local', playbook, '-e', '@' + varfile]


sys.path.insert(0, collections_path())


@pytest.fixture(scope='session')
def run_playbook(tmp_path_factory):
    """run_playbook(playbook, extravars, cloud='karbor-a', check=True, env=None)."""
    tmpdir = str(tmp_path_factory.mktemp('playbooks'))

    def run(playbook: str, extravars: dict | None = None, cloud: str | None = 'karbor-a',
            check: bool = True, env: dict | None = None) -> PlaybookResult:
        cmd = ansible_playbook_cmd(playbook, extravars or {}, tmpdir)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                              env=playbook_env(cloud, env), check=False)
        result = PlaybookResult(proc.returncode, proc.stdout, proc.stderr)
        if check:
            assert proc.returncode == 0, 'ansible-playbook %s failed (rc %d):\n%s\n%s' % (
                playbook, proc.returncode, proc.stdout[-6000:], proc.stderr[-2000:])
        return result

    return run


@pytest.fixture(scope='session')
def awx_collections(tmp_path_factory) -> str:
    """The collection built and installed from its tarball, as in an execution environment."""
    from awx_job import build_collection
    return build_collection(str(tmp_path_factory.mktemp('awx-ee')))


@pytest.fixture
def awx(cloud, awx_collections, tmp_path, catalog_container):
    """AWX-style jobs (see awx_job.py) whose project is tests/integration/awx_project and
    whose catalog is this test's container (a job template's environment variable)."""
    from awx_job import AwxJobs
    return AwxJobs(cloud, str(tmp_path), os.path.join(os.path.dirname(__file__), 'awx_project'),
                   awx_collections, {'KARBOR_CATALOG_CONTAINER': catalog_container})
