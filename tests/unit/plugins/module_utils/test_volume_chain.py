# -*- coding: utf-8 -*-
"""Bounded incremental chains under backup_mode auto (pure logic): where a full
backup is made again, and the parent Cinder will pick."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.common.schema import validate_value
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume import (
    CinderVolumePlugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_chain import (
    BackupChoice, chain_length_of, choose_backup, cinder_parent)


def run(mode, count, every):
    """The chain positions of ``count`` backups in a row, each on the previous one."""
    lengths, previous = [], None
    for _index in range(count):
        choice = choose_backup(mode, previous, previous is not None, every)
        assert choice.incremental == (choice.chain_length != 0)
        lengths.append(choice.chain_length)
        previous = choice.chain_length
    return lengths


def test_every_nth_backup_since_the_last_full_is_full():
    assert run('auto', 7, 3) == [0, 1, 2, 0, 1, 2, 0]
    assert run('auto', 4, 1) == [0, 0, 0, 0]  # 1: always full
    assert run('auto', 9, 7) == [0, 1, 2, 3, 4, 5, 6, 0, 1]
    assert run('full', 3, 3) == [0, 0, 0]


def test_auto_without_a_usable_parent_or_a_known_position_is_full():
    assert choose_backup('auto', None, False, 5) == BackupChoice(
        False, 0, "no usable backup of this plan's previous checkpoint")
    unknown = choose_backup('auto', None, True, 5)
    assert not unknown.incremental and 'unknown' in unknown.reason


def test_incremental_mode_is_always_incremental():
    assert choose_backup('incremental', 6, True, 3) == BackupChoice(True, 7)
    assert choose_backup('incremental', None, True, 3) == BackupChoice(True, None)


@pytest.mark.parametrize('metadata, expected', [
    ({'chain_length': 4, 'is_incremental': True}, 4),
    ({'chain_length': 0, 'is_incremental': False}, 0),
    ({'is_incremental': False}, 0),  # a full recorded before positions were
    ({'is_incremental': True}, None),  # an incremental of then: unknown
    ({'is_incremental': True, 'chain_length': None}, None),
    ({'chain_length': True}, None), ({'chain_length': -1}, None), ({}, None)])
def test_chain_length_of_recorded_metadata(metadata, expected):
    assert chain_length_of(metadata) == expected


def backup(backup_id, status, stamp):
    return SimpleNamespace(id=backup_id, status=status, data_timestamp=stamp, created_at=stamp)


def test_cinder_parent_is_the_newest_available_backup_of_the_volume():
    backups = [backup('old', 'available', '2026-12-03T10:00:00.000000'),
               backup('other-plan', 'available', '2026-12-03T12:00:00.000000'),
               backup('running', 'creating', '2026-12-03T13:00:00.000000'),
               backup('mine', 'available', '2026-12-03T11:00:00.000000')]
    assert cinder_parent(backups) == 'other-plan'
    assert cinder_parent([b for b in backups if b.id != 'other-plan']) == 'mine'
    assert cinder_parent([backups[2]]) is None and cinder_parent([]) is None


@pytest.mark.parametrize('value, words', [(0, ['full_backup_every', 'minimum of 1']),
                                          ('7', ['full_backup_every', "'integer'"])])
def test_full_backup_every_is_a_whole_number_of_at_least_one(value, words):
    schema = CinderVolumePlugin().get_options_schema('OS::Cinder::Volume')
    validate_value(schema, {'backup_mode': 'auto', 'full_backup_every': 3}, 'parameters')
    with pytest.raises(InvalidInput) as err:
        validate_value(schema, {'full_backup_every': value}, 'parameters')
    assert all(w in err.value.msg for w in words), err.value.msg
