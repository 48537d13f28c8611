# -*- coding: utf-8 -*-
from __future__ import annotations

import json

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    GraphLoopError, BankCorrupted)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource

SERVER = Resource('OS::Nova::Server', 's1', 'web')
VOL1 = Resource('OS::Cinder::Volume', 'v1', 'data')
VOL2 = Resource('OS::Cinder::Volume', 'v2', 'logs')
IMAGE = Resource('OS::Glance::Image', 'i1', 'cirros', extra_info={'server_id': 's1'})
PROJECT = Resource('OS::Keystone::Project', 'p1', 'demo')


def deps(table):
    return lambda res: table.get(res, [])


def test_dependents_are_expanded_and_shared_nodes_deduplicated():
    table = {PROJECT: [SERVER, VOL1], SERVER: [VOL1, IMAGE]}
    roots = G.build_graph([PROJECT], deps(table))
    assert [r.value for r in roots] == [PROJECT]
    nodes = list(G.iter_nodes(roots))
    assert len(nodes) == 4  # VOL1 appears once although two parents use it
    order = [n.value for n in nodes]
    assert order.index(VOL1) < order.index(SERVER) < order.index(PROJECT)
    assert order.index(IMAGE) < order.index(SERVER)


def test_plan_listing_parent_and_child_yields_one_root():
    roots = G.build_graph([VOL1, SERVER], deps({SERVER: [VOL1]}))
    assert [r.value for r in roots] == [SERVER]


def test_cycle_is_detected_with_its_path():
    a = Resource('OS::Nova::Server', 'a')
    b = Resource('OS::Cinder::Volume', 'b')
    with pytest.raises(GraphLoopError) as err:
        G.build_graph([a], deps({a: [b], b: [a]}))
    assert 'OS::Nova::Server#a -> OS::Cinder::Volume#b -> OS::Nova::Server#a' in err.value.msg


def test_serialization_is_karbor_format_and_round_trips():
    roots = G.build_graph([SERVER, VOL2], deps({SERVER: [VOL1, IMAGE]}))
    packed = json.loads(G.serialize(roots))
    nodes, adjacency = packed
    assert all(key.startswith('0x') for key in nodes)
    # post-order sids: children get lower ids than their parents
    by_value = {tuple(v[:3]): k for k, v in nodes.items()}
    server_sid = by_value[('OS::Nova::Server', 's1', 'web')]
    vol_sid = by_value[('OS::Cinder::Volume', 'v1', 'data')]
    assert int(vol_sid, 16) < int(server_sid, 16)
    assert [server_sid, sorted([vol_sid, by_value[('OS::Glance::Image', 'i1', 'cirros')]])] == \
        [adjacency[0][0], sorted(adjacency[0][1])]
    assert nodes[by_value[('OS::Glance::Image', 'i1', 'cirros')]][3] == {'server_id': 's1'}
    again = G.deserialize(G.serialize(roots))
    assert sorted(r.value.key for r in again) == sorted([SERVER.key, VOL2.key])
    assert set(G.resources(again)) == {SERVER, VOL1, VOL2, IMAGE}


def test_karbor_three_tuple_nodes_are_accepted():
    data = '[{"0x0": ["OS::Glance::Image", "i", "img"], "0x1": ["OS::Nova::Server", "s", "srv"]},' \
           ' [["0x1", ["0x0"]]]]'
    roots = G.deserialize(data)
    assert roots[0].value.id == 's' and roots[0].child_nodes[0].value.id == 'i'


def test_damaged_graph_is_reported_as_corruption():
    with pytest.raises(BankCorrupted):
        G.deserialize('[{"0x0": ["x"]}, [["0x9", ["0x0"]]]]')


def test_parents_of():
    roots = G.build_graph([PROJECT], deps({PROJECT: [SERVER, VOL1], SERVER: [VOL1]}))
    parents = G.parents_of(roots)
    assert sorted(p.id for p in parents[VOL1]) == ['p1', 's1']
    assert parents[PROJECT] == []
