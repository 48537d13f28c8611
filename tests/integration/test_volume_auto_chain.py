# -*- coding: utf-8 -*-
"""backup_mode auto with full_backup_every on the real test cloud: the chains are
bounded (full, incr, incr, full, incr), keep-2 retention deletes the whole expired
chain in one run (newest first) with its Cinder backups, and the newest checkpoint
(an incremental) restores into a chosen volume type and availability zone with
its bytes; an unknown zone or type is refused before anything is made."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from conftest import delete_volumes  # pylint: disable=import-error
from test_os_infra import OS_INFRA, read_pattern, write_pattern  # the volume file helpers

BENCH = 'bench'


@pytest.fixture
def chain_cloud(cloud):
    """Project A's volume with a pattern written into it, and a volume type made for the
    test; deleted afterwards with whatever the test restored."""
    admin, conn = cloud.connect(cloud.admin), cloud.connect(cloud.a)
    vol = conn.block_storage.create_volume(size=1, name='chain-%s' % uuid.uuid4().hex[:6])
    kind = admin.block_storage.create_type(name='karbor-chain-%s' % uuid.uuid4().hex[:6])
    made = {'volumes': []}
    try:
        conn.block_storage.wait_for_status(vol, 'available', failures=['error'], wait=120)
        payload = ('karbor chain %s ' % vol.id).encode() * 64
        write_pattern(cloud, vol.id, payload)
        yield conn, vol, kind, payload, made
    finally:
        delete_volumes(conn, made['volumes'] + [vol.id])
        admin.block_storage.delete_type(kind, ignore_missing=True)


def bench_running(conn_admin) -> bool:
    return any(s.binary == 'cinder-volume' and s.availability_zone == BENCH and s.state == 'up'
               for s in conn_admin.block_storage.services())


def engine_of(cloud, state_dir):
    from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
    from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
        ProtectionEngine)
    return ProtectionEngine(state_dir=state_dir, cloud=CloudSession({'cloud': cloud.a}))


def step(run_playbook, tmp_path, name, **extravars):
    out = os.path.join(str(tmp_path), '%s.json' % name)
    run_playbook('volume_auto_chain.yml', dict(extravars, step=name, state_dir=str(tmp_path),
                                               out=out))
    with open(out) as handle:
        return json.load(handle)


def backup_exists(conn, backup_id) -> bool:
    return conn.block_storage.find_backup(backup_id, ignore_missing=True) is not None


def test_bounded_chain_pruned_whole_and_restored_into_zone_and_type(
        cloud, chain_cloud, run_playbook, tmp_path):
    conn, vol, kind, payload, made = chain_cloud
    made_ids = step(run_playbook, tmp_path, 'protect', volume_id=vol.id)
    engine = engine_of(cloud, str(tmp_path))
    metas = [engine.get_checkpoint(OS_INFRA, cp).resource_section(vol.id).get_json('metadata')
             for cp in made_ids]
    try:
        assert [m['chain_length'] for m in metas] == [0, 1, 2, 0, 1]
        assert [m['is_incremental'] for m in metas] == [False, True, True, False, True]
        parents = [m['parent_backup_id'] for m in metas]
        backups = [m['backup_id'] for m in metas]
        assert parents == [None, backups[0], backups[1], None, backups[3]]
        assert all(conn.block_storage.get_backup(b).is_incremental == m['is_incremental']
                   for b, m in zip(backups, metas))

        facts = step(run_playbook, tmp_path, 'prune')
        pruned = facts['pruned']
        # the first chain expired whole and went in one run, its incrementals first
        assert pruned['deleted'] == [made_ids[2], made_ids[1], made_ids[0]], pruned
        assert pruned['not_deleted'] == [] and pruned['errors'] == []
        assert sorted(facts['left']) == sorted(made_ids[3:])
        assert [backup_exists(conn, b) for b in backups] == [False, False, False, True, True]

        admin = cloud.connect(cloud.admin)
        zone = BENCH if bench_running(admin) else ''
        facts = step(run_playbook, tmp_path, 'restore', checkpoint_id=made_ids[4],
                     zone=zone, volume_type=kind.name)
        assert facts['bad_zone']['failed'] and \
            "availability_zone 'karbor-no-such-zone' is not an available" in \
            facts['bad_zone']['msg'], facts['bad_zone']
        assert facts['bad_type']['failed'] and \
            "volume_type 'karbor-no-such-type' is not a volume type" in \
            facts['bad_type']['msg'], facts['bad_type']
        restored = facts['restored']
        assert restored['status'] == 'success', restored
        new_id = restored['new_resources'][vol.id]
        made['volumes'].append(new_id)
        new = conn.block_storage.get_volume(new_id)
        assert new.volume_type == kind.name and new.name == '%s@%s' % (made_ids[4], vol.id)
        if zone:
            assert new.availability_zone == BENCH
            assert admin.block_storage.get_volume(new_id).host.startswith('karbor-bench@')
        assert read_pattern(cloud, new_id, len(payload)) == payload
        # the refused restores made nothing: only the one restored volume has that name
        named = list(conn.block_storage.volumes(name=new.name))
        assert [v.id for v in named] == [new_id]
    finally:
        for checkpoint_id in reversed(made_ids):  # incrementals before their parents
            if engine.get_checkpoint(OS_INFRA, checkpoint_id).status == 'available':
                engine.delete_checkpoint(OS_INFRA, checkpoint_id)
