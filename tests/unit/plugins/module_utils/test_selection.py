# -*- coding: utf-8 -*-
"""resource_query: JMESPath over protectable instances."""
from __future__ import annotations

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.resources.selection import ResourceQuery

VOL = 'OS::Cinder::Volume'
IMG = 'OS::Glance::Image'
INSTANCES = [
    {'id': 'v1', 'type': VOL, 'name': 'db', 'status': 'available',
     'metadata': {'backup': 'daily'}, 'tags': []},
    {'id': 'v2', 'type': VOL, 'name': 'scratch', 'status': 'available', 'metadata': {},
     'tags': []},
    {'id': 'i1', 'type': IMG, 'name': 'golden', 'status': 'active',
     'metadata': {'backup': 'daily'}, 'tags': ['keep']},
]


def test_selects_by_metadata_and_type():
    query = ResourceQuery("[?type=='%s' && metadata.backup=='daily']" % VOL)
    assert query.select(INSTANCES) == [{'id': 'v1', 'type': VOL, 'name': 'db'}]


def test_selects_across_types_and_by_tag_without_duplicates():
    query = ResourceQuery("[?metadata.backup=='daily' || contains(tags, 'keep')]")
    assert [r['id'] for r in query.select(INSTANCES)] == ['v1', 'i1']


def test_no_match_is_an_empty_list():
    assert ResourceQuery("[?name=='nothing']").select(INSTANCES) == []


def test_one_object_is_accepted_as_a_list():
    assert ResourceQuery('[0]').select(INSTANCES) == [{'id': 'v1', 'type': VOL, 'name': 'db'}]


@pytest.mark.parametrize('expression', ['[?type==', '', '   ', '[?@ = 1]'])
def test_bad_syntax_is_a_clear_error(expression):
    with pytest.raises(InvalidInput, match='JMESPath'):
        ResourceQuery(expression)


@pytest.mark.parametrize('expression, message', [
    ('[].id', 'not one of the project'),
    ('length(@)', 'gave int'),
    ('[0].name', 'gave str'),
])
def test_results_that_are_not_instances_are_refused(expression, message):
    with pytest.raises(InvalidInput, match=message):
        ResourceQuery(expression).select(INSTANCES)
