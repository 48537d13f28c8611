# -*- coding: utf-8 -*-
"""The test cloud's real Neutron (tests/cloud): networks, a router with an
external gateway, security groups and floating IPs work through the API
without agents, and Nova's fake compute boots a server on a Neutron port
(bound by tests/cloud/drivers/karbor_ml2_bind.py) that goes ACTIVE."""
from __future__ import annotations

import io
import ipaddress
import time
import uuid

EXTERNAL = 'public'
EXTERNAL_CIDR = ipaddress.ip_network('203.0.113.0/24')
CIDR = '192.0.2.0/24'  # a documentation range: nothing is ever sent to it
FIXED_IP = '192.0.2.20'


def _addresses(server):
    return {(a['addr'], a.get('OS-EXT-IPS:type')) for addrs in (server.addresses or {}).values()
            for a in addrs}


def test_network_router_security_group_floating_ip_and_server(cloud):
    conn = cloud.connect(cloud.a)
    net = conn.network
    tag = 'karbor-net-%s' % uuid.uuid4().hex[:6]
    made = {}
    try:
        external = net.find_network(EXTERNAL)
        assert external is not None and external.is_router_external
        made['network'] = net.create_network(name=tag)
        made['subnet'] = net.create_subnet(name=tag, network_id=made['network'].id, ip_version=4,
                                           cidr=CIDR, gateway_ip='192.0.2.1',
                                           is_dhcp_enabled=False)
        made['router'] = net.create_router(name=tag,
                                           external_gateway_info={'network_id': external.id})
        net.add_interface_to_router(made['router'], subnet=made['subnet'].id)
        made['interface'] = True
        made['group'] = net.create_security_group(name=tag, description='ssh and ping')
        ingress = {'security_group_id': made['group'].id, 'direction': 'ingress',
                   'ethertype': 'IPv4', 'remote_ip_prefix': '0.0.0.0/0'}
        rules = [net.create_security_group_rule(protocol='tcp', port_range_min=22,
                                                port_range_max=22, **ingress),
                 net.create_security_group_rule(protocol='icmp', **ingress)]
        made['fip'] = net.create_ip(floating_network_id=external.id)
        made['port'] = net.create_port(name=tag, network_id=made['network'].id,
                                       fixed_ips=[{'subnet_id': made['subnet'].id,
                                                   'ip_address': FIXED_IP}],
                                       security_group_ids=[made['group'].id])
        image = conn.image.create_image(name=tag, disk_format='raw', container_format='bare',
                                        allow_duplicates=True)
        made['image'] = image
        image.upload(conn.image, data=io.BytesIO(b'karbor network test image\n' * 40), size=1040)
        conn.image.wait_for_status(image, 'active', failures=['killed'], wait=120)
        flavor = conn.compute.find_flavor('m1.tiny')
        made['server'] = conn.compute.create_server(name=tag, image_id=image.id,
                                                    flavor_id=flavor.id,
                                                    networks=[{'port': made['port'].id}])
        server = conn.compute.wait_for_server(made['server'], wait=180)
        assert server.status == 'ACTIVE'
        net.update_ip(made['fip'], port_id=made['port'].id)

        # read everything back
        router = net.get_router(made['router'].id)
        gateway = router.external_gateway_info
        assert gateway['network_id'] == external.id
        assert all(ipaddress.ip_address(ip['ip_address']) in EXTERNAL_CIDR
                   for ip in gateway['external_fixed_ips'])
        interfaces = list(net.ports(device_id=router.id, device_owner='network:router_interface'))
        assert [(ip['subnet_id'], ip['ip_address']) for p in interfaces for ip in p.fixed_ips] == \
            [(made['subnet'].id, '192.0.2.1')]
        group = net.get_security_group(made['group'].id)
        assert {r.id for r in rules} <= {r['id'] for r in group.security_group_rules}
        assert sorted((r['protocol'], r['port_range_min']) for r in group.security_group_rules
                      if r['direction'] == 'ingress') == [('icmp', None), ('tcp', 22)]
        port = net.get_port(made['port'].id)
        assert port.device_id == server.id
        bound = cloud.connect(cloud.admin).network.get_port(port.id)  # binding:* is admin's
        assert bound.binding_host_id == 'karbor-cloud' and bound.binding_vif_type == 'ovs'
        assert port.status == 'ACTIVE'
        assert port.fixed_ips == [{'subnet_id': made['subnet'].id, 'ip_address': FIXED_IP}]
        assert port.security_group_ids == [made['group'].id]
        fip = net.get_ip(made['fip'].id)
        assert fip.port_id == port.id and fip.fixed_ip_address == FIXED_IP
        assert ipaddress.ip_address(fip.floating_ip_address) in EXTERNAL_CIDR
        assert fip.router_id == router.id
        # Neutron tells Nova (network-changed): the server's addresses show the floating IP
        deadline = time.time() + 60
        while True:
            server = conn.compute.get_server(server.id)
            if (fip.floating_ip_address, 'floating') in _addresses(server) \
                    or time.time() > deadline:
                break
            time.sleep(1)
        assert _addresses(server) == {(FIXED_IP, 'fixed'), (fip.floating_ip_address, 'floating')}
    finally:
        if 'server' in made:
            conn.compute.delete_server(made['server'], ignore_missing=True)
            conn.compute.wait_for_delete(made['server'], wait=120)
        if 'image' in made:
            conn.image.delete_image(made['image'], ignore_missing=True)
        if 'fip' in made:
            net.delete_ip(made['fip'], ignore_missing=True)
        if 'port' in made:
            net.delete_port(made['port'], ignore_missing=True)
        if 'interface' in made:
            net.remove_interface_from_router(made['router'], subnet=made['subnet'].id)
        if 'router' in made:
            net.delete_router(made['router'], ignore_missing=True)
        if 'group' in made:
            net.delete_security_group(made['group'], ignore_missing=True)
        if 'network' in made:
            net.delete_network(made['network'], ignore_missing=True)
    assert not list(net.networks(name=tag))
    assert not list(net.routers(name=tag))
    assert not list(net.security_groups(name=tag))
