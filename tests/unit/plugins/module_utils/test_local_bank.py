# -*- coding: utf-8 -*-
from __future__ import annotations

import os
import threading

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, Conflict, InvalidInput, NotFound, BankUnreachable)
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank


@pytest.fixture
def bank(tmp_path):
    return LocalBank(str(tmp_path / 'bank'))


def test_checksum_mismatch_is_detected(bank):
    bank.put('/obj', b'hello world')
    path = os.path.join(bank.root, 'obj')
    with open(path, 'rb') as handle:
        raw = handle.read()
    with open(path, 'wb') as handle:
        handle.write(raw.replace(b'hello', b'jello'))
    with pytest.raises(BankCorrupted) as err:
        bank.get('/obj')
    assert 'sha256' in err.value.msg and '/obj' in err.value.msg


def test_truncation_and_missing_header_are_detected(bank):
    bank.put('/obj', b'x' * 100)
    path = os.path.join(bank.root, 'obj')
    with open(path, 'r+b') as handle:
        handle.truncate(60)
    with pytest.raises(BankCorrupted):
        bank.get('/obj')
    with open(path, 'wb') as handle:
        handle.write(b'no header at all')
    with pytest.raises(BankCorrupted):
        bank.get('/obj')


def test_exclusive_create_has_exactly_one_winner_under_contention(bank):
    winners = []
    barrier = threading.Barrier(8)

    def attempt(i):
        barrier.wait()
        try:
            bank.put('/race', str(i), exclusive=True)
            winners.append(i)
        except Conflict:
            pass

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert bank.get_text('/race') == str(winners[0])


def test_overwrite_is_atomic_readers_see_old_or_new(bank):
    old, new = b'A' * 200000, b'B' * 300000
    bank.put('/big', old)
    stop = threading.Event()
    seen = set()

    def reader():
        while not stop.is_set():
            seen.add(bank.get('/big')[:1])

    thread = threading.Thread(target=reader)
    thread.start()
    for _round in range(20):
        bank.put('/big', new)
        bank.put('/big', old)
    stop.set()
    thread.join()
    assert seen <= {b'A', b'B'}


def test_no_temp_files_are_left_and_failed_write_leaves_nothing(bank, monkeypatch):
    bank.put('/x', b'1')
    assert os.listdir(os.path.join(bank.root, '.tmp')) == []

    def broken_replace(src, dst):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'replace', broken_replace)
    with pytest.raises(Exception) as err:
        bank.put('/y', b'2')
    assert 'full' in str(err.value)
    monkeypatch.undo()
    assert not bank.exists('/y')
    assert os.listdir(os.path.join(bank.root, '.tmp')) == []


def test_delete_removes_empty_folders(bank):
    bank.put('/a/b/c/d', 'x')
    assert bank.delete('/a/b/c/d') is True
    assert bank.delete('/a/b/c/d') is False
    assert not os.path.exists(os.path.join(bank.root, 'a'))
    with pytest.raises(NotFound):
        bank.get('/a/b/c/d')


def test_unusable_folder_is_unreachable(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    with pytest.raises(BankUnreachable):
        LocalBank(str(blocker / 'bank'))


def test_lease_lifecycle(bank):
    now = [1000.0]
    lease = Lease(bank, expire_window=60, renew_window=20, validity_window=10,
                  clock=lambda: now[0])
    lease.renew()
    assert Lease.is_alive(bank, lease.owner_id, now=1000.0)
    assert not Lease.is_alive(bank, lease.owner_id, now=1061.0)
    now[0] = 1055.0
    with pytest.raises(Exception):
        lease.check_valid()
    lease.release()
    assert not Lease.is_alive(bank, lease.owner_id, now=1000.0)
    assert not Lease.is_alive(bank, None)


def test_inconsistent_lease_windows_are_rejected(bank):
    with pytest.raises(InvalidInput):
        Lease(bank, expire_window=10, renew_window=20, validity_window=5)
