# -*- coding: utf-8 -*-
"""checkpoint_verify level drill through real ansible-playbook on the test
cloud: a checkpoint of a volume and an image is restored under scratch
names, compared and deleted again, with its restore time recorded; check
mode restores nothing. Afterwards nothing the drill made is left in Cinder
(volumes, snapshots, backups), Glance, Nova or the bank (its objects, the
restore records). After one byte of one image chunk is flipped in the bank
(its recorded sha256 kept), the drill fails naming that chunk and still
leaves nothing behind (the volume it did restore is deleted)."""
from __future__ import annotations

import io
import json
import os
import uuid

from conftest import delete_container, delete_volumes  # pylint: disable=import-error
from test_checkpoint_verify import provider_file  # pylint: disable=import-error

MIB = 1024 * 1024
DRILL = 'karbor-drill-'


def leftovers(conn, volume_id: str, made: list[str]) -> dict[str, list[str]]:
    """What a drill could leave in the project: resources under its scratch
    names, those it reported as made (by id), and Cinder snapshots and
    backups of the protected volume or of what the drill made (other tests
    share the project: everything is filtered to this test's resources)."""
    volumes = set(made) | {volume_id}

    def ours(item, of=None):
        return (item.name or '').startswith(DRILL) or item.id in made or of in volumes
    return {
        'volumes': sorted(v.id for v in conn.block_storage.volumes(details=True) if ours(v)),
        'snapshots': sorted(s.id for s in conn.block_storage.snapshots(details=True)
                            if ours(s, s.volume_id)),
        'backups': sorted(b.id for b in conn.block_storage.backups(details=True)
                          if ours(b, b.volume_id)),
        'images': sorted(i.id for i in conn.image.images() if ours(i)),
        'servers': sorted(s.id for s in conn.compute.servers() if ours(s)),
    }


def run_drill(run_playbook, common: dict, out: str) -> dict:
    run_playbook('checkpoint_drill.yml', dict(common, out=out))
    with open(out) as handle:
        return json.load(handle)


def made_ids(record: dict) -> list[str]:
    return [item.split()[-1] for item in record['cleanup']['deleted']]


def test_drill_restores_compares_and_leaves_nothing(cloud, volume, run_playbook, tmp_path):
    import swiftclient  # the test venv has it
    conn = cloud.connect(cloud.a)
    provider_id, container = provider_file(str(tmp_path / 'providers'))
    image = conn.image.create_image(name='drill-it-%s' % uuid.uuid4().hex[:6],
                                    disk_format='raw', container_format='bare',
                                    allow_duplicates=True)
    made: list[str] = []
    try:
        image.upload(conn.image, data=io.BytesIO(os.urandom(3 * MIB)), size=3 * MIB)
        conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
        common = {'state_dir': str(tmp_path / 'state'),
                  'providers_dir': str(tmp_path / 'providers'),
                  'provider_id': provider_id, 'volume_id': volume.id, 'image_id': image.id}
        checkpoint_id = run_drill(run_playbook, common, str(tmp_path / 'cp.json'))[
            'checkpoint_id']
        common['checkpoint_id'] = checkpoint_id
        swift = swiftclient.Connection(session=conn.session, retries=3, os_options={
            'object_storage_url': conn.object_store.get_endpoint()})

        def bank_objects():
            return sorted(o['name'] for o in swift.get_container(container,
                                                                 full_listing=True)[1])
        bank_before = bank_objects()
        cloud_before = leftovers(conn, volume.id, [])

        clean = run_drill(run_playbook, common, str(tmp_path / 'clean.json'))
        record = clean['drill']['verification']
        made += made_ids(record)
        volume_key, image_key = 'OS::Cinder::Volume#' + volume.id, 'OS::Glance::Image#' + image.id
        assert record['status'] == 'success' and record['level'] == 'drill', record
        assert record['resources_status'] == {volume_key: 'ok', image_key: 'ok'}
        assert record['restore_duration'] > 0 and record['restore_status'] == 'success'
        assert record['cleanup']['status'] == 'done' and record['cleanup']['left'] == []
        assert record['cleanup']['restore_record'] == 'deleted'
        kinds = sorted(item.split()[0] for item in record['cleanup']['deleted'])
        assert kinds == ['OS::Cinder::Volume', 'OS::Glance::Image']  # it did restore both
        assert volume.id not in made and image.id not in made  # the originals stay
        assert conn.block_storage.get_volume(volume.id).status == 'available'
        assert conn.image.get_image(image.id).status == 'active'
        dry = clean['dry']['verification']
        assert 'id' not in dry and dry['drill_skipped'].startswith('check mode')
        assert dry['restore_id'] is None and dry['status'] == 'success'
        # nothing left: cloud, bank objects, restore records
        assert leftovers(conn, volume.id, made) == cloud_before
        assert bank_objects() == bank_before
        assert clean['restores'] == []

        # damage: one byte of one chunk, its recorded sha256 kept
        names = [n for n in bank_before if n.startswith('chunks/')]
        assert len(names) == 3
        headers, body = swift.get_object(container, names[1])
        swift.put_object(container, names[1], contents=bytes([body[0] ^ 1]) + body[1:],
                         headers={'X-Object-Meta-Sha256': headers['x-object-meta-sha256']})
        damaged = run_drill(run_playbook, common, str(tmp_path / 'damaged.json'))
        record = damaged['drill']['verification']
        made += made_ids(record)
        assert record['status'] == 'fail', record
        assert record['resources_status'] == {volume_key: 'ok', image_key: 'failed'}
        reason = record['resources_reason'][image_key]
        assert 'drill: the restore of it failed' in reason
        assert names[1].rsplit('/', 1)[-1] in reason  # the damaged chunk is named
        assert record['restore_duration'] > 0 and record['restore_status'] == 'fail'
        assert record['cleanup'] == {'status': 'done', 'left': [], 'restore_record': 'deleted',
                                     'deleted': ['OS::Cinder::Volume %s' % made[-1]]}
        assert leftovers(conn, volume.id, made) == cloud_before
        assert bank_objects() == bank_before
        assert damaged['restores'] == []
    finally:
        for made_id in made:  # only when an assertion above failed
            conn.block_storage.delete_volume(made_id, ignore_missing=True)
            conn.image.delete_image(made_id, ignore_missing=True)
        conn.image.delete_image(image.id, ignore_missing=True)
        for backup in conn.block_storage.backups(details=True):
            if backup.volume_id == volume.id:
                conn.block_storage.delete_backup(backup.id, ignore_missing=True)
        delete_container(conn, container)


def test_server_drill_deletes_the_server_then_its_disks(cloud, tmp_path):
    """A server with an attached volume (the OS Infra provider, in this process): the drill
    boots a scratch copy, compares it, and deletes server, volume and boot image again,
    including what the server's restore noted in the checkpoint."""
    from test_os_infra import OS_INFRA, engine_for, upload_image  # pylint: disable=import-error
    conn = cloud.connect(cloud.a)
    image = upload_image(conn, os.urandom(MIB), name='drill-srv-%s' % uuid.uuid4().hex[:6])
    volume = conn.block_storage.create_volume(size=1, name='drill-srv-data')
    engine = engine_for(cloud, cloud.a, tmp_path)
    server, checkpoint, made = None, None, []
    try:
        conn.block_storage.wait_for_status(volume, 'available', failures=['error'], wait=120)
        server = conn.compute.create_server(
            name='drill-srv', image_id=image.id, flavor_id=conn.compute.find_flavor('m1.tiny').id,
            networks=[{'uuid': next(conn.network.networks(name='private')).id}])
        server = conn.compute.wait_for_server(server, wait=180)
        conn.compute.create_volume_attachment(server, volume_id=volume.id)
        conn.block_storage.wait_for_status(volume, 'in-use', wait=120)
        plan = engine.plans.create({
            'name': 'drill-srv', 'provider_id': OS_INFRA,
            'resources': [{'id': server.id, 'type': 'OS::Nova::Server'}],
            'parameters': {'OS::Cinder::Volume': {'force': True}}})
        checkpoint = engine.protect(plan)
        assert checkpoint.status == 'available', checkpoint.data.get('error')
        prefix = '/checkpoints/%s/' % checkpoint.id
        bank_before = sorted(checkpoint.bank.iter_all(prefix))
        cloud_before = leftovers(conn, volume.id, [])

        record = engine.verify(OS_INFRA, checkpoint.id, 'drill')
        made = made_ids(record)
        assert record['status'] == 'success', (record['resources_reason'], record['problems'])
        assert sorted(record['resources_status']) == sorted([
            'OS::Nova::Server#' + server.id, 'OS::Cinder::Volume#' + volume.id,
            'OS::Glance::Image#' + image.id])
        assert record['restore_duration'] > 0 and record['cleanup']['left'] == []
        kinds = [item.split()[0] for item in record['cleanup']['deleted']]
        assert kinds[0] == 'OS::Nova::Server'  # first: it lets its volume go
        assert sorted(kinds[1:]) == ['OS::Cinder::Volume', 'OS::Glance::Image']
        assert leftovers(conn, volume.id, made) == cloud_before
        assert sorted(checkpoint.bank.iter_all(prefix)) == bank_before  # no restore note
        assert engine.restores.list() == []
        assert conn.compute.get_server(server.id).status == 'ACTIVE'  # the original stays
    finally:
        for made_id in made:  # only when an assertion above failed
            conn.compute.delete_server(made_id, ignore_missing=True)
            conn.block_storage.delete_volume(made_id, ignore_missing=True)
            conn.image.delete_image(made_id, ignore_missing=True)
        if checkpoint is not None:
            engine.delete_checkpoint(OS_INFRA, checkpoint.id)
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, wait=120)
        conn.block_storage.wait_for_status(volume, 'available', wait=120)
        conn.block_storage.delete_volume(volume, ignore_missing=True)
        conn.image.delete_image(image.id, ignore_missing=True)


# -- a drill into another project (target_cloud, as a restore elsewhere) ---------------------
def project_counts(conn) -> dict[str, int]:
    """How many images, volumes, servers and snapshots conn's project has (reported by the
    test that drills into it; other tests may make some in the same project meanwhile)."""
    project = conn.current_project_id
    return {'images': sum(1 for i in conn.image.images() if i.owner == project),
            'volumes': sum(1 for _v in conn.block_storage.volumes(details=False)),
            'servers': sum(1 for _s in conn.compute.servers()),
            'snapshots': sum(1 for _s in conn.block_storage.snapshots(details=False))}


def test_drill_into_another_project_leaves_nothing_in_either(cloud, volume, run_playbook,
                                                             tmp_path, catalog_container):
    """Project A's plan of an image and a bank-mode volume is drilled into project B
    (target_cloud karbor-b): restored there, compared, deleted, its time recorded; nothing
    is left in B (nor A), the bank is as before. A checkpoint of a volume kept as a Cinder
    backup of A is failed per resource with the restore's reason and nothing is made; bad
    targets fail before anything is written."""
    import yaml  # comes with ansible-core
    from test_checkpoint_copy import Runner, objects, swift_of  # pylint: disable=import-error
    from test_volume_bank_mode import temporaries  # pylint: disable=import-error
    conn_a, conn_b = cloud.connect(cloud.a), cloud.connect(cloud.b)
    swift_a, swift_b = swift_of(conn_a), swift_of(conn_b)
    folder = str(tmp_path / 'providers')
    provider_id, container = provider_file(folder)
    label = uuid.uuid4().hex[:6]
    vol = conn_a.block_storage.create_volume(size=1, name='drill-b-%s' % label)
    image = conn_a.image.create_image(name='drill-b-%s' % label, disk_format='raw',
                                      container_format='bare', allow_duplicates=True)
    made: list[str] = []
    try:
        conn_a.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=120)
        image.upload(conn_a.image, data=io.BytesIO(os.urandom(3 * MIB)), size=3 * MIB)
        conn_a.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
        run = Runner(run_playbook, tmp_path, {'state_dir': str(tmp_path / 'state'),
                                              'providers_dir': folder, 'timeout': 900,
                                              'cloud': cloud.a})
        volume_key, image_key = 'OS::Cinder::Volume#' + vol.id, 'OS::Glance::Image#' + image.id
        cinder_key = 'OS::Cinder::Volume#' + volume.id
        setup = run({
            'plan': {'karbor.protection.plan': {
                'name': 'drill-b', 'provider_id': provider_id,
                'resources': [{'id': image.id, 'type': 'OS::Glance::Image'},
                              {'id': vol.id, 'type': 'OS::Cinder::Volume'}],
                'parameters': {'OS::Cinder::Volume': {'backup_mode': 'bank'}}}},
            'cinder_plan': {'karbor.protection.plan': {
                'name': 'drill-b-cinder', 'provider_id': provider_id,
                'resources': [{'id': volume.id, 'type': 'OS::Cinder::Volume'}]}},
            'cp': {'karbor.protection.checkpoint': {'plan': 'drill-b'}},
            'cinder_cp': {'karbor.protection.checkpoint': {'plan': 'drill-b-cinder'}},
        })
        for name in ('cp', 'cinder_cp'):
            assert setup[name]['checkpoint']['status'] == 'available', setup[name]
        cid, cinder_cid = setup['cp']['checkpoint']['id'], setup['cinder_cp']['checkpoint']['id']
        drill = {'provider_id': provider_id, 'checkpoint_id': cid, 'level': 'drill',
                 'target_cloud': cloud.b}
        bank_before = objects(swift_a, container)
        ours_a, ours_b = leftovers(conn_a, vol.id, []), leftovers(conn_b, vol.id, [])
        counts_b = project_counts(conn_b)

        def unchanged(label_):
            """Nothing of this test's left in A or B, the bank and B's object store as before."""
            assert leftovers(conn_a, vol.id, made) == ours_a, label_
            assert leftovers(conn_b, vol.id, made) == ours_b, label_
            assert temporaries(conn_a, vol.id) == [] and temporaries(conn_b, vol.id) == []
            assert objects(swift_a, container) == bank_before, label_
            assert objects(swift_b, container) == {}, label_  # the bank stays A's
            assert objects(swift_b, catalog_container) == {}, label_  # and so do the records

        # bad targets first: each fails with what to fix, nothing is written anywhere
        wrong = dict(yaml.safe_load(open(cloud.clouds_yaml))['clouds'][cloud.b]['auth'],
                     password='wrong-password')
        bad = run({
            'unknown': {'karbor.protection.checkpoint_verify': dict(
                drill, target_cloud='karbor-nowhere')},
            'refused': {'karbor.protection.checkpoint_verify': dict(
                drill, target_cloud=None, target_auth=wrong)},
            'not_drill': {'karbor.protection.checkpoint_verify': dict(drill, level='bank')},
            'listed': {'karbor.protection.verification_info': {}},
        })
        for name in ('unknown', 'refused'):
            assert bad[name]['failed'] and 'verification' not in bad[name], bad[name]
            assert bad[name]['msg'].startswith(
                'The target cloud refused the connection or its credentials; check '
                'target_cloud / target_auth.'), bad[name]['msg']
        assert "'karbor-nowhere'" in bad['unknown']['msg']
        assert bad['not_drill']['failed'] and 'apply to level drill only, not level bank' in \
            bad['not_drill']['msg'], bad['not_drill']
        assert bad['listed']['verifications'] == []
        unchanged('bad targets')

        # check mode: the checks and the target's prechecks, nothing restored
        dry = run({'dry': {'karbor.protection.checkpoint_verify': drill,
                           'check_mode': True}})['dry']
        record = dry['verification']
        assert not dry.get('failed') and record['status'] == 'success', dry
        assert record['drill_skipped'].startswith('check mode') and record['restore_id'] is None
        assert record['drill_target']['project_id'] == conn_b.current_project_id
        unchanged('check mode')

        # the drill into B
        done = run({'drill': {'karbor.protection.checkpoint_verify': drill},
                    'restores': {'karbor.protection.restore_info': {}}})
        assert not done['drill'].get('failed'), done['drill']
        record = done['drill']['verification']
        made += made_ids(record)
        assert record['status'] == 'success' and record['level'] == 'drill', record
        assert record['drill_target'] == {'project_id': conn_b.current_project_id,
                                          'project_name': 'project-b'}
        assert record['resources_status'] == {volume_key: 'ok', image_key: 'ok'}
        assert record['restore_duration'] > 0 and record['restore_status'] == 'success'
        assert record['cleanup']['status'] == 'done' and record['cleanup']['left'] == []
        assert record['cleanup']['restore_record'] == 'deleted'
        assert sorted(item.split()[0] for item in record['cleanup']['deleted']) == [
            'OS::Cinder::Volume', 'OS::Glance::Image']  # it did restore both
        assert vol.id not in made and image.id not in made  # the originals stay
        assert conn_a.block_storage.get_volume(vol.id).status == 'available'
        assert conn_a.image.get_image(image.id).status == 'active'
        assert done['restores']['restores'] == []
        unchanged('drill')
        after_b = project_counts(conn_b)
        print('drill into project B: restore %.1f s, run %.1f s; project B %s before, %s after'
              % (record['restore_duration'], record['duration'], counts_b, after_b))

        # a volume kept as a Cinder backup of A: failed with the restore's reason, none made
        cinder = run({
            'report': {'karbor.protection.checkpoint_verify': dict(
                drill, checkpoint_id=cinder_cid, fail_on_problem=False)},
            'strict': {'karbor.protection.checkpoint_verify': dict(
                drill, checkpoint_id=cinder_cid)},
        })
        record = cinder['report']['verification']
        assert not cinder['report'].get('failed') and record['status'] == 'fail', record
        assert record['resources_status'] == {cinder_key: 'failed'}
        reason = record['resources_reason'][cinder_key]
        assert reason.startswith('drill: a restore into project project-b (%s) cannot make it: '
                                 % conn_b.current_project_id), reason
        assert ('Volume %s of checkpoint %s is kept as a Cinder backup of the source cloud, '
                'which a restore into another project or cloud cannot read' % (
                    volume.id, cinder_cid)) in reason and 'backup_mode: bank' in reason
        assert record['drill_skipped'].startswith('a restore into project project-b')
        assert record['restore_id'] is None and record['cleanup'] is None
        assert cinder['strict']['failed'] and reason in cinder['strict']['msg']
        unchanged('cinder backup')
    finally:
        for made_id in made:  # only when an assertion above failed
            conn_b.block_storage.delete_volume(made_id, ignore_missing=True)
            conn_b.image.delete_image(made_id, ignore_missing=True)
        conn_a.image.delete_image(image.id, ignore_missing=True)
        delete_volumes(conn_a, [vol.id])
        for backup in conn_a.block_storage.backups(details=True):
            if backup.volume_id == volume.id:
                conn_a.block_storage.delete_backup(backup.id, ignore_missing=True)
        delete_container(conn_a, container)
