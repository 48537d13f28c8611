# -*- coding: utf-8 -*-
"""Reliability helpers (shared by the conftest and the test files).

Loads tests/integration/conftest.py under another module name (the conftest re-exports its
``cloud`` and ``run_playbook`` fixtures) and adds:

- ``r1_project``: a dedicated project (``karbor-reliability``) for the member user, so the
  before/after listings of the cloud are exact even while other suites run in project-a/b;
- ``run_cases``: runs a table of bad-input cases as ONE generated playbook (one block per
  case; the rescue records ``ansible_failed_result``), returns the per-case results.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field

import pytest
import yaml

_INTEGRATION_CONFTEST = os.path.join(os.path.dirname(__file__), '..', 'integration', 'conftest.py')
_spec = importlib.util.spec_from_file_location('karbor_integration_conftest',
                                               os.path.abspath(_INTEGRATION_CONFTEST))
integration = importlib.util.module_from_spec(_spec)
sys.modules.setdefault(_spec.name, integration)
_spec.loader.exec_module(integration)

REPO = integration.REPO
Cloud = integration.Cloud

PROJECT_NAME = 'karbor-reliability'
CLOUD_NAME = 'karbor-rel'


@dataclass
class Project:
    """The dedicated project and a clouds.yaml that adds it to the test cloud's."""
    id: str
    name: str
    clouds_yaml: str
    cloud_name: str = CLOUD_NAME
    extra_clouds: dict = field(default_factory=dict)

    def connect(self):
        import openstack
        entry = json.loads(json.dumps(self.extra_clouds[self.cloud_name]))
        return openstack.connect(load_yaml_config=False, load_envvars=False, **entry)


def write_clouds_yaml(base_yaml: str, dest: str, extra: dict) -> None:
    with open(base_yaml) as handle:
        config = yaml.safe_load(handle)
    config['clouds'].update(extra)
    with open(dest, 'w') as handle:
        yaml.safe_dump(config, handle)


@pytest.fixture(scope='session')
def r1_project(cloud, tmp_path_factory) -> Project:
    """A project of its own for the member user (created once, kept: reruns reuse it)."""
    admin = cloud.connect(cloud.admin)
    project = admin.identity.find_project(PROJECT_NAME)
    if project is None:
        domain = admin.identity.find_domain('Default') or admin.identity.find_domain('default')
        project = admin.identity.create_project(name=PROJECT_NAME, domain_id=domain.id,
                                                description='karbor.protection reliability tests')
    user = admin.identity.find_user('member')
    for role_name in ('member', 'reader'):
        role = admin.identity.find_role(role_name)
        if role is not None:
            admin.identity.assign_project_role_to_user(project, user, role)
    with open(cloud.clouds_yaml) as handle:
        base = yaml.safe_load(handle)['clouds'][cloud.a]
    entry = json.loads(json.dumps(base))
    entry['auth']['project_name'] = PROJECT_NAME
    path = str(tmp_path_factory.mktemp('clouds') / 'clouds.yaml')
    write_clouds_yaml(cloud.clouds_yaml, path, {CLOUD_NAME: entry})
    return Project(id=project.id, name=PROJECT_NAME, clouds_yaml=path,
                   extra_clouds={CLOUD_NAME: entry})


# -- listings for the "nothing changed" checks ------------------------------------------------
def bank_listing(*roots: str) -> dict[str, str]:
    """Every file under the roots (temp files included: a leftover is a leak) -> its sha-less
    identity (size and mtime_ns), so a rewrite with the same content still shows."""
    listing = {}
    for root in roots:
        if not os.path.isdir(root):
            continue
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except FileNotFoundError:
                    continue
                listing[path] = '%d/%d' % (stat.st_size, stat.st_mtime_ns)
    return listing


def swift_listing(conn, container: str) -> dict[str, str]:
    try:
        return {o.name: '%s/%s' % (o.etag, o.last_modified_at)
                for o in conn.object_store.objects(container)}
    except Exception as exc:  # pylint: disable=broad-except
        if type(exc).__name__ == 'NotFoundException':
            return {}
        raise


def cloud_listing(conn, project_id: str) -> dict[str, list]:
    """Volumes, backups, snapshots and the project's own images (id, status)."""
    return {
        'volumes': sorted((v.id, v.status) for v in conn.block_storage.volumes()),
        'backups': sorted((b.id, b.status) for b in conn.block_storage.backups()),
        'snapshots': sorted((s.id, s.status) for s in conn.block_storage.snapshots()),
        'images': sorted((i.id, i.status) for i in conn.image.images(owner=project_id)),
        'servers': sorted((s.id, s.status) for s in conn.compute.servers()),
    }


# -- the case runner ----------------------------------------------------------------------------
@dataclass
class Case:
    """One bad input. ``task`` is the task body (module or include_role) without name/register;
    ``expect`` are substrings the failure message must contain, ``reject`` substrings it must
    not contain (case-insensitive)."""
    id: str
    task: dict
    expect: list
    reject: list = field(default_factory=list)


def _record(case_id: str, failed: bool, value: str) -> dict:
    return {'name': 'record %s' % case_id, 'ansible.builtin.set_fact': {
        'r1_results': "{{ r1_results | combine({%s: {'failed': %s, 'result': %s}}) }}"
        % (json.dumps(case_id), 'true' if failed else 'false', value)}}


def case_playbook(cases: list[Case], defaults: dict, out: str) -> list:
    tasks = []
    for case in cases:
        task = {'name': 'case %s' % case.id, 'register': 'r1_case'}
        task.update(case.task)
        tasks.append({'name': 'block %s' % case.id,
                      'block': [task, _record(case.id, False, 'r1_case')],
                      'rescue': [_record(case.id, True, 'ansible_failed_result')]})
    tasks.append({'name': 'write results', 'ansible.builtin.copy': {
        'content': '{{ r1_results | to_nice_json }}', 'dest': out, 'mode': '0600'}})
    play = {'name': 'bad input', 'hosts': 'localhost', 'gather_facts': False,
            'vars': {'r1_results': {}}, 'tasks': tasks}
    if defaults:
        play['module_defaults'] = {'group/karbor.protection.all': defaults}
    return [play]


@dataclass
class CaseRun:
    results: dict
    stdout: str
    stderr: str
    rc: int
    seconds: float


def run_case_playbook(cases: list[Case], defaults: dict, workdir: str, env: dict | None = None,
                      cloud_name: str | None = None, verbosity: int = 0,
                      timeout: int = 900) -> CaseRun:
    import time
    tag = uuid.uuid4().hex[:8]
    out = os.path.join(workdir, 'results-%s.json' % tag)
    playbook = os.path.join(workdir, 'cases-%s.yml' % tag)
    with open(playbook, 'w') as handle:
        yaml.safe_dump(case_playbook(cases, defaults, out), handle, allow_unicode=True,
                       sort_keys=False, width=10000)
    cmd = integration.ansible_playbook_cmd(playbook, {}, workdir)
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env=integration.playbook_env(cloud_name, env), check=False)
    seconds = time.monotonic() - started
    assert os.path.exists(out), 'the case playbook did not finish (rc %d):\n%s\n%s' % (
        proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:])
    with open(out) as handle:
        results = json.load(handle)
    return CaseRun(results, proc.stdout, proc.stderr, proc.returncode, seconds)


def message_of(result: dict) -> str:
    """The failure text the user sees: msg plus per-resource failures."""
    parts = [str(result.get('msg') or '')]
    for item in result.get('results') or []:  # a loop: each failed item's message
        if isinstance(item, dict) and item.get('failed'):
            parts.append(str(item.get('msg') or ''))
    if result.get('failures'):
        parts.append(json.dumps(result['failures'], ensure_ascii=False))
    return ' '.join(parts)


def has_traceback(result: dict) -> bool:
    """A Python traceback in a task result. ansible-core 2.19 puts the placeholder
    "(traceback unavailable)" in ``exception`` of every fail_json: that one is not a traceback."""
    blob = json.dumps(result, ensure_ascii=False)
    exception = result.get('exception')
    return 'Traceback' in blob or bool(exception and exception != '(traceback unavailable)')


def problems_of(case: Case, outcome: dict | None) -> list[str]:
    """Why a case's outcome is not a clean failure naming the problem ([] when it is)."""
    if outcome is None:
        return ['no result recorded']
    result = outcome.get('result') or {}
    problems = []
    if not outcome.get('failed') or not result.get('failed'):
        problems.append('did not fail: %s' % json.dumps(result, ensure_ascii=False)[:600])
        return problems
    text = message_of(result)
    for needle in case.expect:
        if needle.lower() not in text.lower():
            problems.append('message lacks %r: %s' % (needle, text[:600]))
    for needle in case.reject:
        if needle.lower() in text.lower():
            problems.append('message is misleading (%r): %s' % (needle, text[:600]))
    blob = json.dumps(result, ensure_ascii=False)
    if has_traceback(result):
        problems.append('traceback in result: %s' % blob[:800])
    if 'This is a bug' in text or text.startswith('Unexpected'):
        problems.append('unexpected-error message: %s' % text[:600])
    return problems
