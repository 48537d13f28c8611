# -*- coding: utf-8 -*-
"""Issue 15 acceptance on the real Neutron, Nova and Cinder: a server on its own network
(subnet, router with an external gateway, security group with two rules, a fixed IP and a
floating IP) with two attached volumes is protected, everything is deleted, and the restore
brings the server back whole: ACTIVE on the restored network with the same fixed IP, in the
restored security group, the floating IP (same address) associated, both volumes at their
devices with their bytes; bad restore parameters fail before anything is made; a server
booted from a volume comes back booting from its restored volume."""
from __future__ import annotations

import io
import json
import time
import uuid
from types import SimpleNamespace

from test_os_infra import read_pattern, write_pattern

SERVER = 'OS::Nova::Server'
CIDR = '198.51.100.0/24'  # a documentation range: nothing is ever sent to it
FIXED_IP = '198.51.100.20'

PLAYBOOK = 'protect_restore.yml'


def protect(run_playbook, tmp_path, tag, server_id):
    """The server protected into a new checkpoint: (the playbook's base vars, the checkpoint)."""
    out = str(tmp_path / 'out.json')
    base = {'state_dir': str(tmp_path), 'tag': tag, 'out': out}
    run_playbook(PLAYBOOK, dict(base, step='protect', resources=[{'id': server_id, 'type': SERVER}],
                                plan_parameters={'OS::Cinder::Volume': {'force': True}}))
    with open(out, encoding='utf-8') as handle:
        checkpoint = json.load(handle)['checkpoint']['checkpoint']
    assert checkpoint['status'] == 'available'
    return base, checkpoint


def wait_gone(getter, item_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            getter(item_id)
        except Exception:  # pylint: disable=broad-except
            return
        time.sleep(1)


class Made:
    """What a test made (or restored), deleted in dependency order."""

    def __init__(self, conn):
        self.conn = conn
        self.items: list[tuple[str, object]] = []

    def add(self, kind, item):
        self.items.append((kind, item))
        return item

    def delete(self, kinds=None):
        conn, net = self.conn, self.conn.network
        order = ('fip', 'server', 'volume', 'interface', 'port', 'router', 'group', 'network',
                 'image')
        for kind in order:
            if kinds and kind not in kinds:
                continue
            for k, item in [x for x in self.items if x[0] == kind]:
                try:
                    if kind == 'fip':
                        net.delete_ip(item, ignore_missing=True)
                    elif kind == 'server':
                        conn.compute.delete_server(item, ignore_missing=True)
                        wait_gone(conn.compute.get_server, getattr(item, 'id', item))
                    elif kind == 'volume':
                        vol = conn.block_storage.find_volume(getattr(item, 'id', item))
                        if vol is not None:
                            conn.block_storage.wait_for_status(vol, 'available', wait=120)
                            conn.block_storage.delete_volume(vol, ignore_missing=True)
                    elif kind == 'interface':
                        net.remove_interface_from_router(item[0], subnet_id=item[1])
                    elif kind == 'port':
                        net.delete_port(item, ignore_missing=True)
                    elif kind == 'router':
                        net.delete_router(item, ignore_missing=True)
                    elif kind == 'group':
                        net.delete_security_group(item, ignore_missing=True)
                    elif kind == 'network':
                        net.delete_network(item, ignore_missing=True)
                    elif kind == 'image':
                        conn.image.delete_image(item, ignore_missing=True)
                except Exception:  # pylint: disable=broad-except
                    pass  # already gone with its parent
                self.items.remove((k, item))


def upload_image(conn, tag):
    image = conn.image.create_image(name=tag, disk_format='raw', container_format='bare',
                                    allow_duplicates=True)
    image.upload(conn.image, data=io.BytesIO(b'karbor whole server image\n' * 40), size=1040)
    conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
    return image


def attachments(conn, server_id):
    return {a.volume_id: a.device for a in conn.compute.volume_attachments(server_id)}


def make_whole_server(cloud, conn, made, tag: str, payload_label: str = 'bytes of'):
    """The acceptance scenario in ``conn``'s project, every piece registered in ``made``:
    a network with a subnet, a router with an external gateway, a security group with two
    rules, a port with a fixed IP, a server booted from an image with two attached volumes
    (their bytes written) and a floating IP."""
    net = conn.network
    external = net.find_network('public')
    network = made.add('network', net.create_network(name=tag))
    subnet = net.create_subnet(name=tag, network_id=network.id, ip_version=4, cidr=CIDR,
                               gateway_ip='198.51.100.1', is_dhcp_enabled=False)
    router = made.add('router', net.create_router(
        name=tag, external_gateway_info={'network_id': external.id}))
    net.add_interface_to_router(router, subnet_id=subnet.id)
    made.add('interface', (router.id, subnet.id))
    group = made.add('group', net.create_security_group(name=tag))
    ingress = {'security_group_id': group.id, 'direction': 'ingress', 'ethertype': 'IPv4',
               'remote_ip_prefix': '0.0.0.0/0'}
    net.create_security_group_rule(protocol='tcp', port_range_min=22, port_range_max=22,
                                   **ingress)
    net.create_security_group_rule(protocol='icmp', **ingress)
    port = made.add('port', net.create_port(
        name=tag, network_id=network.id, security_group_ids=[group.id],
        fixed_ips=[{'subnet_id': subnet.id, 'ip_address': FIXED_IP}]))
    image = made.add('image', upload_image(conn, tag))
    volumes = [made.add('volume', conn.block_storage.create_volume(size=1, name=tag))
               for _n in range(2)]
    for vol in volumes:
        conn.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=120)
    server = made.add('server', conn.compute.create_server(
        name=tag, image_id=image.id, flavor_id=conn.compute.find_flavor('m1.tiny').id,
        networks=[{'port': port.id}], metadata={'role': 'db'}))
    server = conn.compute.wait_for_server(server, wait=180)
    payloads = {}
    for vol, device in zip(volumes, ('/dev/vdb', '/dev/vdc')):
        conn.compute.create_volume_attachment(server, volume_id=vol.id, device=device)
        conn.block_storage.wait_for_status(vol, 'in-use', wait=120)
        payloads[vol.id] = ('%s %s ' % (payload_label, device)).encode() * 64
        write_pattern(cloud, vol.id, payloads[vol.id])
    devices = attachments(conn, server.id)
    fip = made.add('fip', net.create_ip(floating_network_id=external.id, port_id=port.id))
    address = fip.floating_ip_address
    return SimpleNamespace(external=external, network=network, subnet=subnet, router=router,
                           group=group, port=port, image=image, volumes=volumes, server=server,
                           payloads=payloads, devices=devices, fip=fip, address=address)


def assert_restored_whole(cloud, conn, scene, new, new_server):
    """``new_server`` (the restore of ``scene.server``; ``new``: the restore's old-to-new
    map) is on the restored network with the same fixed IP, in the restored security group
    with both rules, its floating IP the same address, both restored volumes at their
    devices with their bytes, and the restored router routes the restored subnet."""
    net = conn.network
    new_port = net.get_port(new[scene.port.id])
    assert new_port.device_id == new_server.id and new_port.network_id == new[scene.network.id]
    assert new_port.fixed_ips == [{'subnet_id': new[scene.subnet.id], 'ip_address': FIXED_IP}]
    assert new_port.security_group_ids == [new[scene.group.id]]
    rules = net.get_security_group(new[scene.group.id]).security_group_rules
    assert sorted((r['protocol'], r['port_range_min']) for r in rules
                  if r['direction'] == 'ingress') == [('icmp', None), ('tcp', 22)]
    new_fip = net.get_ip(new[scene.fip.id])
    assert new_fip.floating_ip_address == scene.address and new_fip.port_id == new_port.id
    assert attachments(conn, new_server.id) == {
        new[v.id]: scene.devices[v.id] for v in scene.volumes}
    for vol in scene.volumes:
        assert read_pattern(cloud, new[vol.id], len(scene.payloads[vol.id])) == \
            scene.payloads[vol.id]
    interfaces = list(net.ports(device_id=new[scene.router.id],
                                device_owner='network:router_interface'))
    assert [ip['subnet_id'] for p in interfaces for ip in p.fixed_ips] == [new[scene.subnet.id]]


def test_server_restored_whole_onto_its_restored_network(cloud, run_playbook, tmp_path):
    conn = cloud.connect(cloud.a)
    net = conn.network
    tag = 'karbor-whole-%s' % uuid.uuid4().hex[:6]
    made, restored = Made(conn), Made(conn)
    try:
        scene = make_whole_server(cloud, conn, made, tag)
        network, subnet, router, group, port = (
            scene.network, scene.subnet, scene.router, scene.group, scene.port)
        image, volumes, server, fip = scene.image, scene.volumes, scene.server, scene.fip

        base, checkpoint = protect(run_playbook, tmp_path, tag, server.id)
        out = base['out']
        made.delete()  # everything: server, floating IP, volumes, ports, router, network

        def restore(parameters, check=True):
            return run_playbook(PLAYBOOK, dict(
                base, step='restore', checkpoint_id=checkpoint['id'], parameters=parameters),
                check=check)

        # bad parameters fail before anything is made
        for parameters, message in (
                ({SERVER: {'network_map': {network.id: 'no-such-network'}}},
                 'which this project cannot see'),
                ({SERVER: {'fixed_ips': {FIXED_IP: '10.9.9.9'}}}, 'outside the subnets'),
                ({SERVER: {'floating_network_id': next(net.networks(name='private')).id}},
                 'is not external')):
            result = restore(parameters, check=False)
            assert result.rc != 0 and message in result.stdout, result.stdout[-3000:]
            assert not list(net.networks(name=tag)) and not list(
                conn.compute.servers(name='^%s' % checkpoint['id']))

        restore({SERVER: {'restore_name': tag + '-restored'}})
        done = json.loads(open(out).read())['restore']['restore']
        new = done['new_resources']
        assert done['status'] == 'success', done['resources_reason']
        for kind, original in (('server', server.id), ('fip', fip.id), ('port', port.id),
                               ('router', router.id), ('group', group.id),
                               ('network', network.id), ('image', image.id)):
            restored.add(kind, new[original])
        restored.add('interface', (new[router.id], new[subnet.id]))
        for vol in volumes:
            restored.add('volume', new[vol.id])

        new_server = conn.compute.get_server(new[server.id])
        assert new_server.status == 'ACTIVE' and new_server.name == tag + '-restored'
        assert new_server.metadata == {'role': 'db'}
        assert_restored_whole(cloud, conn, scene, new, new_server)
    finally:
        made.delete()
        restored.delete()


def test_boot_from_volume_server_restored_booting_from_its_restored_volume(
        cloud, run_playbook, tmp_path):
    conn = cloud.connect(cloud.a)
    tag = 'karbor-bfv-%s' % uuid.uuid4().hex[:6]
    made, restored = Made(conn), Made(conn)
    try:
        boot = made.add('volume', conn.block_storage.create_volume(size=1, name=tag))
        conn.block_storage.wait_for_status(boot, 'available', failures=['error'], wait=120)
        conn.block_storage.set_volume_bootable_status(boot, True)
        write_pattern(cloud, boot.id, b'boot volume bytes ' * 32)
        network = next(conn.network.networks(name='private'))
        server = made.add('server', conn.compute.create_server(
            name=tag, flavor_id=conn.compute.find_flavor('m1.tiny').id,
            networks=[{'uuid': network.id}],
            block_device_mapping_v2=[{'uuid': boot.id, 'source_type': 'volume',
                                      'destination_type': 'volume', 'boot_index': 0,
                                      'delete_on_termination': False}]))
        server = conn.compute.wait_for_server(server, wait=180)
        devices = attachments(conn, server.id)
        assert list(devices) == [boot.id]
        base, checkpoint = protect(run_playbook, tmp_path, tag, server.id)
        out = base['out']
        made.delete(kinds=('server',))
        run_playbook(PLAYBOOK, dict(
            base, step='restore', checkpoint_id=checkpoint['id'],
            parameters={'OS::Neutron::Network': {'network_id': network.id}}))
        new = json.loads(open(out).read())['restore']['restore']['new_resources']
        restored.add('server', new[server.id])
        restored.add('volume', new[boot.id])
        new_server = conn.compute.get_server(new[server.id])
        assert new_server.status == 'ACTIVE'
        assert not (new_server.image or {}).get('id')  # booted from a volume, not an image
        assert attachments(conn, new_server.id) == {new[boot.id]: devices[boot.id]}
        assert read_pattern(cloud, new[boot.id], 18 * 32) == b'boot volume bytes ' * 32
    finally:
        restored.delete()
        made.delete()
