# -*- coding: utf-8 -*-
"""checkpoint_copy through real ansible-playbook on the test cloud: checkpoints of project A
(cloud karbor-a, a Swift-bank provider) copied into a bank container of project B (cloud
karbor-b). Bad inputs fail before the target changes; a copy killed part way is not listed
and a rerun completes it sending only what is missing; a second copy sends nothing; a
volume's Cinder backup is named in a warning; with the image and the whole source container
gone from A, the image is restored in B from the copy, byte for byte."""
from __future__ import annotations

import hashlib
import io
import json
import os
import uuid

import yaml

from conftest import delete_container  # pylint: disable=import-error

MIB = 1024 * 1024


def provider_file(folder: str, label: str, chunk_size: int = MIB) -> tuple[str, str]:
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
                     % (provider_id, label, provider_id[:8], chunk_size, container))
    return provider_id, container


class Runner:
    """Each call runs one playbook of the given tasks; each task's registered result is
    returned by its name (``ignore_errors`` on all of them: the test asserts)."""

    def __init__(self, run_playbook, tmp_path, defaults: dict) -> None:
        self.run_playbook = run_playbook
        self.tmp_path = tmp_path
        self.defaults = defaults
        self.count = 0

    def __call__(self, tasks: dict[str, dict], env: dict | None = None) -> dict:
        self.count += 1
        out = str(self.tmp_path / ('out-%d.json' % self.count))
        body = []
        for name, task in tasks.items():
            task = dict(task, register=name, ignore_errors=True)
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
        result = self.run_playbook(path, {}, env=env, check=False)
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
        })
        for name in ('img', 'mix'):
            assert made[name]['checkpoint']['status'] == 'available', made[name]
        cid, mix_id = made['img']['checkpoint']['id'], made['mix']['checkpoint']['id']
        listed_b = {'karbor.protection.checkpoint_info': {'cloud': cloud.b,
                                                          'provider_id': target}}

        # a copy killed after the data, before the sections and the index; then check mode
        killed = run({'copy': {'karbor.protection.checkpoint_copy': dict(copy, checkpoint_id=cid)},
                      'listed': listed_b,
                      'dry': {'karbor.protection.checkpoint_copy': dict(
                          copy, checkpoint_id=cid), 'check_mode': True}},
                     env={'KARBOR_FAULT': 'copy.main'})
        assert killed['copy']['failed'], killed
        assert killed['listed']['checkpoints'] == []
        half = objects(swift_b, target_container)
        assert any(n.startswith('chunks/') for n in half)
        assert not any(n.startswith(('checkpoints/', 'indices/')) for n in half), half
        dry = killed['dry']  # what would be sent: the sections; nothing was (see `half`)
        assert dry['changed'] and not dry.get('failed'), dry
        assert dry['objects_sent'] > 0 and dry['objects_skipped'] >= 5  # refs + 4 chunks
        assert all(k.startswith('/checkpoints/') for k in dry['copies'][0]['would_send'])

        # the rerun sends only what is missing and completes the copy; the mixed plan's
        # newest checkpoint is copied with a warning: its volume's backup stays in A
        done = run({'copy': {'karbor.protection.checkpoint_copy': dict(copy, checkpoint_id=cid)},
                    'listed': listed_b,
                    'mix': {'karbor.protection.checkpoint_copy': dict(
                        copy, plan='copy-mix', count=1, provider_id=None)}})
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
        mix = done['mix']
        assert not mix.get('failed') and mix['copies'][0]['checkpoint_id'] == mix_id, mix
        assert mix['objects_skipped'] >= 4  # the image's chunks were there already
        backups = [b.id for b in conn_a.block_storage.backups(details=True)
                   if b.volume_id == volume.id]
        assert len(mix['copy_warnings']) == 1
        assert volume.id in mix['copy_warnings'][0] and backups[0] in mix['copy_warnings'][0]
        assert "source cloud's Cinder backup" in mix['copy_warnings'][0]
        assert any(volume.id in w for w in mix.get('warnings', []))
        complete = objects(swift_b, target_container)

        # the mixed checkpoint turned `error` in the source bank (its recorded sha256 kept
        # true), for the bad input "not available"
        key = 'checkpoints/%s/index.json' % mix_id
        index = json.loads(swift_a.get_object(source_container, key)[1])
        index['status'] = 'error'
        body = json.dumps(index, sort_keys=True, separators=(',', ':')).encode()
        swift_a.put_object(source_container, key, contents=body,
                           headers={'X-Object-Meta-Sha256': hashlib.sha256(body).hexdigest()})
        source_objects = objects(swift_a, source_container)

        # again: nothing to send, nothing changed; bad inputs fail with what to fix; the
        # target container is unchanged by all of them
        auth = dict(yaml.safe_load(open(cloud.clouds_yaml))['clouds'][cloud.b]['auth'],
                    password='wrong-password')
        again = run({
            'second': {'karbor.protection.checkpoint_copy': dict(copy, checkpoint_id=cid)},
            'unknown': {'karbor.protection.checkpoint_copy': dict(
                copy, checkpoint_id=cid, target_provider_id=str(uuid.uuid4()))},
            'refused': {'karbor.protection.checkpoint_copy': dict(
                copy, checkpoint_id=cid, target_cloud=None, target_auth=auth)},
            'itself': {'karbor.protection.checkpoint_copy': dict(
                copy, checkpoint_id=cid, target_cloud=cloud.a, target_provider_id=source)},
            'not_available': {'karbor.protection.checkpoint_copy': dict(
                copy, checkpoint_id=mix_id)},
        })
        second = again['second']
        assert second['changed'] is False and not second.get('failed'), second
        total = second['bytes_sent'] + second['bytes_skipped']
        assert second['bytes_sent'] <= total // 100 and total >= len(data)
        assert second['objects_sent'] == 0
        assert again['unknown']['failed'] and 'target_provider_id' in again['unknown']['msg'] \
            and 'does not exist' in again['unknown']['msg'], again['unknown']
        assert again['refused']['failed'], again['refused']
        assert 'target cloud refused' in again['refused']['msg']
        assert 'wrong-password' not in json.dumps(again['refused'])
        assert again['itself']['failed'] and 'source bank itself' in again['itself']['msg']
        assert again['not_available']['failed'], again['not_available']
        assert 'is error' in again['not_available']['msg']
        assert objects(swift_b, target_container) == complete
        assert objects(swift_a, source_container) == source_objects

        # the source is gone: the image and its whole bank container in A
        conn_a.image.delete_image(image.id)
        delete_container(conn_a, source_container)
        restored = run({'restore': {'karbor.protection.restore': {
            'cloud': cloud.b, 'provider_id': target, 'checkpoint_id': cid}}})['restore']
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


def test_copy_of_an_encrypted_checkpoint(cloud, run_playbook, tmp_path):
    """An encrypted bank is copied as ciphertext: the target holds no plaintext, a restore
    there needs the same key, and without it the copy is refused with a clear message."""
    import base64
    conn_a, conn_b = cloud.connect(cloud.a), cloud.connect(cloud.b)
    swift_b = swift_of(conn_b)
    folder = str(tmp_path / 'providers')
    source, source_container = provider_file(folder, 'enc-src')
    target, target_container = provider_file(folder, 'enc-dst')
    key_file = str(tmp_path / 'bank.key')
    with open(key_file, 'w', encoding='ascii') as handle:
        handle.write(base64.b64encode(os.urandom(32)).decode() + '\n')
    os.chmod(key_file, 0o600)
    data = os.urandom(2 * MIB + 777)
    secret = 'copy-secret-%s' % uuid.uuid4().hex
    image = conn_a.image.create_image(name='copy-enc-%s' % uuid.uuid4().hex[:6],
                                      disk_format='raw', container_format='bare',
                                      allow_duplicates=True, karbor_it_secret=secret)
    restored_images = []
    try:
        image.upload(conn_a.image, data=io.BytesIO(data), size=len(data))
        conn_a.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
        keyed = Runner(run_playbook, tmp_path, {'state_dir': str(tmp_path / 'state'),
                                                'providers_dir': folder,
                                                'encryption_key_file': key_file})
        copy = {'cloud': cloud.a, 'provider_id': source, 'target_cloud': cloud.b,
                'target_provider_id': target}
        made = keyed({
            'plan': {'karbor.protection.plan': {
                'name': 'copy-enc', 'provider_id': source,
                'resources': [{'id': image.id, 'type': 'OS::Glance::Image'}]}},
            'cp': {'karbor.protection.checkpoint': {'plan': 'copy-enc'}}})
        cid = made['cp']['checkpoint']['id']
        assert made['cp']['checkpoint']['status'] == 'available', made['cp']

        # without the key: refused, nothing written at the target
        bare = Runner(run_playbook, tmp_path, {'state_dir': str(tmp_path / 'state2'),
                                               'providers_dir': folder, 'catalog': 'local'})
        refused = bare({'copy': {'karbor.protection.checkpoint_copy': dict(
            copy, checkpoint_id=cid)}})['copy']
        assert refused['failed'] and 'encrypted' in refused['msg'], refused
        assert objects(swift_b, target_container) == {}

        done = keyed({'copy': {'karbor.protection.checkpoint_copy': dict(
            copy, checkpoint_id=cid)}})['copy']
        assert not done.get('failed') and done['objects_sent'] > 0, done
        stored = b''.join(swift_b.get_object(target_container, name)[1]
                          for name in objects(swift_b, target_container))
        for plain in (data[:4096], data[-4096:], secret.encode(), image.name.encode()):
            assert plain not in stored

        # at the target: only with the key
        restore = {'karbor.protection.restore': {'cloud': cloud.b, 'provider_id': target,
                                                 'checkpoint_id': cid}}
        without = bare({'restore': restore})['restore']
        assert without['failed'] and 'encrypted' in without['msg'], without
        back = keyed({'restore': restore})['restore']
        assert not back.get('failed'), back
        new_id = back['restore']['new_resources'][image.id]
        restored_images.append(new_id)
        assert conn_b.image.download_image(new_id).content == data
    finally:
        conn_a.image.delete_image(image.id, ignore_missing=True)
        for new_id in restored_images:
            conn_b.image.delete_image(new_id, ignore_missing=True)
        delete_container(conn_a, source_container)
        delete_container(conn_b, target_container)
