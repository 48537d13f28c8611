# -*- coding: utf-8 -*-
"""Claims (named checkpoints, delete claims, fire times) on the real Swift.

Swift checks ``If-None-Match: *`` when a PUT arrives and commits it later, so
two simultaneous exclusive PUTs can both succeed; SwiftBank.claim must still
give exactly one winner. The first half of each test shows the race is real
on this cloud, so the second half cannot pass by luck.
"""
from __future__ import annotations

import threading

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import Conflict
from ansible_collections.karbor.protection.plugins.module_utils.storage.swift_bank import SwiftBank

ROUNDS = 40


@pytest.fixture
def bank(swift_container):
    container, factory = swift_container
    return SwiftBank(container, factory)


def contend(write, contenders: int) -> list[str]:
    """Run ``write(tag)`` in ``contenders`` threads released together; the tags that won."""
    barrier = threading.Barrier(contenders)
    won: list[str] = []

    def run(tag):
        barrier.wait()
        try:
            write(tag)
            won.append(tag)
        except Conflict:
            pass
    threads = [threading.Thread(target=run, args=('run-%d' % n,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


@pytest.mark.parametrize('contenders', [2, 3])
def test_one_claim_wins_where_exclusive_puts_both_succeed(bank, contenders):
    doubles = 0
    for round_ in range(ROUNDS):
        key = '/race/put-%d' % round_
        won = contend(lambda tag, key=key: bank.put(key, tag, exclusive=True), contenders)
        doubles += len(won) > 1
    assert doubles > 0, 'no two exclusive PUTs ever succeeded together: the race was not ' \
        'reproduced, so the claims below prove nothing'
    for round_ in range(ROUNDS):
        key = '/race/claim-%d' % round_
        won = contend(lambda tag, key=key: bank.claim(key, tag), contenders)
        assert len(won) == 1, 'round %d: winners %s' % (round_, won)
        assert bank.get_text(key) == won[0]  # the object holds the winner's value


def test_a_claim_on_an_existing_object_fails_and_leaves_it(bank):
    bank.put('/race/taken', 'first')
    with pytest.raises(Conflict):
        bank.claim('/race/taken', 'second')
    assert bank.get_text('/race/taken') == 'first'
    bank.claim('/race/fresh', 'mine')
    assert bank.get_text('/race/fresh') == 'mine'


def test_a_claim_whose_put_was_retried_after_landing_still_wins(bank, monkeypatch):
    """swiftclient retries a PUT whose answer was lost; the retry then meets the
    first attempt's object (412). That object carries this claim's token: won."""
    import swiftclient
    connection = bank._conn()  # pylint: disable=protected-access
    real_put = connection.put_object

    def put_then_lose_the_answer(*args, **kwargs):
        real_put(*args, **kwargs)
        raise swiftclient.ClientException('Precondition Failed', http_status=412)
    monkeypatch.setattr(connection, 'put_object', put_then_lose_the_answer)
    bank.claim('/race/retried', 'mine')
    assert bank.get_text('/race/retried') == 'mine'
    with pytest.raises(Conflict):  # someone else's claim is still refused
        bank.claim('/race/retried', 'other')
