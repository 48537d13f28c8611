# -*- coding: utf-8 -*-
"""The server plugin's network choices against a scripted Neutron: restore
parameters checked before anything is made, NICs on the restored ports or on
mapped networks, floating IPs with the same address when free."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.resources import server_network
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.fakes import Section

NET, EXT, OTHER = 'net-1', 'ext-1', 'other-1'
SAVED = {'networks': [NET],
         'ports': [{'id': 'port-1', 'network_id': NET, 'mac_address': 'fa:16:3e:00:00:01',
                    'fixed_ips': [{'subnet_id': 'sub-1', 'ip_address': '198.51.100.20'}],
                    'security_group_ids': ['sg-1']}],
         'floating': [{'id': 'fip-1', 'address': '203.0.113.9', 'floating_network_id': EXT,
                       'fixed_ip_address': '198.51.100.20', 'port_id': 'port-1'}]}


ON_PORT = [{'port': 'new-port'}]  # what nics() chose for the saved port


class Neutron:
    def __init__(self):
        self.networks = {EXT: SimpleNamespace(id=EXT, name='public', is_router_external=True,
                                              project_id='admin'),
                         OTHER: SimpleNamespace(id=OTHER, name='other', is_router_external=False,
                                                project_id='me')}
        self.floating: list = []
        self.calls: list = []

    def get_network(self, network_id):
        if network_id not in self.networks:
            raise NotFound('no network %s' % network_id)
        return self.networks[network_id]

    def subnets(self, network_id):
        return [SimpleNamespace(cidr='10.0.0.0/24')] if network_id == OTHER else []

    def ports(self, **query):
        if 'device_id' in query:
            return [SimpleNamespace(id='new-port', network_id='new-net')]
        return []

    def ips(self, **query):
        return [f for f in self.floating if f.floating_ip_address == query['floating_ip_address']]

    def create_ip(self, **attrs):
        self.calls.append(('create_ip', attrs))
        return SimpleNamespace(id='new-fip', floating_ip_address=attrs.get(
            'floating_ip_address', '203.0.113.77'))

    def update_ip(self, fip, **attrs):
        self.calls.append(('update_ip', fip.id, attrs))


def context(neutron, parameters, new_resources=None, network_meta=None):
    cloud = CloudSession({})
    cloud._conn = SimpleNamespace(network=neutron,  # pylint: disable=protected-access
                                  current_project_id='me')
    new = dict(new_resources or {})

    def section(resource_id):
        if network_meta is None:
            raise NotFound(resource_id)
        return Section(network_meta)
    return SimpleNamespace(
        cloud=cloud, parameters=parameters, resource=SimpleNamespace(id='srv-1'),
        checkpoint=SimpleNamespace(id='cp-1', resource_section=section), new_resources=new,
        publish_new_resource=lambda original, made: new.update({original: made}))


@pytest.mark.parametrize('parameters, message', [
    ({'network_map': {NET: 'missing'}}, 'which this project cannot see'),
    ({'restore_net_id': 'missing'}, 'restore_net_id'),
    ({'fixed_ips': {'198.51.100.99': '198.51.100.30'}}, 'which no port of the server had'),
    ({'fixed_ips': {'198.51.100.20': 'not-an-ip'}}, 'not an IP address'),
    ({'fixed_ips': {'198.51.100.20': '10.9.9.9'}}, 'outside the subnets (198.51.100.0/24)'),
    ({'network_map': {NET: OTHER}, 'fixed_ips': {'198.51.100.20': '198.51.100.30'}},
     'outside the subnets (10.0.0.0/24)'),
    ({'floating_network_id': OTHER}, 'is not external'),
    ({'floating_network_id': 'missing'}, 'floating_network_id'),
])
def test_bad_restore_parameters_fail_before_anything_is_made(parameters, message):
    neutron = Neutron()
    ctx = context(neutron, parameters, network_meta={'subnets': [{'cidr': '198.51.100.0/24'}]})
    with pytest.raises(InvalidInput) as failure:
        server_network.check_parameters(ctx, SAVED)
    assert message in failure.value.msg
    assert neutron.calls == []


def test_good_parameters_pass():
    ctx = context(Neutron(), {'network_map': {NET: OTHER},
                              'fixed_ips': {'198.51.100.20': '10.0.0.30'}})
    server_network.check_parameters(ctx, SAVED)


def test_nics_use_the_restored_port_else_the_mapped_network():
    assert server_network.nics(context(Neutron(), {}, {'port-1': 'new-port'}), SAVED) == [
        {'port': 'new-port'}]
    mapped = server_network.nics(context(Neutron(), {'network_map': {NET: OTHER}},
                                         {'port-1': 'new-port'}), SAVED)
    assert mapped == [{'uuid': OTHER, 'fixed_ip': '198.51.100.20'}]  # OTHER is the project's
    # a network of another project: Neutron lets only its owner choose an address
    neutron = Neutron()
    neutron.networks[NET] = SimpleNamespace(id=NET, project_id='admin')
    assert server_network.nics(context(neutron, {}), SAVED) == [{'uuid': NET}]
    assert server_network.nics(context(Neutron(), {'restore_net_id': OTHER}), SAVED) == [
        {'uuid': OTHER}]


def test_floating_ip_keeps_its_address_when_free_else_gets_a_new_one():
    neutron = Neutron()
    made: list = []
    ctx = context(neutron, {}, {'port-1': 'new-port'})
    done = server_network.restore_floating_ips(ctx, 'new-srv', SAVED, ON_PORT, made)
    assert done[0]['how'] == 'same address' and done[0]['address'] == '203.0.113.9'
    assert neutron.calls == [('create_ip', {'floating_network_id': EXT, 'port_id': 'new-port',
                                            'floating_ip_address': '203.0.113.9'})]
    assert made == ['new-fip'] and ctx.new_resources['fip-1'] == 'new-fip'
    # taken by another port: a new address from the same network
    neutron = Neutron()
    neutron.floating = [SimpleNamespace(id='taken', floating_ip_address='203.0.113.9',
                                        port_id='someone-else')]
    done = server_network.restore_floating_ips(context(neutron, {}, {'port-1': 'new-port'}),
                                               'new-srv', SAVED, ON_PORT, [])
    assert done[0]['how'] == 'new address' and done[0]['address'] == '203.0.113.77'
    # still there and free: reused, nothing made
    neutron = Neutron()
    neutron.floating = [SimpleNamespace(id='kept', floating_ip_address='203.0.113.9',
                                        port_id=None)]
    made = []
    done = server_network.restore_floating_ips(context(neutron, {}, {'port-1': 'new-port'}),
                                               'new-srv', SAVED, ON_PORT, made)
    assert done[0]['how'] == 'reused' and made == []
    assert neutron.calls == [('update_ip', 'kept', {'port_id': 'new-port'})]
    # restore_floating_ips: false
    assert server_network.restore_floating_ips(
        context(Neutron(), {'restore_floating_ips': False}), 'new-srv', SAVED, ON_PORT, []) == []


def test_floating_ip_goes_to_the_port_on_the_network_its_nic_chose():
    neutron = Neutron()
    neutron.ports = lambda **query: [SimpleNamespace(id='on-net', network_id=NET),
                                     SimpleNamespace(id='on-other', network_id=OTHER)]
    done = server_network.restore_floating_ips(
        context(neutron, {'network_map': {NET: OTHER}}), 'new-srv', SAVED, [{'uuid': OTHER}], [])
    assert done[0]['how'] == 'same address'
    assert neutron.calls[0][1]['port_id'] == 'on-other'
    # two ports and no NIC for the saved port: nothing to guess from, a clear error
    with pytest.raises(KarborError, match='has no port on the network'):
        server_network.restore_floating_ips(context(neutron, {}), 'new-srv', SAVED, 'none', [])
