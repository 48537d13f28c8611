# -*- coding: utf-8 -*-
"""Checkpoint verification over a real LocalBank: the options, the chunk and
object checks, the volume and image plugins' verify operations (a fake
Cinder for the backup lookups) and the engine's run with its record."""
from __future__ import annotations

import os
import random
import types

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
    ProtectionEngine)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    NOOP_PROVIDER_ID)
from ansible_collections.karbor.protection.plugins.module_utils.engine.verify import (
    split_problems, verify_options)
from ansible_collections.karbor.protection.plugins.module_utils.resources.image import (
    GlanceVerify)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    OperationContext, Progress, VerifyOptions)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume import (
    CinderVerify)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    ChunkStore, chunk_key, owner_name, tree_digest)
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.test_engine import (
    SERVER, VOLUME, FakeCloud, FakeRegistry)

CHECKPOINT_ID = '44444444-0000-0000-0000-000000000004'
IMAGE = Resource(R.IMAGE, '55555555-0000-0000-0000-000000000005', 'img')


@pytest.fixture
def bank(tmp_path):
    return LocalBank(str(tmp_path / 'bank'))


def flip_last_byte(bank, key):
    """Damage an object in place, keeping its recorded checksum (bit rot)."""
    path = bank.root + key
    with open(path, 'r+b') as handle:
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 0x01]))


# -- options --------------------------------------------------------------------------
def test_pick_reads_nothing_at_bank_level_and_a_random_share_at_data_level():
    digests = ['%064x' % i for i in range(10)]
    assert VerifyOptions('bank').pick(digests) == []
    assert VerifyOptions('data').pick(digests + digests[:3]) == digests
    half = VerifyOptions('data', 50, random.Random(7)).pick(digests)
    assert len(half) == 5 and half == [d for d in digests if d in half]  # original order
    assert half == VerifyOptions('data', 50, random.Random(7)).pick(digests)
    assert len(VerifyOptions('data', 1).pick(digests[:3])) == 1  # rounded up, never none
    assert VerifyOptions('data', 30).pick([]) == []
    # runs with fresh randomness cover every chunk over time
    seen = set()
    for seed in range(40):
        seen.update(VerifyOptions('data', 20, random.Random(seed)).pick(digests))
    assert seen == set(digests)


@pytest.mark.parametrize('level, subset, message', [
    ('restore', None, "level 'restore' does not exist; use one of: bank, data, drill"),
    ('data', 0, 'from 1 to 100; got 0'),
    ('data', 101, 'from 1 to 100; got 101'),
    ('data', True, 'from 1 to 100; got True'),
])
def test_bad_options_are_refused(level, subset, message):
    with pytest.raises(InvalidInput) as err:
        verify_options(level, subset)
    assert message in err.value.msg


def test_default_subset_is_everything():
    assert verify_options('data', None).data_subset == 100


# -- storage checks ---------------------------------------------------------------------
def test_chunk_check_names_missing_and_damaged_chunks(bank):
    store = ChunkStore(bank, workers=2)
    blobs = [os.urandom(1000 + i) for i in range(4)]
    digests = [store.digest(b) for b in blobs]
    for blob in blobs:
        store.store(blob)
    assert store.check(digests, digests) == {}
    flip_last_byte(bank, chunk_key(digests[1]))
    bank.delete(chunk_key(digests[2]))
    # presence only: the damaged chunk is not seen, the missing one is
    assert store.check(digests) == {
        digests[2]: 'Chunk object %s is missing from the bank.' % chunk_key(digests[2])}
    read = []
    problems = store.check(digests, digests, read.append)
    assert sorted(problems) == sorted(digests[1:3])
    assert 'Bank object %s is corrupted' % chunk_key(digests[1]) in problems[digests[1]]
    assert sorted(read) == sorted([len(blobs[0]), len(blobs[3])])


def test_check_all_reads_every_object_and_reports_each_damaged_one(bank):
    for name in ('a', 'b', 'c'):
        bank.put('/cp/%s' % name, {'name': name})
    flip_last_byte(bank, '/cp/a')
    flip_last_byte(bank, '/cp/c')
    count, problems = bank.check_all('/cp/')
    assert count == 3 and sorted(problems) == ['/cp/a', '/cp/c']
    assert 'Bank object /cp/a is corrupted' in problems['/cp/a']


def test_split_problems_by_resource():
    checkpoint = types.SimpleNamespace(id=CHECKPOINT_ID)
    prefix = '/checkpoints/%s/resource-data/' % CHECKPOINT_ID
    by_resource, others = split_problems(checkpoint, {
        prefix + IMAGE.id + '/metadata': 'bad image', prefix + 'stray/metadata': 'stray',
        '/checkpoints/%s/other' % CHECKPOINT_ID: 'other'}, [IMAGE, VOLUME])
    assert by_resource == {IMAGE.id: ['bad image']} and others == ['other', 'stray']


# -- plugins' verify operations ---------------------------------------------------------------
def context(bank, res, options, cloud=None):
    checkpoint = types.SimpleNamespace(id=CHECKPOINT_ID, bank=bank, plan={})
    return OperationContext(
        operation='verify', resource=res, parameters={}, checkpoint=checkpoint,
        section=bank.section('/checkpoints/%s/resource-data/%s' % (CHECKPOINT_ID, res.id)),
        cloud=cloud, new_resources={}, progress=Progress(), verification=options)


def saved_image(bank, count=3):
    store = ChunkStore(bank, workers=2)
    blobs = [os.urandom(2048) for _i in range(count)]
    digests = [store.digest(b) for b in blobs]
    owner = owner_name(CHECKPOINT_ID, IMAGE.id)
    store.add_refs(owner, 0, digests)
    for blob in blobs:
        store.store(blob)
    bank.section('/checkpoints/%s/resource-data/%s' % (CHECKPOINT_ID, IMAGE.id)).put(
        'metadata', {'state': 'available', 'chunks': digests, 'chunk_owner': owner,
                     'sha256_tree': tree_digest(digests), 'size': 2048 * count})
    return digests


def test_image_verify_bank_level_checks_presence_data_level_reads(bank):
    digests = saved_image(bank)
    GlanceVerify().on_main(context(bank, IMAGE, VerifyOptions('bank')))
    ctx = context(bank, IMAGE, VerifyOptions('data'))
    GlanceVerify().on_main(ctx)
    assert ctx.progress.bytes_done == 3 * 2048
    flip_last_byte(bank, chunk_key(digests[0]))
    GlanceVerify().on_main(context(bank, IMAGE, VerifyOptions('bank')))  # presence only
    with pytest.raises(KarborError) as err:
        GlanceVerify().on_main(context(bank, IMAGE, VerifyOptions('data')))
    assert '1 of 3 chunk(s) failed' in err.value.msg
    assert chunk_key(digests[0]) in err.value.msg
    bank.delete(chunk_key(digests[2]))
    with pytest.raises(KarborError) as err:
        GlanceVerify().on_main(context(bank, IMAGE, VerifyOptions('bank')))
    assert 'Chunk object %s is missing' % chunk_key(digests[2]) in err.value.msg


def test_image_verify_finds_unreferenced_chunks_and_a_damaged_list(bank):
    digests = saved_image(bank, 2)
    bank.delete_prefix('/chunk-refs/')
    with pytest.raises(KarborError) as err:
        GlanceVerify().on_main(context(bank, IMAGE, VerifyOptions('bank')))
    assert 'Chunk %s is not referenced' % digests[0] in err.value.msg
    section = bank.section('/checkpoints/%s/resource-data/%s' % (CHECKPOINT_ID, IMAGE.id))
    meta = section.get_json('metadata')
    section.put('metadata', dict(meta, chunks=digests[::-1]))
    with pytest.raises(KarborError) as err:
        GlanceVerify().on_main(context(bank, IMAGE, VerifyOptions('bank')))
    assert 'chunk list of image %s' % IMAGE.id in err.value.msg


class FakeCinder:
    """Cloud stand-in: backups by id (status), NotFound otherwise."""

    def __init__(self, backups):
        self.backups = backups
        self.conn = types.SimpleNamespace(block_storage=types.SimpleNamespace(
            get_backup=self.get_backup))

    def get_backup(self, backup_id):
        if backup_id not in self.backups:
            raise NotFound('Backup %s not found' % backup_id)
        return types.SimpleNamespace(id=backup_id, status=self.backups[backup_id],
                                     fail_reason=None)

    @staticmethod
    def call(what, func, *args, **kwargs):
        return func(*args, **kwargs)


@pytest.mark.parametrize('backups, message', [
    ({'b-1': 'available'}, None),
    ({}, 'Cinder backup b-1 of volume %s does not exist.' % VOLUME.id),
    ({'b-1': 'error'}, 'Cinder backup b-1 of volume %s is error, not available.' % VOLUME.id),
])
def test_volume_verify_names_the_backup(bank, backups, message):
    ctx = context(bank, VOLUME, VerifyOptions('bank'), FakeCinder(backups))
    ctx.section.put('metadata', {'backup_id': 'b-1', 'volume_id': VOLUME.id})
    if message is None:
        CinderVerify().on_main(ctx)
        return
    with pytest.raises(KarborError) as err:
        CinderVerify().on_main(ctx)
    assert err.value.msg == message


def test_volume_verify_without_a_record(bank):
    with pytest.raises(KarborError) as err:
        CinderVerify().on_main(context(bank, VOLUME, VerifyOptions('bank'), FakeCinder({})))
    assert 'holds no record of the backup of volume %s' % VOLUME.id in err.value.msg


# -- the engine's run --------------------------------------------------------------------------
@pytest.fixture
def engine(tmp_path):
    eng = ProtectionEngine(state_dir=str(tmp_path), cloud=FakeCloud())
    eng._protectables = FakeRegistry()
    return eng


@pytest.fixture
def checkpoint(engine):
    plan = engine.plans.create({'name': 'p', 'provider_id': NOOP_PROVIDER_ID,
                                'resources': [SERVER.to_dict()]})
    return engine.protect(plan)


def test_clean_checkpoint_verifies_and_is_recorded(engine, checkpoint):
    first = engine.verify(NOOP_PROVIDER_ID, checkpoint.id)
    assert first['status'] == R.VERIFY_SUCCESS and first['level'] == 'bank'
    assert first['resources_status'] == {SERVER.key: 'ok', VOLUME.key: 'ok'}
    assert first['resources_reason'] == {} and first['problems'] == []
    assert first['data_subset'] is None and first['duration'] >= 0
    assert first['objects_read'] >= 5  # index, and a status and a metadata per resource
    second = engine.verify(NOOP_PROVIDER_ID, checkpoint.id, 'data', 40)
    assert second['data_subset'] == 40 and second['progress']['resources_done'] == 2
    listed = engine.verifications.list(checkpoint_id=checkpoint.id)
    assert [v['id'] for v in listed] == [second['id'], first['id']]  # newest first
    assert engine.verifications.get(first['id'])['status'] == R.VERIFY_SUCCESS
    logs = engine.operation_logs.list(operation_type='verify')
    assert [log['status'] for log in logs] == ['success', 'success']
    # the reader markers and leases are gone
    assert engine.active_readers(checkpoint.bank, checkpoint.id) == []
    assert checkpoint.bank.list('/checkpoint-readers/') == []


def test_damaged_and_missing_objects_are_named_per_resource(engine, checkpoint):
    section = '/checkpoints/%s/resource-data/' % checkpoint.id
    flip_last_byte(checkpoint.bank, section + SERVER.id + '/metadata')
    checkpoint.bank.delete(section + VOLUME.id + '/metadata')
    result = engine.verify(NOOP_PROVIDER_ID, checkpoint.id)
    assert result['status'] == R.VERIFY_FAIL
    assert result['resources_status'] == {SERVER.key: 'failed', VOLUME.key: 'failed'}
    image_reason = result['resources_reason'][SERVER.key]
    assert image_reason.count('Bank object %s%s/metadata is corrupted' % (section, SERVER.id)) == 1
    assert '%s%s/metadata' % (section, VOLUME.id) in result['resources_reason'][VOLUME.key]
    assert engine.operation_logs.list(operation_type='verify')[0]['status'] == 'fail'


def test_dry_run_checks_and_writes_nothing(engine, checkpoint):
    before = sorted(checkpoint.bank.iter_all('/'))
    result = engine.verify(NOOP_PROVIDER_ID, checkpoint.id, 'data', dry_run=True)
    assert result['status'] == R.VERIFY_SUCCESS and 'id' not in result
    assert engine.verifications.list() == []
    assert engine.operation_logs.list(operation_type='verify') == []
    assert sorted(checkpoint.bank.iter_all('/')) == before


def test_bad_requests_change_nothing(engine, checkpoint):
    with pytest.raises(NotFound):
        engine.verify(NOOP_PROVIDER_ID, '77777777-0000-0000-0000-000000000007')
    with pytest.raises(InvalidInput):
        engine.verify(NOOP_PROVIDER_ID, checkpoint.id, 'restore')
    with pytest.raises(InvalidInput):
        engine.verify(NOOP_PROVIDER_ID, checkpoint.id, 'data', 0)
    checkpoint.set_status(R.CP_ERROR, 'broken')
    with pytest.raises(Conflict):
        engine.verify(NOOP_PROVIDER_ID, checkpoint.id)
    assert engine.verifications.list() == []
    assert engine.operation_logs.list(operation_type='verify') == []
