# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bank mutex behind cross-machine name locks (storage/bank_mutex.py)."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    ResourceTimeout)
from ansible_collections.karbor.protection.plugins.module_utils.storage import bank_mutex as M
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank

KEY = '/locks/plans/p/abc'


@pytest.fixture
def bank(tmp_path):
    return LocalBank(str(tmp_path / 'bank'))


def test_one_holder_at_a_time_and_nothing_left(bank):
    inside, overlaps = [], []

    def run():
        with M.BankMutex(bank, KEY, 'the plan').held(timeout=10):
            if inside:
                overlaps.append(1)
            inside.append(1)
            time.sleep(0.05)
            inside.pop()
    threads = [threading.Thread(target=run) for _index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert bank.list('/locks/') == []


def test_a_live_holder_makes_a_waiter_time_out_with_a_clear_message(bank, monkeypatch):
    monkeypatch.setattr(M, 'POLL_INTERVAL', 0.01)
    holder = M.BankMutex(bank, KEY, 'the plan named nightly')
    holder.acquire(1)
    with pytest.raises(ResourceTimeout, match='the plan named nightly'):
        M.BankMutex(bank, KEY, 'the plan named nightly').acquire(0.1)
    holder.release()
    M.BankMutex(bank, KEY, 'x').acquire(0.1)  # free again


def test_a_dead_holder_is_taken_over_after_its_lifetime(bank, monkeypatch):
    monkeypatch.setattr(M, 'POLL_INTERVAL', 0.01)
    now = [1000.0]
    dead = M.BankMutex(bank, KEY, 'the plan', lifetime=60, clock=lambda: now[0])
    dead.acquire(1)  # and never releases: its run was killed
    waiter = M.BankMutex(bank, KEY, 'the plan', lifetime=60, clock=lambda: now[0])
    with pytest.raises(ResourceTimeout):
        waiter.acquire(0.05)
    now[0] += 61
    waiter.acquire(0.5)
    assert bank.get_json(KEY)['token'] == waiter.token
    dead.release()  # a late release of the dead holder does not free the new holder's mutex
    assert bank.get_json(KEY)['token'] == waiter.token
    waiter.release()
    assert bank.list('/locks/') == []  # no takeover marker left either
