# -*- coding: utf-8 -*-
"""Issue 7 security: (a) credentials never reach module output, ansible's -vvv output and log,
or bank objects (local bank files and Swift objects); (b) a member of project-a cannot list,
show, restore or delete project-b's plans, checkpoints or restores through the modules, with a
shared state_dir (catalog and local bank) and with a Swift bank, and project-b's objects stay
unchanged."""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
import yaml

from reliability_lib import (Case, bank_listing, has_traceback, integration, message_of,
                             run_case_playbook, swift_listing)

NOOP = 'b766f37c-d011-4026-8228-28730d734a3f'
SWIFT_NOOP = '0b1e0b1e-0000-4000-8000-0000000000a1'
SHARED_NOOP = '0b1e0b1e-0000-4000-8000-0000000000a2'
VOLUME = 'OS::Cinder::Volume'

SWIFT_PROVIDER = """[provider]
name = r1 Swift no-op
id = %s
plugin = karbor-noop-protection-plugin
bank = karbor-swift-bank-plugin

[swift_bank_plugin]
bank_swift_object_container = %s
"""

# One dedicated Swift account (the admin project) for every project: the operator guide's
# setup for a central backup account. Isolation then rests on the engine alone.
SHARED_PROVIDER = """[provider]
name = r1 shared Swift account
id = %s
plugin = karbor-noop-protection-plugin
bank = karbor-swift-bank-plugin

[swift_client]
swift_auth_url = %s
swift_user = %s
swift_key = %s
swift_tenant_name = %s

[swift_bank_plugin]
bank_swift_object_container = %s
"""

PLAYBOOK = """
- name: Protect and restore (security)
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/karbor.protection.all:
      state_dir: "{{ state_dir }}"
      providers_dir: "{{ providers_dir }}"
  tasks:
    - name: Plan, with the credentials given inline (auth)
      karbor.protection.plan:
        auth: "{{ inline_auth }}"
        name: "{{ prefix }}-plan"
        provider_id: %(noop)s
        resources: [{id: "{{ volume_id }}", type: "OS::Cinder::Volume"}]
      register: plan
    - name: Plan on the Swift bank
      karbor.protection.plan:
        cloud: "{{ cloud_name }}"
        name: "{{ prefix }}-swift-plan"
        provider_id: %(swift)s
        resources: [{id: "{{ volume_id }}", type: "OS::Cinder::Volume"}]
      register: swift_plan
    - name: Plan on the shared Swift account
      karbor.protection.plan:
        cloud: "{{ cloud_name }}"
        name: "{{ prefix }}-shared-plan"
        provider_id: %(shared)s
        resources: [{id: "{{ volume_id }}", type: "OS::Cinder::Volume"}]
      register: shared_plan
    - name: Providers (one has a Swift password in its providers.d file)
      karbor.protection.provider_info:
        cloud: "{{ cloud_name }}"
      register: providers
    - name: Checkpoints
      karbor.protection.checkpoint:
        cloud: "{{ cloud_name }}"
        plan: "{{ item }}"
      loop: ["{{ prefix }}-plan", "{{ prefix }}-swift-plan", "{{ prefix }}-shared-plan"]
      register: checkpoints
    - name: Restore
      karbor.protection.restore:
        cloud: "{{ cloud_name }}"
        provider_id: %(noop)s
        checkpoint_id: "{{ checkpoints.results[0].checkpoint.id }}"
        name: "{{ prefix }}-restore"
      register: restore
    - name: List with a keystone token instead of a password
      karbor.protection.checkpoint_info:
        auth_type: v3token
        auth: "{{ token_auth }}"
        plan: "{{ prefix }}-plan"
      register: listed
    - name: A failing call with the password inline (the error path must not echo it)
      karbor.protection.plan_info:
        auth: "{{ inline_auth | combine({'auth_url': 'http://127.0.0.1:1/v3'}) }}"
      ignore_errors: true
      register: failing
    - name: Facts
      ansible.builtin.copy:
        content: "{{ {'plan': plan.plan, 'swift_plan': swift_plan.plan,
                      'shared_plan': shared_plan.plan, 'providers': providers.providers,
                      'checkpoints': checkpoints.results | map(attribute='checkpoint') | list,
                      'restore': restore.restore, 'listed': listed.checkpoints,
                      'failing': failing} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
""" % {'noop': NOOP, 'swift': SWIFT_NOOP, 'shared': SHARED_NOOP}


def _auth(cloud, name: str) -> dict:
    with open(cloud.clouds_yaml) as handle:
        return dict(yaml.safe_load(handle)['clouds'][name]['auth'])


def _swift_objects(conn, container: str) -> dict[str, bytes]:
    objects = {}
    for obj in conn.object_store.objects(container):
        objects[obj.name] = conn.object_store.download_object(obj.name, container=container)
    return objects


def _run(extravars: dict, workdir: str, verbose: bool = False,
         log_path: str | None = None) -> integration.PlaybookResult:
    """No OS_CLOUD: each task says how it authenticates (cloud, inline auth or a token)."""
    playbook = os.path.join(workdir, 'security.yml')
    with open(playbook, 'w') as handle:
        handle.write(PLAYBOOK)
    cmd = integration.ansible_playbook_cmd(playbook, extravars, workdir)
    if verbose:
        cmd.append('-vvv')
    env = {'ANSIBLE_LOG_PATH': log_path} if log_path else None
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=integration.REPO,
                          env=integration.playbook_env(None, env), check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    return integration.PlaybookResult(proc.returncode, proc.stdout, proc.stderr)


#: the module-scoped fixtures below write catalog records the tests read
CATALOG_PER_MODULE = True


@pytest.fixture(scope='module')
def shared(cloud, tmp_path_factory):
    """One state_dir and providers.d shared by both projects, a volume in each project and a
    Swift-bank provider whose container has the same name in both projects' accounts."""
    base = tmp_path_factory.mktemp('r1sec')
    providers_dir = str(base / 'providers.d')
    os.makedirs(providers_dir)
    container = 'r1-sec-%s' % uuid.uuid4().hex[:8]
    with open(os.path.join(providers_dir, 'swift-noop.conf'), 'w') as handle:
        handle.write(SWIFT_PROVIDER % (SWIFT_NOOP, container))
    admin = _auth(cloud, cloud.admin)
    shared_container = container + '-shared'
    with open(os.path.join(providers_dir, 'swift-shared.conf'), 'w') as handle:
        handle.write(SHARED_PROVIDER % (SHARED_NOOP, admin['auth_url'], admin['username'],
                                        admin['password'], admin['project_name'],
                                        shared_container))
    conns = {name: cloud.connect(name) for name in (cloud.a, cloud.b)}
    admin_conn = cloud.connect(cloud.admin)
    volumes = {}
    try:
        for name, conn in conns.items():
            volumes[name] = conn.block_storage.create_volume(
                size=1, name='r1-sec-%s' % uuid.uuid4().hex[:6])
        for name, conn in conns.items():
            conn.block_storage.wait_for_status(volumes[name], 'available', failures=['error'],
                                               wait=180)
        yield {'base': str(base), 'state_dir': str(base / 'state'),
               'providers_dir': providers_dir, 'container': container, 'conns': conns,
               'volumes': volumes, 'admin': admin_conn, 'shared_container': shared_container}
    finally:
        for name, conn in list(conns.items()) + [('admin', admin_conn)]:
            if name in volumes:
                conn.block_storage.delete_volume(volumes[name], ignore_missing=True)
            for box in (container, shared_container):
                try:
                    for obj in list(conn.object_store.objects(box)):
                        conn.object_store.delete_object(obj, container=box)
                    conn.object_store.delete_container(box, ignore_missing=True)
                except Exception:  # pylint: disable=broad-except
                    pass  # this account has no such container


def _protect(cloud, shared, name: str, prefix: str, verbose: bool = False,
             log_path: str | None = None):
    conn = shared['conns'][name]
    auth = _auth(cloud, name)
    token_auth = {'auth_url': auth['auth_url'], 'token': conn.auth_token,
                  'project_id': conn.current_project_id}
    out = os.path.join(shared['base'], 'facts-%s.json' % prefix)
    result = _run({
        'state_dir': shared['state_dir'], 'providers_dir': shared['providers_dir'],
        'volume_id': shared['volumes'][name].id, 'prefix': prefix, 'cloud_name': name,
        'inline_auth': auth, 'token_auth': token_auth, 'out': out}, shared['base'],
        verbose=verbose, log_path=log_path)
    with open(out) as handle:
        return result, json.load(handle), conn.auth_token


@pytest.fixture(scope='module')
def project_b(cloud, shared):
    _result, facts, _token = _protect(cloud, shared, cloud.b, 'r1-sec-b')
    return facts


def test_credentials_never_leak(cloud, shared, project_b, module_catalog_container):
    log_path = os.path.join(shared['base'], 'ansible.log')
    result, facts, token = _protect(cloud, shared, cloud.a, 'r1-sec-a', verbose=True,
                                    log_path=log_path)
    assert facts['checkpoints'][0]['status'] == 'available'
    assert facts['listed'], 'the token-authenticated listing found nothing'
    assert facts['failing'].get('failed') and 'Cannot connect' in facts['failing']['msg']
    secrets = [cloud.password, token]
    with open(log_path, encoding='utf-8', errors='replace') as handle:
        log = handle.read()
    assert 'Plan, with the credentials given inline' in log and 'ESTABLISH LOCAL' in log, \
        'ansible wrote no -vvv log'
    texts = {'stdout': result.stdout, 'stderr': result.stderr, 'log': log}
    for path in bank_listing(shared['state_dir']):
        with open(path, 'rb') as handle:
            texts[path] = handle.read().decode('utf-8', errors='replace')
    objects = {}
    for name, conn in shared['conns'].items():
        for key, data in _swift_objects(conn, shared['container']).items():
            objects['swift:%s:%s' % (name, key)] = data
    for key, data in _swift_objects(shared['admin'], shared['shared_container']).items():
        objects['swift:shared:%s' % key] = data
    for name, conn in shared['conns'].items():  # the catalog (plans, restores, logs, claims)
        for key, data in _swift_objects(conn, module_catalog_container).items():
            objects['catalog:%s:%s' % (name, key)] = data
    assert any(k.startswith('swift:shared:') for k in objects), list(objects)
    assert len([k for k in objects if k.startswith('catalog:')]) >= 4, list(objects)
    assert len(objects) >= 4, 'the Swift bank holds no objects: %s' % list(objects)
    assert any(p['id'] == SHARED_NOOP for p in facts['providers'])
    for key, data in objects.items():
        texts[key] = data.decode('utf-8', errors='replace')
    assert len([k for k in texts if k.startswith('/')]) >= 10
    leaks = ['%s contains %s' % (where, 'the password' if secret == cloud.password
                                 else 'the auth token')
             for where, text in texts.items() for secret in secrets if secret in text]
    assert not leaks, leaks


def isolation_cases(b: dict) -> list[Case]:
    plan_id = b['plan']['id']
    swift_plan_id = b['swift_plan']['id']
    shared_plan_id = b['shared_plan']['id']
    cp_local, cp_swift, cp_shared = (cp['id'] for cp in b['checkpoints'])
    restore_id = b['restore']['id']

    def m(module: str, **args) -> dict:
        return {'karbor.protection.' + module: args}
    c = Case
    return [
        c('plan_info-by-id', m('plan_info', plan=plan_id), []),
        c('plan_info-by-name', m('plan_info', plan='r1-sec-b-plan'), []),
        c('plan_info-all', m('plan_info'), []),
        c('plan-delete-by-id', m('plan', id=plan_id, state='absent'), []),
        c('plan-delete-by-name', m('plan', name='r1-sec-b-plan', state='absent'), []),
        c('plan-update-by-id', m('plan', id=plan_id, description='taken over'), [plan_id]),
        c('checkpoint_info-by-plan', m('checkpoint_info', plan=plan_id), [plan_id]),
        c('checkpoint_info-local-by-id', m('checkpoint_info', provider_id=NOOP, id=cp_local),
          [cp_local]),
        c('checkpoint_info-local-all', m('checkpoint_info', provider_id=NOOP), []),
        c('checkpoint_info-swift-by-id', m('checkpoint_info', provider_id=SWIFT_NOOP,
                                           id=cp_swift), [cp_swift]),
        c('checkpoint_info-swift-by-plan', m('checkpoint_info', plan=swift_plan_id),
          [swift_plan_id]),
        c('checkpoint_info-shared-by-id', m('checkpoint_info', provider_id=SHARED_NOOP,
                                            id=cp_shared), [cp_shared]),
        c('checkpoint_info-shared-by-plan', m('checkpoint_info', plan=shared_plan_id),
          [shared_plan_id]),
        c('checkpoint_info-shared-all', m('checkpoint_info', provider_id=SHARED_NOOP), []),
        c('checkpoint-delete-shared', m('checkpoint', provider_id=SHARED_NOOP, id=cp_shared,
                                        state='absent'), [cp_shared]),
        c('restore-shared', m('restore', provider_id=SHARED_NOOP, checkpoint_id=cp_shared),
          [cp_shared]),
        c('checkpoint-delete-local', m('checkpoint', provider_id=NOOP, id=cp_local,
                                       state='absent'), [cp_local]),
        c('checkpoint-delete-swift', m('checkpoint', provider_id=SWIFT_NOOP, id=cp_swift,
                                       state='absent'), [cp_swift]),
        c('checkpoint-new-on-b-plan', m('checkpoint', plan=plan_id), [plan_id]),
        c('restore-local', m('restore', provider_id=NOOP, checkpoint_id=cp_local), [cp_local]),
        c('restore-swift', m('restore', provider_id=SWIFT_NOOP, checkpoint_id=cp_swift),
          [cp_swift]),
        c('restore_info-by-id', m('restore_info', id=restore_id), [restore_id]),
        c('restore_info-by-checkpoint', m('restore_info', checkpoint_id=cp_local), []),
        c('operation_log_info-by-checkpoint', m('operation_log_info', checkpoint_id=cp_local),
          []),
    ]


def test_project_isolation(cloud, shared, project_b):
    b = project_b
    b_ids = [b['plan']['id'], b['swift_plan']['id'], b['shared_plan']['id'],
             b['restore']['id']] + [
        cp['id'] for cp in b['checkpoints']]
    cases = isolation_cases(b)
    before_local = bank_listing(shared['state_dir'])
    conn_b = shared['conns'][cloud.b]
    before_swift = swift_listing(conn_b, shared['container'])
    before_shared = swift_listing(shared['admin'], shared['shared_container'])
    assert before_shared, 'project-b wrote nothing to the shared Swift account'
    run = run_case_playbook(cases, {'state_dir': shared['state_dir'],
                                    'providers_dir': shared['providers_dir'],
                                    'cloud': cloud.a}, shared['base'])
    problems = {}
    for case in cases:
        outcome = run.results.get(case.id) or {}
        result = outcome.get('result') or {}
        text = json.dumps(result, ensure_ascii=False)
        if has_traceback(result):
            problems[case.id] = 'traceback: ' + text[:600]
        elif outcome.get('failed'):
            message = message_of(result)
            if not all(n in message for n in case.expect) or 'does not exist' not in message:
                problems[case.id] = 'unclear failure: ' + message[:400]
        else:
            # an answer is fine only when it is empty: no id of project-b, nothing changed
            leaked = [i for i in b_ids if i in text]
            if leaked or result.get('changed'):
                problems[case.id] = 'saw or changed project-b objects %s: %s' % (
                    leaked, text[:600])
    assert not problems, json.dumps(problems, indent=1)
    assert 'Traceback' not in run.stdout + run.stderr
    # project-b's objects are unchanged (project-a's failed calls wrote nothing at all)
    # operation logs and leases of project-a's own runs are the only files allowed to appear
    after_local = bank_listing(shared['state_dir'])
    changed = {p for p in set(before_local) | set(after_local)
               if before_local.get(p) != after_local.get(p)}
    assert not changed, sorted(changed)
    assert swift_listing(conn_b, shared['container']) == before_swift
    assert swift_listing(shared['admin'], shared['shared_container']) == before_shared
    # and project-b still sees them as they were
    check = run_case_playbook([
        Case('b-plan', {'karbor.protection.plan_info': {'plan': b['plan']['id']}}, []),
        Case('b-checkpoint', {'karbor.protection.checkpoint_info': {
            'provider_id': NOOP, 'id': b['checkpoints'][0]['id']}}, []),
        Case('b-swift-checkpoint', {'karbor.protection.checkpoint_info': {
            'provider_id': SWIFT_NOOP, 'id': b['checkpoints'][1]['id']}}, []),
        Case('b-shared-checkpoint', {'karbor.protection.checkpoint_info': {
            'provider_id': SHARED_NOOP, 'id': b['checkpoints'][2]['id']}}, [])],
        {'state_dir': shared['state_dir'], 'providers_dir': shared['providers_dir'],
         'cloud': cloud.b}, shared['base'])
    plans = check.results['b-plan']['result']['plans']
    assert [p['id'] for p in plans] == [b['plan']['id']]
    assert plans[0].get('description', '') == b['plan'].get('description', '')
    for key in ('b-checkpoint', 'b-swift-checkpoint', 'b-shared-checkpoint'):
        checkpoints = check.results[key]['result']['checkpoints']
        assert [cp['status'] for cp in checkpoints] == ['available'], checkpoints


def test_catalog_container_is_private_to_its_project(cloud, shared, project_b,
                                                     module_catalog_container):
    """Project-a's credential cannot list or read project-b's catalog container, whose
    ACL is private, and project-a's own catalog holds nothing of project-b's."""
    import swiftclient  # the test venv has it
    conn_a, conn_b = shared['conns'][cloud.a], shared['conns'][cloud.b]
    container = module_catalog_container
    b_objects = _swift_objects(conn_b, container)
    assert any(project_b['plan']['id'].encode() in data for data in b_objects.values()), \
        "project-b's catalog does not hold its plan: %s" % sorted(b_objects)
    as_a = swiftclient.Connection(session=conn_a.session, retries=0, os_options={
        'object_storage_url': conn_b.object_store.get_endpoint()})
    with pytest.raises(swiftclient.ClientException) as listing:
        as_a.get_container(container)
    assert listing.value.http_status == 403
    with pytest.raises(swiftclient.ClientException) as reading:
        as_a.get_object(container, sorted(b_objects)[0])
    assert reading.value.http_status == 403
    as_b = swiftclient.Connection(session=conn_b.session, retries=0, os_options={
        'object_storage_url': conn_b.object_store.get_endpoint()})
    headers = as_b.head_container(container)
    assert not headers.get('x-container-read') and not headers.get('x-container-write')
    b_ids = [project_b['plan']['id'], project_b['restore']['id']]
    a_objects = _swift_objects(conn_a, container)
    assert not [key for key, data in a_objects.items()
                for i in b_ids if i in key or i.encode() in data]
