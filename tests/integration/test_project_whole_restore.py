# -*- coding: utf-8 -*-
"""Issue 15 acceptance with the PROJECT as the protected resource: in a scratch project of
its own (project-a and project-b hold other tests' resources, which protecting a whole
project would sweep in), a server booted from an image on its own network (subnet, router
with an external gateway, security group with two rules, a fixed IP, a floating IP) with two
attached volumes; OS::Keystone::Project is protected, everything in the project is deleted,
and the restore brings the server back whole: ACTIVE on the restored network with the same
fixed IP, in the restored security group, the floating IP (same address) associated, both
volumes at their devices with their bytes, and the router routing the restored subnet.
The scratch project and all it holds are deleted afterwards, also when the test fails."""
from __future__ import annotations

import functools
import json
import time
import uuid

import pytest
import yaml

from conftest import delete_container
from test_server_whole_restore import (
    PLAYBOOK, SERVER, Made, assert_restored_whole, make_whole_server)

PROJECT = 'OS::Keystone::Project'
SCRATCH = 'karbor-scratch'  # the cloud name of the scratch project in this test's clouds.yaml


def scratch_clouds_yaml(cloud, path: str, project_name: str) -> dict:
    """The shared clouds.yaml written to ``path`` with SCRATCH added: karbor-a's user
    scoped to ``project_name``; SCRATCH's entry is returned."""
    with open(cloud.clouds_yaml, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    entry = json.loads(json.dumps(config['clouds'][cloud.a]))
    entry['auth']['project_name'] = project_name
    entry['auth']['project_domain_name'] = 'Default'
    config['clouds'][SCRATCH] = entry
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(config, handle, default_flow_style=False)
    return entry


def admit(admin, project) -> None:
    """The test user a member of ``project`` (as tests/cloud/identity_setup.py sets up
    project-a), its quotas lifted: it holds a server, volumes, backups and a network."""
    ident = admin.identity
    account = ident.find_user('member', domain_id='default')
    for role in ('member', 'reader'):
        ident.assign_project_role_to_user(project, account, ident.find_role(role))
    admin.set_volume_quotas(project.id, volumes=-1, snapshots=-1, backups=-1, gigabytes=-1,
                            backup_gigabytes=-1)
    admin.set_compute_quotas(project.id, instances=-1, cores=-1, ram=-1)
    admin.network.update_quota(project.id, networks=-1, subnets=-1, ports=-1, routers=-1,
                               floating_ips=-1, security_groups=-1, security_group_rules=-1)


def _quietly(action, *args, **kwargs) -> None:
    try:
        action(*args, **kwargs)
    except Exception:  # pylint: disable=broad-except
        pass  # already gone, or gone with what held it


def _wait_empty(lister, timeout=120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and list(lister()):
        time.sleep(1)


def empty_project(conn, admin, project_id: str) -> None:
    """Delete everything the project holds, whatever the test got to make: servers,
    floating IPs, backups, snapshots, volumes, images, routers, ports, networks, security
    groups but the 'default' one (listing groups would make it again: see
    delete_security_groups) and Swift containers (the catalog's)."""
    net, volumes = conn.network, conn.block_storage
    for server in list(conn.compute.servers()):
        _quietly(conn.compute.delete_server, server)
    _wait_empty(conn.compute.servers)
    for fip in list(net.ips(project_id=project_id)):
        _quietly(net.delete_ip, fip)
    for backup in list(volumes.backups()):
        _quietly(volumes.delete_backup, backup)  # force is admin's: these are available
    _wait_empty(volumes.backups, timeout=300)
    for snapshot in list(volumes.snapshots()):
        _quietly(volumes.delete_snapshot, snapshot)
    _wait_empty(volumes.snapshots)
    for vol in list(volumes.volumes()):
        _quietly(volumes.wait_for_status, vol, 'available', failures=['error'], wait=120)
        _quietly(volumes.delete_volume, vol)
    _wait_empty(volumes.volumes, timeout=180)
    for image in list(conn.image.images(owner=project_id)):
        _quietly(conn.image.delete_image, image)
    for router in list(net.routers(project_id=project_id)):
        for port in list(net.ports(device_id=router.id, device_owner='network:router_interface')):
            for fixed in port.fixed_ips:
                _quietly(net.remove_interface_from_router, router, subnet_id=fixed['subnet_id'])
        _quietly(net.delete_router, router)
    for port in list(net.ports(project_id=project_id)):
        _quietly(net.delete_port, port)
    for network in list(net.networks(project_id=project_id)):
        _quietly(net.delete_network, network)
    for group in list(net.security_groups(project_id=project_id)):
        if group.name != 'default':
            _quietly(net.delete_security_group, group)
    for container in list(conn.object_store.containers()):
        _quietly(delete_container, conn, container.name)


def left_in_project(conn, admin, project_id: str) -> dict[str, list[str]]:
    """What empty_project could not delete (nothing, when all went well)."""
    net, volumes = admin.network, conn.block_storage
    left = {
        'servers': [s.id for s in conn.compute.servers()],
        'backups': [b.id for b in volumes.backups()],
        'snapshots': [s.id for s in volumes.snapshots()],
        'volumes': [v.id for v in volumes.volumes()],
        'images': [i.id for i in conn.image.images(owner=project_id)],
        'floating_ips': [f.id for f in net.ips(project_id=project_id)],
        'routers': [r.id for r in net.routers(project_id=project_id)],
        'ports': [p.id for p in net.ports(project_id=project_id)],
        'networks': [n.id for n in net.networks(project_id=project_id)],
        'security_groups': [g.id for g in net.security_groups(project_id=project_id)
                            if g.name != 'default'],
        'containers': [c.name for c in conn.object_store.containers()]}
    return {kind: ids for kind, ids in left.items() if ids}


def delete_security_groups(admin, project_id: str) -> None:
    """The project's groups, 'default' too (admin's to delete), last: Neutron makes a
    project's 'default' group again whenever the project's groups are listed."""
    for group in list(admin.network.security_groups(project_id=project_id)):
        _quietly(admin.network.delete_security_group, group)


@pytest.fixture
def scratch(cloud, tmp_path):
    """(clouds.yaml naming SCRATCH, connection to the scratch project, its id); the project
    and everything in it deleted afterwards."""
    admin = cloud.connect(cloud.admin)
    project = admin.identity.create_project(
        name='karbor-whole-project-%s' % uuid.uuid4().hex[:8], domain_id='default',
        description='karbor tests: whole-project restore (scratch)')
    conn, left = None, {}
    try:
        admit(admin, project)
        clouds_yaml = str(tmp_path / 'clouds.yaml')
        entry = scratch_clouds_yaml(cloud, clouds_yaml, project.name)
        import openstack  # the test venv has it
        # from the entry: openstack.connect reads no config_files, only OS_CLIENT_CONFIG_FILE
        conn = openstack.connect(**entry)
        assert conn.current_project_id == project.id
        yield clouds_yaml, conn, project.id
    finally:
        if conn is not None:
            empty_project(conn, admin, project.id)
            left = left_in_project(conn, admin, project.id)
        delete_security_groups(admin, project.id)
        admin.identity.delete_project(project, ignore_missing=True)
    assert not left, 'the scratch project %s still held %s' % (project.id, left)


def protect_project(run_playbook, tmp_path, tag, project_id):
    """The project protected into a new checkpoint: (the playbook's base vars, the checkpoint)."""
    out = str(tmp_path / 'out.json')
    base = {'state_dir': str(tmp_path / 'state'), 'tag': tag, 'out': out}
    run_playbook(PLAYBOOK, dict(base, step='protect', resources=[{'id': project_id,
                                                                  'type': PROJECT}],
                                plan_parameters={'OS::Cinder::Volume': {'force': True}}))
    with open(out, encoding='utf-8') as handle:
        checkpoint = json.load(handle)['checkpoint']['checkpoint']
    assert checkpoint['status'] == 'available', checkpoint
    return base, checkpoint


def test_project_restored_whole_server_on_its_restored_network(
        cloud, scratch, run_playbook, tmp_path):
    clouds_yaml, conn, project_id = scratch
    run_scratch = functools.partial(run_playbook, cloud=SCRATCH,
                                    env={'OS_CLIENT_CONFIG_FILE': clouds_yaml})
    net = conn.network
    tag = 'karbor-wholeproj-%s' % uuid.uuid4().hex[:6]
    made = Made(conn)
    scene = make_whole_server(cloud, conn, made, tag, payload_label='project bytes of')
    external, network, router, image, volumes, server = (
        scene.external, scene.network, scene.router, scene.image, scene.volumes, scene.server)

    base, checkpoint = protect_project(run_scratch, tmp_path, tag, project_id)
    statuses = checkpoint['resources_status']
    for key in ('%s#%s' % (PROJECT, project_id), '%s#%s' % (SERVER, server.id),
                'OS::Neutron::Network#' + network.id, 'OS::Glance::Image#' + image.id) + tuple(
                    'OS::Cinder::Volume#' + v.id for v in volumes):
        assert statuses.get(key) == 'available', (key, statuses)
    made.delete()  # everything: server, floating IP, volumes, ports, router, network, image
    assert not list(conn.compute.servers()) and not list(net.networks(project_id=project_id))
    assert not list(conn.block_storage.volumes())

    run_scratch(PLAYBOOK, dict(base, step='restore', checkpoint_id=checkpoint['id']))
    done = json.loads(open(base['out']).read())['restore']['restore']
    new = done['new_resources']
    assert done['status'] == 'success', done['resources_reason']
    assert new[project_id] == project_id  # the project itself is not made again

    new_server = conn.compute.get_server(new[server.id])
    assert new_server.status == 'ACTIVE' and new_server.metadata == {'role': 'db'}
    assert new_server.image['id'] == new[image.id]  # booted from the restored image
    assert_restored_whole(cloud, conn, scene, new, new_server)
    new_router = net.get_router(new[router.id])
    assert new_router.external_gateway_info['network_id'] == external.id
    # one of each: nothing restored twice through the project and the server
    assert [s.id for s in conn.compute.servers()] == [new_server.id]
    assert [n.id for n in net.networks(project_id=project_id)] == [new[network.id]]
    assert sorted(v.id for v in conn.block_storage.volumes()) == sorted(
        new[v.id] for v in volumes)
