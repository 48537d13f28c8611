# -*- coding: utf-8 -*-
"""The volume plugin's choices against a scripted Cinder: an incremental only on
this plan's own previous backup, and a restore into a zone / type that is
checked before anything is made and cleaned up when it fails."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume import (
    CinderProtect)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_restore import (
    CinderRestore)
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.fakes import Section


class Cinder:
    """Backups, volumes, zones and types as Cinder answers them."""

    def __init__(self, backups=(), restore_fails=False):
        self.backup_list = [SimpleNamespace(id=b, status='available', container=None,
                                            data_timestamp=t, created_at=t, size=1)
                            for b, t in backups]
        self.restore_fails = restore_fails
        self.volumes = {}
        self.calls = []

    def get_backup(self, backup_id):
        for backup in self.backup_list:
            if backup.id == backup_id:
                return backup
        raise NotFound('no backup %s' % backup_id)

    def backups(self, details=True, volume_id=None):
        return list(self.backup_list)

    def availability_zones(self):
        return [SimpleNamespace(name='nova', state={'available': True}),
                SimpleNamespace(name='down', state={'available': False})]

    def types(self):
        return [SimpleNamespace(id='t-1', name='ssd')]

    def create_volume(self, **attrs):
        self.calls.append(('create_volume', attrs))
        volume = SimpleNamespace(id='new-%d' % len(self.volumes), status='available',
                                 size=attrs['size'])
        self.volumes[volume.id] = volume
        return volume

    def get_volume(self, volume_id):
        if volume_id not in self.volumes:
            raise NotFound('no volume %s' % volume_id)
        return self.volumes[volume_id]

    def delete_volume(self, volume_id):
        self.calls.append(('delete_volume', volume_id))
        del self.volumes[volume_id]

    def restore_backup(self, backup_id, volume=None, name=None):
        self.calls.append(('restore_backup', backup_id, volume))
        if self.restore_fails:
            raise RuntimeError('restore refused')
        return SimpleNamespace(volume_id=volume)

    def update_volume(self, volume_id, **attrs):
        self.calls.append(('update_volume', volume_id, attrs))


def context(cinder, parameters, previous=None, metadata=None, elsewhere=False):
    cloud = CloudSession({})
    cloud._conn = SimpleNamespace(block_storage=cinder)  # pylint: disable=protected-access
    published = {}
    older = [SimpleNamespace(resource_section=lambda rid: Section(previous))] if previous else []
    return SimpleNamespace(
        cloud=cloud, parameters=parameters, timeout=5, resource=SimpleNamespace(id='vol-1'),
        checkpoint=SimpleNamespace(id='cp-1'), section=Section(metadata or {}),
        previous_checkpoints=lambda limit: older, check_lease=lambda: None,
        publish_new_resource=lambda original, new: published.update({original: new}),
        published=published, restore_elsewhere=elsewhere)


MINE = {'backup_id': 'mine', 'chain_length': 1, 'is_incremental': True}


def test_incremental_on_this_plans_previous_backup():
    cinder = Cinder([('old', '2026-12-01T10:00:00'), ('mine', '2026-12-02T10:00:00')])
    choice, parent = CinderProtect()._choose(context(cinder, {'full_backup_every': 3}, MINE),
                                             'auto')
    assert (choice.incremental, choice.chain_length, parent) == (True, 2, 'mine')
    choice, parent = CinderProtect()._choose(context(cinder, {'full_backup_every': 2}, MINE),
                                             'auto')
    assert (choice.incremental, choice.chain_length, parent) == (False, 0, None)


def test_full_when_cinder_would_chain_onto_another_plans_backup():
    cinder = Cinder([('mine', '2026-12-02T10:00:00'), ('other', '2026-12-02T11:00:00')])
    choice, parent = CinderProtect()._choose(context(cinder, {}, MINE), 'auto')
    assert not choice.incremental and parent is None and 'other' in choice.reason
    # backup_mode incremental stays incremental, recording the parent Cinder picks
    choice, parent = CinderProtect()._choose(context(cinder, {}, MINE), 'incremental')
    assert (choice.incremental, choice.chain_length, parent) == (True, None, 'other')


@pytest.mark.parametrize('parameters, message', [
    ({'availability_zone': 'down'}, "availability_zone 'down' is not an available volume "
                                    'availability zone of this cloud; available: nova.'),
    ({'volume_type': 'gold'}, "volume_type 'gold' is not a volume type of this cloud "
                              '(name or id); known: ssd.'),
    ({'volume_type': 'ssd', 'volume_id': 'vol-9'}, 'cannot: leave out one or the other')])
def test_bad_placement_is_refused_before_anything_is_made(parameters, message):
    cinder = Cinder()
    with pytest.raises(InvalidInput) as err:
        CinderRestore().precheck(context(cinder, parameters))
    assert message in err.value.msg and cinder.calls == []


def test_a_cinder_backup_is_not_restored_into_another_project():
    cinder = Cinder([('b-1', '2026-12-02T10:00:00')])
    ctx = context(cinder, {}, metadata={'backup_id': 'b-1', 'volume_size': 2}, elsewhere=True)
    with pytest.raises(InvalidInput) as err:
        CinderRestore().precheck(ctx)
    assert 'vol-1' in err.value.msg and 'backup_mode: bank' in err.value.msg
    assert cinder.calls == []
    CinderRestore().precheck(context(cinder, {}, metadata={'backup_id': 'b-1'}))  # at home


def test_restore_into_zone_and_type_makes_the_volume_first():
    cinder = Cinder([('b-1', '2026-12-02T10:00:00')])
    ctx = context(cinder, {'availability_zone': 'nova', 'volume_type': 't-1'},
                  metadata={'backup_id': 'b-1', 'volume_size': 2})
    operation = CinderRestore()
    operation.precheck(ctx)
    operation.on_main(ctx)
    assert cinder.calls[0] == ('create_volume', {'size': 2, 'name': 'cp-1@vol-1',
                                                 'availability_zone': 'nova',
                                                 'volume_type': 'ssd'})
    assert cinder.calls[1] == ('restore_backup', 'b-1', 'new-0')
    assert ctx.published == {'vol-1': 'new-0'}


def test_a_volume_made_for_a_failed_restore_is_deleted():
    cinder = Cinder([('b-1', '2026-12-02T10:00:00')], restore_fails=True)
    ctx = context(cinder, {'volume_type': 'ssd'}, metadata={'backup_id': 'b-1'})
    operation = CinderRestore()
    operation.precheck(ctx)
    with pytest.raises(KarborError, match='restore refused'):
        operation.on_main(ctx)
    assert [c[0] for c in cinder.calls] == ['create_volume', 'restore_backup', 'delete_volume']
    assert cinder.volumes == {} and ctx.published == {'vol-1': None}
