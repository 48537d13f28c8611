# -*- coding: utf-8 -*-
"""OS::Neutron::Network on the real Neutron: a network with a subnet, a router with an
external gateway, a security group with two rules and a port is protected through the
checkpoint module, deleted, and restored with new ids mapped in new_resources."""
from __future__ import annotations

import json
import uuid

CIDR = '192.0.2.0/24'

PLAYBOOK = 'protect_restore.yml'


def _delete_all(net, made):
    for port in made.get('ports', []):
        net.delete_port(port, ignore_missing=True)
    for router, subnet in made.get('interfaces', []):
        try:
            net.remove_interface_from_router(router, subnet_id=subnet)
        except Exception:  # pylint: disable=broad-except
            pass
    for kind in ('routers', 'groups', 'networks'):
        for item in made.get(kind, []):
            getattr(net, {'routers': 'delete_router', 'groups': 'delete_security_group',
                          'networks': 'delete_network'}[kind])(item, ignore_missing=True)


def test_network_protect_delete_restore(cloud, run_playbook, tmp_path):
    net = cloud.connect(cloud.a).network
    tag = 'karbor-netp-%s' % uuid.uuid4().hex[:6]
    made = {'ports': [], 'interfaces': [], 'routers': [], 'groups': [], 'networks': []}
    restored = {'ports': [], 'interfaces': [], 'routers': [], 'groups': [], 'networks': []}
    try:
        external = net.find_network('public')
        network = net.create_network(name=tag)
        made['networks'].append(network.id)
        subnet = net.create_subnet(name=tag, network_id=network.id, ip_version=4, cidr=CIDR,
                                   gateway_ip='192.0.2.1', is_dhcp_enabled=False)
        router = net.create_router(name=tag, external_gateway_info={'network_id': external.id})
        made['routers'].append(router.id)
        net.add_interface_to_router(router, subnet_id=subnet.id)
        made['interfaces'].append((router.id, subnet.id))
        group = net.create_security_group(name=tag)
        made['groups'].append(group.id)
        ingress = {'security_group_id': group.id, 'direction': 'ingress', 'ethertype': 'IPv4',
                   'remote_ip_prefix': '0.0.0.0/0'}
        net.create_security_group_rule(protocol='tcp', port_range_min=22, port_range_max=22,
                                       **ingress)
        net.create_security_group_rule(protocol='icmp', **ingress)
        port = net.create_port(name=tag, network_id=network.id, security_group_ids=[group.id],
                               fixed_ips=[{'subnet_id': subnet.id, 'ip_address': '192.0.2.20'}])
        made['ports'].append(port.id)

        out = str(tmp_path / 'out.json')
        base = {'state_dir': str(tmp_path), 'tag': tag, 'out': out}
        run_playbook(PLAYBOOK, dict(base, step='protect', resources=[
            {'id': network.id, 'type': 'OS::Neutron::Network'}]))
        checkpoint_id = json.loads(open(out).read())['checkpoint']['checkpoint']['id']
        _delete_all(net, made)

        run_playbook(PLAYBOOK, dict(base, step='restore', checkpoint_id=checkpoint_id))
        new = json.loads(open(out).read())['restore']['restore']['new_resources']
        for original in (network.id, subnet.id, router.id, group.id, port.id):
            assert original in new and new[original] != original, (original, new)
        restored['networks'].append(new[network.id])
        restored['routers'].append(new[router.id])
        restored['groups'].append(new[group.id])
        restored['ports'].append(new[port.id])
        restored['interfaces'].append((new[router.id], new[subnet.id]))
        new_subnet = net.get_subnet(new[subnet.id])
        assert new_subnet.network_id == new[network.id]
        assert new_subnet.cidr == CIDR and new_subnet.gateway_ip == '192.0.2.1'
        new_router = net.get_router(new[router.id])
        assert new_router.external_gateway_info['network_id'] == external.id
        interfaces = list(net.ports(device_id=new_router.id,
                                    device_owner='network:router_interface'))
        assert [(ip['subnet_id'], ip['ip_address']) for p in interfaces for ip in p.fixed_ips] \
            == [(new_subnet.id, '192.0.2.1')]
        rules = net.get_security_group(new[group.id]).security_group_rules
        assert sorted((r['protocol'], r['port_range_min']) for r in rules
                      if r['direction'] == 'ingress') == [('icmp', None), ('tcp', 22)]
        new_port = net.get_port(new[port.id])
        assert new_port.fixed_ips == [{'subnet_id': new_subnet.id, 'ip_address': '192.0.2.20'}]
        assert new_port.security_group_ids == [new[group.id]]
        assert new_port.mac_address == port.mac_address

        # reusing an unknown network fails before anything is made
        result = run_playbook(PLAYBOOK, dict(
            base, step='restore', checkpoint_id=checkpoint_id,
            parameters={'OS::Neutron::Network': {'network_id': 'no-such-network'}}), check=False)
        assert result.rc != 0 and 'which this project cannot see' in result.stdout
        assert [n.id for n in net.networks(name=tag)] == [new[network.id]]
    finally:
        _delete_all(net, made)
        _delete_all(net, restored)
    assert not list(net.networks(name=tag))
