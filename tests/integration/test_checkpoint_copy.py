# -*- coding: utf-8 -*-
"""checkpoint_copy through real ansible-playbook on the test cloud: checkpoints of project A
(cloud karbor-a, a Swift-bank provider) copied into a bank container of project B (cloud
karbor-b). Bad inputs fail before the target changes; a copy killed part way is not listed
and a rerun completes it sending only what is missing; a second copy sends nothing; a
volume's Cinder backup is named in a warning; with the image and the whole source container
gone from A, the image is restored in B from the copy, byte for byte."""
from __future__ import annotations

import io
import json
import os
import uuid

import yaml

from conftest import delete_container  # pylint: disable=import-error

MIB = 1024 * 1024


def provider_file(folder: str, label: str) -> tuple[str, str]:
    """A Swift-bank provider of its own container (in the project of whoever uses it)."""
    provider_id = str(uuid.uuid4())
    container = 'karbor-it-copy-%s-%s' % (label, provider_id[:8])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, provider_id + '.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = copy-it-%s-%s\nbank = swift\n'
                     'plugin = karbor-image-protection-plugin\n'
                     'plugin = karbor-volume-protection-plugin\n'
                     '[image_backup_plugin]\nbackup_image_object_size = %d\n'
                     '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                     % (provider_id, label, provider_id[:8], MIB, container))
    return provider_id, container


class Runner:
    """Each call runs one playbook of the given tasks; each task's registered result is
    returned by its name (``ignore_errors`` on all of them: the test asserts)."""

    def __init__(self, run_playbook, tmp_path, defaults: dict) -> None:
        self.run_playbook = run_playbook
        self.tmp_path = tmp_path
        self.defaults = defaults
        self.count = 0

    def __call__(self, tasks: dict[str, dict], cloud: str = 'karbor-a', env: dict | None = None,
                 check_mode: bool = False) -> dict:
        self.count += 1
        out = str(self.tmp_path / ('out-%d.json' % self.count))
        body = []
        for name, task in tasks.items():
            task = dict(task, register=name, ignore_errors=True)
            if check_mode:
                task['check_mode'] = True
            body.append(dict(task, name=name))
        body.append({'name': 'facts', 'ansible.builtin.copy': {
            'dest': out, 'content': '{{ {%s} | to_json }}' % ', '.join(
                "'%s': %s" % (n, n) for n in tasks)}})
        playbook = [{'hosts': 'localhost', 'gather_facts': False,
                     'module_defaults': {'group/karbor.protection.all': self.defaults},
                     'tasks': body}]
        path = str(self.tmp_path / ('play-%d.yml' % self.count))
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(playbook, handle)
        result = self.run_playbook(path, {}, cloud=cloud, env=env, check=False)
        if not os.path.exists(out):  # a killed module fails the play only when errors count
            return {'_rc': result.rc, '_stdout': result.stdout}
        with open(out, encoding='utf-8') as handle:
            return json.load(handle)


def swift_of(conn):
    import swiftclient  # the test venv has it
    return swiftclient.Connection(session=conn.session, retries=3, os_options={
        'object_storage_url': conn.object_store.get_endpoint()})


def objects(swift, container: str) -> dict[str, str]:
    """name -> etag of every object of a container ({} when it does not exist)."""
    import swiftclient  # the test venv has it
    try:
        return {o['name']: o['hash'] for o in swift.get_container(container,
                                                                  full_listing=True)[1]}
    except swiftclient.ClientException as exc:
        if exc.http_status == 404:
            return {}
        raise


def test_copy_to_another_project(cloud, volume, run_playbook, tmp_path):
    conn_a, conn_b = cloud.connect(cloud.a), cloud.connect(cloud.b)
    swift_a, swift_b = swift_of(conn_a), swift_of(conn_b)
    folder = str(tmp_path / 'providers')
    source, source_container = provider_file(folder, 'src')
    target, target_container = provider_file(folder, 'dst')
    data = os.urandom(3 * MIB + 12345)
    image = conn_a.image.create_image(name='copy-it-%s' % uuid.uuid4().hex[:6],
                                      disk_format='raw', container_format='bare',
                                      allow_duplicates=True)
    restored_images = []
    try:
        image.upload(conn_a.image, data=io.BytesIO(data), size=len(data))
        conn_a.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
        run = Runner(run_playbook, tmp_path, {'state_dir': str(tmp_path / 'state'),
                                              'providers_dir': folder})
        copy = {'cloud': cloud.a, 'target_cloud': cloud.b, 'target_provider_id': target,
                'provider_id': source}

        made = run({
            'img_plan': {'karbor.protection.plan': {
                'name': 'copy-img', 'provider_id': source,
                'resources': [{'id': image.id, 'type': 'OS::Glance::Image'}]}},
            'mix_plan': {'karbor.protection.plan': {
                'name': 'copy-mix', 'provider_id': source,
                'resources': [{'id': image.id, 'type': 'OS::Glance::Image'},
                              {'id': volume.id, 'type': 'OS::Cinder::Volume'}]}},
            'img': {'karbor.protection.checkpoint': {'plan': 'copy-img'}},
            'mix': {'karbor.protection.checkpoint': {'plan': 'copy-mix'}},
            'spoiled': {'karbor.protection.checkpoint': {'plan': 'copy-img'}},
        })
        for name in ('img', 'mix', 'spoiled'):
            assert made[name]['checkpoint']['status'] == 'available', made[name]
        cid, mix_id = made['img']['checkpoint']['id'], made['mix']['checkpoint']['id']
        spoiled_id = made['spoiled']['checkpoint']['id']
        # one checkpoint turned `error` in the source bank (its recorded sha256 kept true)
        key = 'checkpoints/%s/index.json' % spoiled_id
        index = json.loads(swift_a.get_object(source_container, key)[1])
        index['status'] = 'error'
        body = json.dumps(index, sort_keys=True, separators=(',', ':')).encode()
        import hashlib
        swift_a.put_object(source_container, key, contents=body,
                           headers={'X-Object-Meta-Sha256': hashlib.sha256(body).hexdigest()})

        # bad inputs: each fails with what to fix; the target is untouched
        before = objects(swift_b, target_container)
        auth = dict(yaml.safe_load(open(cloud.clouds_yaml))['clouds'][cloud.b]['auth'],
                    password='wrong-password')
        bad = run({
            'unknown': {'karbor.protection.checkpoint_copy': dict(
                copy, checkpoint_id=cid, target_provider_id=str(uuid.uuid4()))},
            'refused': {'karbor.protection.checkpoint_copy': dict(
                copy, checkpoint_id=cid, target_cloud=None, target_auth=auth)},
            'itself': {'karbor.protection.checkpoint_copy': dict(
                copy, checkpoint_id=cid, target_cloud=cloud.a, target_provider_id=source)},
            'not_available': {'karbor.protection.checkpoint_copy': dict(
                copy, checkpoint_id=spoiled_id)},
            'no_target': {'karbor.protection.checkpoint_copy': dict(
                copy, checkpoint_id=cid, target_cloud=None)},
        })
        assert bad['unknown']['failed'] and 'target_provider_id' in bad['unknown']['msg'] \
            and 'does not exist' in bad['unknown']['msg'], bad['unknown']
        assert bad['refused']['failed'] and 'target cloud refused' in bad['refused']['msg']
        assert 'wrong-password' not in json.dumps(bad['refused'])
        assert bad['itself']['failed'] and 'source bank itself' in bad['itself']['msg']
        assert bad['not_available']['failed'] and 'is error' in bad['not_available']['msg']
        assert bad['no_target']['failed'] and 'target_cloud' in bad['no_target']['msg']
        assert objects(swift_b, target_container) == before
        assert objects(swift_a, source_container)  # the "itself" case changed nothing
        assert objects(swift_a, source_container).get(key)

        # a copy killed after the data, before the sections and the index
        killed = run({'copy': {'karbor.protection.checkpoint_copy': dict(copy, checkpoint_id=cid)},
                      'listed': {'karbor.protection.checkpoint_info': {'provider_id': target}}},
                     env={'KARBOR_FAULT': 'copy.main'}, cloud=cloud.b)
        assert killed['copy']['failed'], killed
        assert killed['listed']['checkpoints'] == []
        half = objects(swift_b, target_container)
        assert any(n.startswith('chunks/') for n in half)
        assert not any(n.startswith(('checkpoints/', 'indices/')) for n in half), half

        # check mode: what would be sent, nothing sent
        dry = run({'copy': {'karbor.protection.checkpoint_copy': dict(copy, checkpoint_id=cid)}},
                  check_mode=True)['copy']
        assert dry['changed'] and not dry.get('failed'), dry
        assert dry['objects_sent'] > 0 and dry['objects_skipped'] >= 4  # refs + 4 chunks
        assert all(k.startswith('/checkpoints/') for k in dry['copies'][0]['would_send'])
        assert objects(swift_b, target_container) == half

        # the rerun sends only what is missing and completes the copy
        done = run({'copy': {'karbor.protection.checkpoint_copy': dict(copy, checkpoint_id=cid)},
                    'listed': {'karbor.protection.checkpoint_info': {'provider_id': target}}},
                   cloud=cloud.b)
        first = done['copy']
        assert first['changed'] and not first.get('failed'), first
        assert first['objects_sent'] == dry['objects_sent']
        assert first['objects_skipped'] == dry['objects_skipped']
        assert first['bytes_skipped'] >= len(data)
        listed = done['listed']['checkpoints']
        assert [c['id'] for c in listed] == [cid]
        origin = listed[0]['extra_info']['copied_from']
        assert listed[0]['status'] == 'available' and listed[0]['provider_id'] == target
        assert origin['checkpoint_id'] == cid and origin['provider_id'] == source
        assert origin['project_id'] == conn_a.current_project_id and origin['cloud'] == cloud.a
        assert origin['copied_at']
        assert listed[0]['project_id'] == conn_b.current_project_id
        complete = objects(swift_b, target_container)

        # again: nothing to send, nothing changed
        second = run({'copy': {'karbor.protection.checkpoint_copy': dict(
            copy, checkpoint_id=cid)}})['copy']
        assert second['changed'] is False and not second.get('failed'), second
        total = second['bytes_sent'] + second['bytes_skipped']
        assert second['bytes_sent'] <= total // 100 and total >= len(data)
        assert objects(swift_b, target_container) == complete

        # the mixed plan's newest checkpoint: its volume's backup stays in A
        mix = run({'mix': {'karbor.protection.checkpoint_copy': dict(
            copy, plan='copy-mix', count=1, provider_id=None)}})['mix']
        assert not mix.get('failed') and mix['copies'][0]['checkpoint_id'] == mix_id, mix
        assert mix['objects_skipped'] >= 4  # the image's chunks were there already
        backups = [b.id for b in conn_a.block_storage.backups(details=True)
                   if b.volume_id == volume.id]
        assert len(mix['copy_warnings']) == 1
        assert volume.id in mix['copy_warnings'][0] and backups[0] in mix['copy_warnings'][0]
        assert "source cloud's Cinder backup" in mix['copy_warnings'][0]
        assert any(volume.id in w for w in mix.get('warnings', []))

        # the source is gone: the image and its whole bank container in A
        conn_a.image.delete_image(image.id)
        delete_container(conn_a, source_container)
        restored = run({'restore': {'karbor.protection.restore': {
            'provider_id': target, 'checkpoint_id': cid}}}, cloud=cloud.b)['restore']
        assert not restored.get('failed'), restored
        new_id = restored['restore']['new_resources'][image.id]
        restored_images.append(new_id)
        assert conn_b.image.get_image(new_id).owner == conn_b.current_project_id
        assert conn_b.image.download_image(new_id).content == data
    finally:
        conn_a.image.delete_image(image.id, ignore_missing=True)
        for new_id in restored_images:
            conn_b.image.delete_image(new_id, ignore_missing=True)
        for backup in conn_a.block_storage.backups(details=True):
            if backup.volume_id == volume.id:
                conn_a.block_storage.delete_backup(backup.id, ignore_missing=True)
        delete_container(conn_a, source_container)
        delete_container(conn_b, target_container)
