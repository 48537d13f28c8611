# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a local catalog (engine/catalog_migration.py) between two real local banks."""

from __future__ import annotations

import os

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.engine import (
    catalog_migration as M)
from ansible_collections.karbor.protection.plugins.module_utils.engine.catalog_location import (
    CATALOG_PROBES)
from ansible_collections.karbor.protection.plugins.module_utils.storage.encrypted_bank import (
    EncryptionKeyError, open_bank)
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank

PROJECT = 'p1'
KEY = os.urandom(32)


def _source(tmp_path, key=None):
    bank = open_bank(LocalBank(str(tmp_path / 'state' / 'catalog')), key, 'the source',
                     probes=CATALOG_PROBES)
    bank.put('/plans/p1/plan-a', b'{"name": "a"}')
    bank.put('/triggers/p1/trig-a', b'{"name": "t"}')
    bank.put('/plans/p2/plan-b', b'{"name": "b"}')
    bank.put('/locks/plans/p1/abc', b'held')
    return bank


def test_copies_the_project_once_and_never_locks_or_other_projects(tmp_path):
    _source(tmp_path)
    source = M.open_source(str(tmp_path / 'state'), None)
    target = LocalBank(str(tmp_path / 'target'))
    first = M.migrate(source, target, PROJECT, dry_run=False)
    assert sorted(first['copied']) == ['/plans/p1/plan-a', '/triggers/p1/trig-a']
    assert first['other_projects'] == 1 and first['present'] == 0 and first['conflicts'] == []
    assert target.get('/plans/p1/plan-a') == b'{"name": "a"}'
    assert not target.exists('/locks/plans/p1/abc')
    assert not target.exists('/plans/p2/plan-b')
    again = M.migrate(source, target, PROJECT, dry_run=False)
    assert again['copied'] == [] and again['present'] == 2


def test_dry_run_writes_nothing(tmp_path):
    _source(tmp_path)
    target = LocalBank(str(tmp_path / 'target'))
    planned = M.migrate(M.open_source(str(tmp_path / 'state'), None), target, PROJECT, True)
    assert len(planned['copied']) == 2
    assert target.list('/') == []


def test_a_differing_record_is_a_conflict_left_alone(tmp_path):
    _source(tmp_path)
    target = LocalBank(str(tmp_path / 'target'))
    target.put('/plans/p1/plan-a', b'{"name": "changed"}')
    outcome = M.migrate(M.open_source(str(tmp_path / 'state'), None), target, PROJECT, False)
    assert outcome['conflicts'] == ['/plans/p1/plan-a']
    assert outcome['copied'] == ['/triggers/p1/trig-a']
    assert target.get('/plans/p1/plan-a') == b'{"name": "changed"}'


def test_an_encrypted_source_needs_its_key(tmp_path):
    _source(tmp_path, KEY)
    with pytest.raises(EncryptionKeyError):
        M.open_source(str(tmp_path / 'state'), None)
    source = M.open_source(str(tmp_path / 'state'), KEY)
    target = open_bank(LocalBank(str(tmp_path / 'target')), KEY, 'the target',
                       probes=CATALOG_PROBES)
    outcome = M.migrate(source, target, PROJECT, False)
    assert sorted(outcome['copied']) == ['/plans/p1/plan-a', '/triggers/p1/trig-a']
    assert target.get('/plans/p1/plan-a') == b'{"name": "a"}'
    raw = LocalBank(str(tmp_path / 'target')).get('/plans/p1/plan-a')
    assert b'"name"' not in raw  # encrypted at rest in the target


def test_no_local_catalog_says_where_it_looked(tmp_path):
    with pytest.raises(InvalidInput, match='source_state_dir'):
        M.open_source(str(tmp_path / 'nowhere'), None)
