# -*- coding: utf-8 -*-
"""storage/object_copy.py on local banks: which objects make a checkpoint, what is sent
and skipped, check mode, a damaged upload; and the target_ connection options."""
from __future__ import annotations

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, InvalidInput)
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    openstack_argument_spec, prefixed_connection_params, prefixed_connection_spec)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    ChunkStore)
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
from ansible_collections.karbor.protection.plugins.module_utils.storage.object_copy import (
    checkpoint_objects, copy_objects)

CID = '11111111-1111-1111-1111-111111111111'


def source_bank(tmp_path) -> LocalBank:
    bank = LocalBank(str(tmp_path / 'source'))
    store = ChunkStore(bank)
    digests = [bank.content_digest(b'a' * 100), bank.content_digest(b'b' * 50)]
    store.add_refs('%s/img' % CID, 0, digests)
    store.store(b'a' * 100)
    store.store(b'b' * 50)
    bank.put('/checkpoints/%s/resource-data/img/metadata' % CID, {'chunks': digests})
    bank.put('/checkpoints/%s/index.json' % CID, {'id': CID})
    bank.put('/checkpoints/other/resource-data/x/metadata', {'other': True})
    return bank


def test_checkpoint_objects_refs_then_chunks_then_sections(tmp_path):
    bank = source_bank(tmp_path)
    keys = checkpoint_objects(bank, CID)
    assert keys[0].startswith('/chunk-refs/%s/' % CID)
    assert [k.split('/')[1] for k in keys] == ['chunk-refs', 'chunks', 'chunks', 'checkpoints']
    assert not any(k.endswith('index.json') or '/other/' in k for k in keys)


def test_copy_sends_what_is_missing_then_nothing(tmp_path):
    source, target = source_bank(tmp_path), LocalBank(str(tmp_path / 'target'))
    keys = checkpoint_objects(source, CID)
    target.put(keys[1], source.get(keys[1]))  # one chunk already there
    dry = copy_objects(source, target, keys, dry_run=True)
    assert (dry.objects_sent, dry.objects_skipped) == (3, 1)
    assert dry.to_send == sorted(k for k in keys if k != keys[1])
    assert not target.exists(keys[0])
    first = copy_objects(source, target, keys)
    assert first.to_dict()['objects_sent'] == 3 and first.bytes_skipped == 100
    for key in keys:
        assert target.get(key) == source.get(key)
    second = copy_objects(source, target, keys)
    assert (second.objects_sent, second.bytes_sent, second.objects_skipped) == (0, 0, 4)


def test_a_different_object_at_the_target_is_replaced(tmp_path):
    source, target = source_bank(tmp_path), LocalBank(str(tmp_path / 'target'))
    key = checkpoint_objects(source, CID)[-1]
    target.put(key, b'stale')
    assert copy_objects(source, target, [key]).objects_sent == 1
    assert target.get(key) == source.get(key)


def test_an_upload_the_target_records_wrongly_fails(tmp_path):
    source, target = source_bank(tmp_path), LocalBank(str(tmp_path / 'target'))
    key = checkpoint_objects(source, CID)[-1]
    original = target.put

    def damaging_put(key, value, exclusive=False, expire_after=None, digest=None):
        return original(key, value + b'x', exclusive, expire_after, digest)
    target.put = damaging_put
    with pytest.raises(BankCorrupted, match='copy is not complete'):
        copy_objects(source, target, [key])


def test_target_options_are_openstack_options_prefixed():
    spec = prefixed_connection_spec('target_')
    base = openstack_argument_spec()
    assert spec['target_auth']['no_log'] is True and spec['target_client_key']['no_log']
    assert spec['target_validate_certs']['aliases'] == ['target_verify']
    assert 'target_wait' not in spec and 'default' not in spec['target_interface']
    assert spec['target_interface']['choices'] == base['interface']['choices']


def test_target_params_need_their_own_credentials():
    params = {'cloud': 'a', 'region_name': 'R1', 'target_cloud': None, 'target_auth': None,
              'target_auth_type': None}
    with pytest.raises(InvalidInput, match='target_cloud or target_auth'):
        prefixed_connection_params(params, 'target_')
    params['target_cloud'] = 'b'
    target = prefixed_connection_params(params, 'target_')
    assert target['cloud'] == 'b' and target['region_name'] == 'R1' and target['auth'] is None
