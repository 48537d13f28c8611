# -*- coding: utf-8 -*-
"""What every bank promises (the Bank interface), written once.

A test module runs these against its bank by importing them (``from ...
bank_contract import *``) and defining two fixtures: ``bank``, an empty
bank, and ``tamper``, a function that changes the stored bytes of a key
while leaving the checksum recorded for it. The local and encrypted banks
run them as unit tests, the Swift bank on the test cloud.
"""
from __future__ import annotations

import hashlib
import threading
import time

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, Conflict, InvalidInput, NotFound)

INDEX = ['/idx/p/2024-01-01/0001@a', '/idx/p/2024-01-02/0002@b', '/idx/p/2024-01-03/0003@c']


def contend(attempt, contenders: int = 6) -> list[int]:
    """Run ``attempt(n)`` in ``contenders`` threads released together; the n that did not
    meet Conflict."""
    barrier = threading.Barrier(contenders)
    won: list[int] = []

    def run(number: int) -> None:
        barrier.wait()
        try:
            attempt(number)
            won.append(number)
        except Conflict:
            pass
    threads = [threading.Thread(target=run, args=(n,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_round_trip_of_bytes_text_and_json(bank):
    checksum = bank.put('/a/b', b'\x00\x01binary')
    assert len(checksum) == 64 and set(checksum) <= set('0123456789abcdef')
    bank.put('/a/c', 'text')
    bank.put('/a/d', {'k': [1, 2]})
    bank.put('/a/e', b'')
    assert bank.get('/a/b') == b'\x00\x01binary'
    assert bank.get_text('/a/c') == 'text'
    assert bank.get_json('/a/d') == {'k': [1, 2]}
    assert bank.get('/a/e') == b''
    bank.put('/a/c', 'replaced')
    assert bank.get_text('/a/c') == 'replaced'
    assert bank.exists('/a/b') and bank.exists('a/b')


def test_every_read_verifies_the_checksum(bank, tamper):
    bank.put('/obj', b'hello world' * 10)
    tamper('/obj')
    with pytest.raises(BankCorrupted) as err:
        bank.get('/obj')
    assert '/obj' in err.value.msg


def test_a_missing_object_is_not_found(bank):
    with pytest.raises(NotFound):
        bank.get('/nothing/here')
    assert not bank.exists('/nothing/here')
    assert bank.delete('/nothing/here') is False
    assert bank.list('/nothing/') == []


def test_exclusive_put_keeps_the_first(bank):
    bank.put('/claim', 'first', exclusive=True)
    with pytest.raises(Conflict):
        bank.put('/claim', 'second', exclusive=True)
    assert bank.get_text('/claim') == 'first'


def test_one_claim_wins_among_concurrent_callers(bank):
    for round_ in range(3):
        key = '/race/claim-%d' % round_
        won = contend(lambda n, key=key: bank.claim(key, 'run-%d' % n))
        assert len(won) == 1, 'round %d: winners %s' % (round_, won)
        assert bank.get_text(key) == 'run-%d' % won[0]


def test_a_claim_on_an_existing_object_fails(bank):
    bank.put('/taken', 'first')
    with pytest.raises(Conflict):
        bank.claim('/taken', 'second')
    assert bank.get_text('/taken') == 'first'
    assert len(bank.claim('/fresh', 'mine')) == 64
    assert bank.get_text('/fresh') == 'mine'


def test_list_by_prefix_marker_limit_and_reverse(bank):
    for key in (INDEX[1], INDEX[0], INDEX[2], '/idx/q/0009@z', '/other/x'):
        bank.put(key, 'v')
    assert bank.list('/idx/p/') == INDEX
    assert bank.list('idx/p/') == INDEX
    assert bank.list('/idx/p/', reverse=True, limit=2) == [INDEX[2], INDEX[1]]
    assert bank.list('/idx/p/', reverse=True, marker=INDEX[1]) == [INDEX[0]]
    assert bank.list('/idx/p/', marker=INDEX[0], limit=1) == [INDEX[1]]
    assert bank.list('/idx/p/', limit=0) == []
    assert bank.list('/idx/', limit=10) == INDEX + ['/idx/q/0009@z']
    assert bank.list('/idx/p/2024-01-0') == INDEX
    assert bank.list('/') == INDEX + ['/idx/q/0009@z', '/other/x']


def test_iter_all_fetches_every_page(bank):
    keys = ['/paged/%02d' % n for n in range(7)]
    for key in keys:
        bank.put(key, key)
    assert list(bank.iter_all('/paged/', page=3)) == keys
    assert list(bank.iter_all('/paged/', page=7)) == keys
    assert list(bank.iter_all('/paged/', reverse=True, page=2)) == keys[::-1]


def test_delete_and_delete_prefix(bank):
    bank.put('/a/b/c/d', 'x')
    assert bank.delete('/a/b/c/d') is True
    assert bank.delete('/a/b/c/d') is False
    with pytest.raises(NotFound):
        bank.get('/a/b/c/d')
    for n in range(5):
        bank.put('/gone/%d' % n, 'x')
    bank.put('/kept', 'x')
    assert bank.delete_prefix('/gone/') == 5
    assert bank.list('/') == ['/kept']


def test_expire_after_as_declared(bank):
    bank.put('/lease', 'held', expire_after=1)
    if not bank.supports_expiry:
        time.sleep(1.5)
        assert bank.get_text('/lease') == 'held'  # readers check the times they record
        return
    assert bank.get_text('/lease') == 'held'
    deadline = time.monotonic() + 10
    while bank.exists('/lease') and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not bank.exists('/lease')
    with pytest.raises(NotFound):
        bank.get('/lease')


def test_sections(bank):
    section = bank.section('/checkpoints/cp1')
    section.put('metadata', {'a': 1})
    section.put('/data/part', b'bytes')
    assert section.claim('owner', 'me')
    with pytest.raises(Conflict):
        section.put('owner', 'other', exclusive=True)
    assert bank.get_json('/checkpoints/cp1/metadata') == {'a': 1}
    assert section.get('data/part') == b'bytes' and section.get_text('owner') == 'me'
    assert section.get_json('metadata') == {'a': 1} and section.exists('metadata')
    assert section.list() == ['data/part', 'metadata', 'owner']
    assert section.list('data/') == ['data/part']
    nested = section.section('data')
    assert nested.get('part') == b'bytes' and nested.list() == ['part']
    assert section.delete('metadata') and not section.exists('metadata')
    bank.put('/checkpoints/cp2/metadata', 'other')
    assert section.delete_all() == 2
    assert bank.list('/checkpoints/') == ['/checkpoints/cp2/metadata']


def test_content_digest(bank):
    one, two = b'chunk one' * 100, b'chunk two' * 100
    digest = bank.content_digest(one)
    assert len(digest) == 64 and set(digest) <= set('0123456789abcdef')
    assert digest == bank.content_digest(one) != bank.content_digest(two)
    plain = hashlib.sha256(one).hexdigest()
    if 'encryption' in bank.describe():
        assert digest != plain  # names must not reveal the content's sha256
    else:
        assert digest == plain


def test_put_accepts_the_content_digest(bank):
    data = b'content-addressed' * 1000
    digest = bank.content_digest(data)
    checksum = bank.put('/chunks/%s/%s' % (digest[:2], digest), data, exclusive=True,
                        digest=digest)
    assert bank.get('/chunks/%s/%s' % (digest[:2], digest)) == data  # verified on read
    if 'encryption' not in bank.describe():
        assert checksum == digest


def test_describe_and_reset(bank):
    facts = bank.describe()
    assert facts['type'] == bank.kind and bank.kind != 'abstract'
    bank.put('/before', 'x')
    bank.reset()
    assert bank.get_text('/before') == 'x'
    bank.put('/after', 'y')
    assert bank.list('/') == ['/after', '/before']


@pytest.mark.parametrize('key', ['', '/', 'a/../b', '/a/./b', '/a//', '/a b', '/.tmp/x', '/a/'])
def test_bad_keys_are_rejected(bank, key):
    with pytest.raises(InvalidInput):
        bank.put(key, 'x')
