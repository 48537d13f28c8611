# -*- coding: utf-8 -*-
"""Bank encryption over a real LocalBank: round trips, tamper and swap
detection, wrong and missing keys, mixed banks, keyed chunk ids, key loading,
and the engine refusing a wrong key before it writes anything."""
from __future__ import annotations

import base64
import hashlib
import os
import shutil

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.storage import encrypted_bank as C
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    CHUNKS_PREFIX, ChunkStore, chunk_key)
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, InvalidInput, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import NOOP_PROVIDER_ID

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / 'bank')


@pytest.fixture
def raw(root):
    return LocalBank(root)


@pytest.fixture
def bank(raw):
    return C.open_bank(raw, KEY, 'provider test')


def stored_bytes(root: str, key: str) -> bytes:
    with open(root + key, 'rb') as handle:
        handle.readline()  # LocalBank's header line (checksum, length)
        return handle.read()


def test_round_trip_of_bytes_text_and_json(bank, raw, root):
    payload = os.urandom(100000)
    assert bank.put('/chunks/aa/one', payload) == hashlib.sha256(
        stored_bytes(root, '/chunks/aa/one')).hexdigest()  # sha256 of the ciphertext
    assert bank.get('/chunks/aa/one') == payload
    bank.put('/checkpoints/c1/index.json', {'status': 'available', 'secret': 'plan-name'})
    expected = {'status': 'available', 'secret': 'plan-name'}
    assert bank.get_json('/checkpoints/c1/index.json') == expected
    bank.put('/x/empty', b'')
    assert bank.get('/x/empty') == b''
    stored = stored_bytes(root, '/checkpoints/c1/index.json')
    assert stored.startswith(C.MAGIC) and b'plan-name' not in stored and b'status' not in stored
    assert payload not in stored_bytes(root, '/chunks/aa/one')
    # the backend alone still verifies its checksum (no key needed)
    assert raw.get('/chunks/aa/one') == stored_bytes(root, '/chunks/aa/one')
    # listing, existence and deletion are by key
    assert bank.list('/checkpoints/') == ['/checkpoints/c1/index.json']
    assert bank.exists('/chunks/aa/one') and not bank.exists('/chunks/aa/two')
    assert bank.delete('/chunks/aa/one') and not bank.exists('/chunks/aa/one')
    assert bank.describe()['encryption'] == 'AES-256-GCM'
    assert bank.describe()['key_id'] == C.key_id_of(KEY) and bank.inner.root == raw.root


def test_each_write_uses_a_fresh_nonce(bank, root):
    bank.put('/a', b'same')
    first = stored_bytes(root, '/a')
    bank.put('/a', b'same')
    second = stored_bytes(root, '/a')
    assert first != second
    assert first[:C.HEADER_SIZE - C.NONCE_SIZE] == second[:C.HEADER_SIZE - C.NONCE_SIZE]


def test_tampered_ciphertext_fails_authentication(bank, raw, root):
    bank.put('/checkpoints/c1/index.json', {'status': 'available'})
    blob = bytearray(stored_bytes(root, '/checkpoints/c1/index.json'))
    blob[C.HEADER_SIZE + 2] ^= 0x01
    raw.put('/checkpoints/c1/index.json', bytes(blob))  # valid checksum, altered content
    with pytest.raises(BankCorrupted, match='fails authentication'):
        bank.get('/checkpoints/c1/index.json')


def test_an_object_copied_to_another_key_fails(bank, raw, root):
    bank.put('/checkpoints/c1/resource-data/r/status', 'available')
    bank.put('/checkpoints/c2/resource-data/r/status', 'error')
    # swap the two objects, checksums and all, as someone with bank access could
    shutil.copyfile(root + '/checkpoints/c1/resource-data/r/status',
                    root + '/checkpoints/c2/resource-data/r/status')
    assert raw.get('/checkpoints/c2/resource-data/r/status')  # the backend sees no damage
    with pytest.raises(BankCorrupted, match='copied from another object'):
        bank.get('/checkpoints/c2/resource-data/r/status')
    assert bank.get('/checkpoints/c1/resource-data/r/status') == b'available'


def test_plain_object_in_an_encrypted_bank_is_refused(bank, raw):
    raw.put('/checkpoints/c1/index.json', {'status': 'available'})
    with pytest.raises(BankCorrupted, match='not encrypted although the bank is'):
        bank.get_json('/checkpoints/c1/index.json')


def test_wrong_key_is_named_not_reported_as_damage(bank, raw):
    bank.put('/checkpoints/c1/index.json', {'status': 'available'})
    other = C.EncryptedBank(raw, OTHER, 'provider test')  # bypassing the marker check
    with pytest.raises(C.EncryptionKeyError) as info:
        other.get('/checkpoints/c1/index.json')
    assert C.key_id_of(KEY) in info.value.msg and C.key_id_of(OTHER) in info.value.msg
    assert 'provider test' in info.value.msg


def test_open_bank_checks_the_marker(raw):
    C.open_bank(raw, KEY, 'p').put('/checkpoints/c1/index.json', {'a': 1})
    marker = raw.get_json(C.MARKER_KEY)
    assert marker['key_id'] == C.key_id_of(KEY) and marker['cipher'] == 'AES-256-GCM'
    with pytest.raises(C.EncryptionKeyError, match='encrypted with key id %s; the key given '
                       'has id %s' % (C.key_id_of(KEY), C.key_id_of(OTHER))):
        C.open_bank(raw, OTHER, 'p')
    with pytest.raises(C.EncryptionKeyError, match='no key was given'):
        C.open_bank(raw, None, 'p')
    assert C.open_bank(raw, KEY, 'p').get_json('/checkpoints/c1/index.json') == {'a': 1}


def test_lost_marker_is_recovered_from_the_objects(raw):
    C.open_bank(raw, KEY, 'p').put('/checkpoints/c1/index.json', {'a': 1})
    raw.delete(C.MARKER_KEY)
    with pytest.raises(C.EncryptionKeyError, match='key id %s' % C.key_id_of(KEY)):
        C.open_bank(raw, OTHER, 'p')
    assert not raw.exists(C.MARKER_KEY)
    C.open_bank(raw, KEY, 'p')
    assert raw.get_json(C.MARKER_KEY)['key_id'] == C.key_id_of(KEY)


def test_key_is_not_turned_on_for_a_bank_with_plain_checkpoints(raw):
    raw.put('/checkpoints/c1/index.json', {'a': 1})
    with pytest.raises(C.EncryptionKeyError, match='already holds unencrypted checkpoints'):
        C.open_bank(raw, KEY, 'p')
    assert not raw.exists(C.MARKER_KEY)
    assert C.open_bank(raw, None, 'p') is raw  # still usable without a key


def test_chunk_ids_are_keyed_hmacs(raw, tmp_path):
    data = os.urandom(70000)
    first = ChunkStore(C.open_bank(raw, KEY, 'p'))
    digest = first.digest(data)
    assert digest != hashlib.sha256(data).hexdigest() and len(digest) == 64
    other_bank = C.EncryptedBank(LocalBank(str(tmp_path / 'other')), OTHER, 'q')
    assert ChunkStore(other_bank).digest(data) != digest
    assert first.store(data) == len(data)
    assert first.store(data) == 0  # still deduplicated
    assert raw.list(CHUNKS_PREFIX) == [chunk_key(digest)]
    assert first.get(digest) == data
    assert not raw.exists(chunk_key(hashlib.sha256(data).hexdigest()))
    # a plain bank keeps sha256 names
    assert ChunkStore(LocalBank(str(tmp_path / 'plain'))).digest(data) == \
        hashlib.sha256(data).hexdigest()


def test_key_loading(tmp_path):
    key = os.urandom(32)
    b64 = tmp_path / 'b64'
    b64.write_text(base64.b64encode(key).decode() + '\n')
    raw = tmp_path / 'raw'
    raw.write_bytes(key)
    hexa = tmp_path / 'hex'
    hexa.write_text(key.hex())
    for path in (b64, raw, hexa):
        assert C.load_key(str(path), None) == key
    assert C.load_key(None, base64.b64encode(key).decode()) == key
    assert C.load_key(None, base64.urlsafe_b64encode(key).decode()) == key
    assert C.load_key(None, None) is None
    short = tmp_path / 'short'
    short.write_text(base64.b64encode(os.urandom(16)).decode())
    with pytest.raises(InvalidInput, match='found 16 bytes.*openssl rand -base64 32'):
        C.load_key(str(short), None)
    with pytest.raises(InvalidInput, match='not a|does not hold'):
        C.load_key(None, 'x' * 32)  # a 32-character password is not a key
    with pytest.raises(InvalidInput, match='empty'):
        C.load_key(None, '  ')
    with pytest.raises(InvalidInput, match='cannot be read'):
        C.load_key(str(tmp_path / 'missing'), None)
    with pytest.raises(InvalidInput, match='not both'):
        C.load_key(str(b64), base64.b64encode(key).decode())


def test_engine_refuses_a_wrong_key_before_writing(tmp_path):
    state = str(tmp_path / 'state')
    engine = ProtectionEngine(state_dir=state, encryption_key=KEY)
    provider = engine.provider(NOOP_PROVIDER_ID)
    bank = engine.bank(provider)
    assert isinstance(bank, C.EncryptedBank) and engine.bank(provider) is bank
    bank.put('/checkpoints/c1/index.json', {'status': 'available'})
    files = sorted(os.path.join(d, f) for d, _s, fs in os.walk(os.path.join(state, 'bank'))
                   for f in fs)
    for key in (OTHER, None):
        other = ProtectionEngine(state_dir=state, encryption_key=key)
        with pytest.raises(KarborError, match='key id %s' % C.key_id_of(KEY)):
            other.checkpoints(other.provider(NOOP_PROVIDER_ID))
    assert sorted(os.path.join(d, f) for d, _s, fs in os.walk(os.path.join(state, 'bank'))
                  for f in fs) == files


def test_checkpoint_names_are_not_guessable_from_object_names(bank, raw):
    from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
        CheckpointCollection)
    plan = {'id': 'plan-1', 'name': 'p', 'resources': []}
    encrypted = CheckpointCollection(bank, NOOP_PROVIDER_ID)
    cp = encrypted.create(plan, 'project-a', 'owner', {'name': 'nightly'})
    names = raw.list('/indices/by-name/plan-1/project-a/')
    plain = hashlib.sha256(b'nightly').hexdigest()
    assert len(names) == 1 and plain not in names[0]
    assert encrypted.find_by_name('plan-1', 'project-a', 'nightly').id == cp.id
