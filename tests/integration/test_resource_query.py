# -*- coding: utf-8 -*-
"""Issue 6: plans that select volumes by metadata with a JMESPath query,
resolved again at each checkpoint (real Cinder metadata, real modules)."""
from __future__ import annotations

import json
import uuid

import pytest


@pytest.fixture
def labelled_volumes(cloud):
    conn = cloud.connect(cloud.a)
    tag = uuid.uuid4().hex[:6]
    daily = conn.block_storage.create_volume(size=1, name='rq-daily-%s' % tag,
                                             metadata={'backup': 'daily', 'rq': tag})
    other = conn.block_storage.create_volume(size=1, name='rq-other-%s' % tag,
                                             metadata={'rq': tag})
    for vol in (daily, other):
        conn.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=120)
    yield conn, tag, daily, other
    for vol in (daily, other):
        conn.block_storage.delete_volume(vol, ignore_missing=True)


def run(run_playbook, tmp_path, query, name):
    out = tmp_path / ('%s.json' % name)
    run_playbook('resource_query.yml', {'state_dir': str(tmp_path / 'state'), 'query': query,
                                        'out': str(out)})
    return json.loads(out.read_text())


def test_query_is_resolved_at_each_checkpoint(cloud, labelled_volumes, run_playbook, tmp_path):
    conn, tag, daily, other = labelled_volumes
    query = ("[?type=='OS::Cinder::Volume' && metadata.rq=='%s' && metadata.backup=='daily']"
             % tag)
    first = run(run_playbook, tmp_path, query, 'first')
    assert [r['id'] for r in first['selected']] == [daily.id]
    assert first['plan']['resource_query'] == query and first['plan']['resources'] == []
    recorded = first['checkpoint']['protection_plan']
    assert [r['id'] for r in recorded['resources']] == [daily.id]
    assert recorded['resource_query'] == query
    assert list(first['checkpoint']['resources_status']) == ['OS::Cinder::Volume#' + daily.id]
    # label the second volume: the next checkpoint of the same plan takes it too
    conn.block_storage.set_volume_metadata(other, backup='daily')
    second = run(run_playbook, tmp_path, query, 'second')
    assert sorted(r['id'] for r in second['checkpoint']['protection_plan']['resources']) == \
        sorted([daily.id, other.id])
    # the first checkpoint still records what it protected then
    assert [r['id'] for r in first['checkpoint']['protection_plan']['resources']] == [daily.id]


def test_bad_query_fails_clearly_and_creates_no_plan(cloud, run_playbook, tmp_path):
    result = run_playbook('resource_query.yml', {
        'state_dir': str(tmp_path / 'state'), 'query': "[?type=='OS::Cinder::Volume'",
        'out': str(tmp_path / 'never.json')}, check=False)
    assert result.rc != 0
    assert 'is not valid JMESPath' in result.stdout
    assert 'Traceback' not in result.stdout + result.stderr
    assert not (tmp_path / 'never.json').exists()
    assert not list((tmp_path / 'state').glob('catalog/plans/*/*'))
