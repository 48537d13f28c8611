# -*- coding: utf-8 -*-
"""The network plugin's pure restore logic: rules, ports, interfaces, reuse."""
from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.resources.network_records import (
    referenced_groups, router_interfaces)
from ansible_collections.karbor.protection.plugins.module_utils.resources.network_restore import (
    interface_request, port_attributes, rules_to_sync, subnet_map_by_cidr)


def rule(direction, ethertype='IPv4', protocol=None, low=None, high=None, prefix=None,
         group=None, rule_id=None):
    return {'id': rule_id, 'direction': direction, 'ethertype': ethertype, 'protocol': protocol,
            'port_range_min': low, 'port_range_max': high, 'remote_ip_prefix': prefix,
            'remote_group_id': group, 'description': ''}


def test_rules_sync_maps_remote_groups_and_drops_unsaved_defaults():
    saved = [rule('ingress', protocol='tcp', low=22, high=22, prefix='0.0.0.0/0'),
             rule('ingress', group='old-g'), rule('egress')]
    existing = [rule('egress', rule_id='e4'), rule('egress', 'IPv6', rule_id='e6')]
    create, delete = rules_to_sync(saved, existing, {'old-g': 'new-g'})
    assert delete == ['e6']
    assert {'direction': 'ingress', 'ethertype': 'IPv4', 'remote_group_id': 'new-g',
            'description': ''} in create
    assert any(r.get('port_range_min') == 22 for r in create) and len(create) == 2


def test_port_keeps_free_ip_and_mac_and_maps_groups():
    saved = {'name': 'p', 'description': '', 'mac_address': 'fa:16:3e:00:00:01',
             'fixed_ips': [{'subnet_id': 's1', 'ip_address': '192.0.2.20'},
                           {'subnet_id': 'other', 'ip_address': '10.0.0.1'}],
             'security_group_ids': ['g1'], 'allowed_address_pairs': [], 'admin_state_up': True,
             'port_security_enabled': True}
    attrs = port_attributes(saved, 'n2', {'s1': 's2'}, {'g1': 'g2'}, set(), set())
    assert attrs['fixed_ips'] == [{'subnet_id': 's2', 'ip_address': '192.0.2.20'}]
    assert attrs['mac_address'] == 'fa:16:3e:00:00:01' and attrs['security_group_ids'] == ['g2']
    taken = port_attributes(saved, 'n2', {'s1': 's2'}, {}, {('s2', '192.0.2.20')},
                            {'fa:16:3e:00:00:01'})
    assert taken['fixed_ips'] == [{'subnet_id': 's2'}] and 'mac_address' not in taken


def test_interface_by_subnet_for_gateway_else_by_port():
    iface = {'subnet_id': 's1', 'ip_address': '192.0.2.1'}
    assert interface_request(iface, {'s1': 's2'}, {'s2': '192.0.2.1'}) == {'subnet_id': 's2'}
    assert interface_request(iface, {'s1': 's2'}, {'s2': '192.0.2.254'}) == {
        'subnet_id': 's2', 'port_ip': '192.0.2.1'}
    assert interface_request(iface, {}, {}) is None


def test_reuse_needs_every_saved_cidr():
    saved = [{'id': 'a', 'cidr': '192.0.2.0/24'}, {'id': 'b', 'cidr': '2001:db8::/64'}]
    assert subnet_map_by_cidr(saved, [{'id': 'x', 'cidr': '192.0.2.0/24'},
                                      {'id': 'y', 'cidr': '2001:db8:0::/64'}]) == {'a': 'x',
                                                                                   'b': 'y'}
    assert subnet_map_by_cidr(saved, [{'id': 'x', 'cidr': '192.0.2.0/24'}]) is None


def test_router_interfaces_and_referenced_groups():
    ports = [{'id': 'p1', 'device_owner': 'network:router_interface', 'device_id': 'r1',
              'fixed_ips': [{'subnet_id': 's1', 'ip_address': '192.0.2.1'}]},
             {'id': 'p2', 'device_owner': 'compute:nova', 'device_id': 'vm',
              'fixed_ips': [{'subnet_id': 's1', 'ip_address': '192.0.2.5'}]}]
    assert router_interfaces(ports, {'s1'}) == {'r1': [
        {'port_id': 'p1', 'subnet_id': 's1', 'ip_address': '192.0.2.1'}]}
    groups = {'g1': {'rules': [{'remote_group_id': 'g2'}]}, 'g2': {'rules': [
        {'remote_group_id': 'g1'}]}}
    assert sorted(referenced_groups(['g1'], groups.__getitem__)) == ['g1', 'g2']
