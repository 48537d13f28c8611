# -*- coding: utf-8 -*-
"""The bank contract (tests/unit/plugins/module_utils/bank_contract.py) on the
real Swift of the test cloud: the same tests the local and encrypted banks
run as unit tests, against a fresh container that is removed afterwards."""
from __future__ import annotations

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.storage.swift_bank import SwiftBank
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.bank_contract import *  # noqa: F401,F403 pylint: disable=wildcard-import,unused-wildcard-import


@pytest.fixture
def swift(swift_container):
    container, factory = swift_container
    return SwiftBank(container, factory), factory, container


@pytest.fixture
def bank(swift):
    return swift[0]


@pytest.fixture
def tamper(swift):
    """Flip the last byte of the stored object, keeping its recorded checksum header."""
    _bank, factory, container = swift

    def change(key: str) -> None:
        headers, body = factory().get_object(container, key.lstrip('/'))
        body = body[:-1] + bytes((body[-1] ^ 0xff,))
        factory().put_object(container, key.lstrip('/'), body, headers={
            'X-Object-Meta-Sha256': headers['x-object-meta-sha256']})
    return change
