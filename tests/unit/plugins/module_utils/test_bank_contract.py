# -*- coding: utf-8 -*-
"""The bank contract (bank_contract.py) on the local bank and on the encrypted
bank over a local bank."""
from __future__ import annotations

import os

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.storage.encrypted_bank import (
    EncryptedBank)
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.bank_contract import *  # noqa: F401,F403 pylint: disable=wildcard-import,unused-wildcard-import

KEY = bytes(range(32))


@pytest.fixture(params=['local', 'encrypted'])
def bank(request, tmp_path):
    local = LocalBank(str(tmp_path / 'bank'))
    return local if request.param == 'local' else EncryptedBank(local, KEY, 'contract test')


@pytest.fixture
def tamper(tmp_path):
    """Flip the last stored byte, leaving LocalBank's header (checksum, length) as it was."""
    def change(key: str) -> None:
        path = str(tmp_path / 'bank') + key
        with open(path, 'r+b') as handle:
            handle.seek(-1, os.SEEK_END)
            last = handle.read(1)
            handle.seek(-1, os.SEEK_END)
            handle.write(bytes((last[0] ^ 0xff,)))
    return change
