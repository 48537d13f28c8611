# -*- coding: utf-8 -*-
"""backup_mode bank's pure logic: which path each operation takes (a protect by
the plan's mode, the others by the mode the checkpoint recorded), the
temporary objects it names and deletes (image before its source), and a
restore onto an existing volume refused before anything is made."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.common.schema import validate_value
from ansible_collections.karbor.protection.plugins.module_utils.resources import volume_bank
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume import (
    CinderDelete, CinderProtect, CinderRestore, CinderVerify, CinderVolumePlugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_bank import (
    BankVolumeDelete, BankVolumeProtect, BankVolumeRestore, BankVolumeVerify, drop_temporaries,
    is_bank_copy, temporary_name)


class Section:
    def __init__(self, metadata=None):
        self.metadata = metadata

    def get_json(self, key):
        if self.metadata is None:
            raise NotFound('no %s' % key)
        return self.metadata


def context(parameters=None, metadata=None, block_storage=None):
    cloud = CloudSession({})
    cloud._conn = SimpleNamespace(block_storage=block_storage)  # pylint: disable=protected-access
    return SimpleNamespace(cloud=cloud, parameters=parameters or {}, timeout=5,
                           resource=SimpleNamespace(id='vol-1'),
                           checkpoint=SimpleNamespace(id='cp-1'), section=Section(metadata),
                           check_lease=lambda: None)


@pytest.mark.parametrize('mode, chosen', [('bank', BankVolumeProtect), ('full', CinderProtect),
                                          ('auto', CinderProtect), (None, CinderProtect)])
def test_protect_follows_the_plan(mode, chosen):
    operation = CinderVolumePlugin().operation_classes['protect']()
    # (the metadata of some other mode must not matter to a protect)
    picked = operation._op(context({'backup_mode': mode} if mode else {},
                                   {'backup_mode': 'full'}))
    assert picked.__class__ is chosen


@pytest.mark.parametrize('kind, cinder, bank', [
    ('restore', CinderRestore, BankVolumeRestore), ('delete', CinderDelete, BankVolumeDelete),
    ('verify', CinderVerify, BankVolumeVerify)])
def test_the_others_follow_the_checkpoint(kind, cinder, bank):
    classes = CinderVolumePlugin().operation_classes
    # the plan says bank now, but the checkpoint was made by a Cinder backup: and the reverse
    made_by_cinder = context({'backup_mode': 'bank'}, {'backup_mode': 'full', 'backup_id': 'b'})
    assert classes[kind]()._op(made_by_cinder).__class__ is cinder
    assert classes[kind]()._op(context({}, {'backup_mode': 'bank'})).__class__ is bank
    assert classes[kind]()._op(context({}, None)).__class__ is cinder  # nothing recorded


def test_modes_and_names():
    assert is_bank_copy({'backup_mode': 'bank'}) and not is_bank_copy({'backup_mode': 'full'})
    assert not is_bank_copy({})
    assert temporary_name('cp-1', 'vol-1') == 'karbor-bank-cp-1-vol-1'
    schema = CinderVolumePlugin().get_options_schema('OS::Cinder::Volume')
    validate_value(schema, {'backup_mode': 'bank', 'force': True}, 'parameters')
    with pytest.raises(InvalidInput):
        validate_value(schema, {'backup_mode': 'banks'}, 'parameters')


def test_saved_info_of_a_bank_copy():
    info = CinderVolumePlugin().get_saved_info({
        'backup_mode': 'bank', 'volume_id': 'vol-1', 'state': 'available',
        'data_size': 1024 ** 3, 'chunks': ['a' * 64, 'b' * 64], 'backup_id': None})
    assert info == {'backup_mode': 'bank', 'volume_id': 'vol-1', 'status': 'available',
                    'data_size': 1024 ** 3, 'chunks_num': 2}


def test_restore_onto_an_existing_volume_is_refused():
    with pytest.raises(InvalidInput) as err:
        BankVolumeRestore().precheck(context({'volume_id': 'other'}, {'backup_mode': 'bank'}))
    assert 'leave out volume_id' in err.value.msg


class Cinder:
    def __init__(self):
        self.vols = {'tmp-vol': SimpleNamespace(id='tmp-vol', status='available')}
        self.snaps = {'tmp-snap': SimpleNamespace(id='tmp-snap', status='available')}
        self.volumes_by_name, self.snapshots_by_name = [], []
        self.calls = []

    def get_volume(self, volume_id):
        if volume_id not in self.vols:
            raise NotFound(volume_id)
        return self.vols[volume_id]

    def delete_volume(self, volume_id):
        self.calls.append(('delete_volume', volume_id))
        del self.vols[volume_id]

    def get_snapshot(self, snapshot_id):
        if snapshot_id not in self.snaps:
            raise NotFound(snapshot_id)
        return self.snaps[snapshot_id]

    def delete_snapshot(self, snapshot_id):
        self.calls.append(('delete_snapshot', snapshot_id))
        del self.snaps[snapshot_id]

    def volumes(self, details=False, name=None):
        return [v for v in self.volumes_by_name if v.name == name]

    def snapshots(self, details=False, name=None):
        return [v for v in self.snapshots_by_name if v.name == name]


def test_temporaries_are_deleted_image_first_and_forgotten(monkeypatch):
    cinder = Cinder()
    monkeypatch.setattr(volume_bank, 'delete_image',
                        lambda ctx, image_id: cinder.calls.append(('delete_image', image_id)))
    meta = {'temporary': {'image_id': 'tmp-img', 'volume_id': 'tmp-vol',
                          'snapshot_id': 'tmp-snap'}}
    drop_temporaries(context(block_storage=cinder), meta)
    assert cinder.calls == [('delete_image', 'tmp-img'), ('delete_volume', 'tmp-vol'),
                            ('delete_snapshot', 'tmp-snap')]
    assert meta['temporary'] == {}


def test_unrecorded_temporaries_are_found_by_their_name(monkeypatch):
    """A run killed inside a create call never learnt the id: the one name finds it."""
    cinder = Cinder()
    name = temporary_name('cp-1', 'vol-1')
    cinder.volumes_by_name = [SimpleNamespace(id='tmp-vol', name=name)]
    cinder.snapshots_by_name = [SimpleNamespace(id='tmp-snap', name=name)]
    monkeypatch.setattr(volume_bank, 'images_named', lambda ctx, wanted: ['found-1'])
    monkeypatch.setattr(volume_bank, 'delete_image',
                        lambda ctx, image_id: cinder.calls.append(('delete_image', image_id)))
    meta = {'temporary': {'name': name}}
    drop_temporaries(context(block_storage=cinder), meta)
    assert cinder.calls == [('delete_image', 'found-1'), ('delete_volume', 'tmp-vol'),
                            ('delete_snapshot', 'tmp-snap')]
    assert meta['temporary'] == {}


def test_a_temporary_that_will_not_go_stays_recorded(monkeypatch):
    cinder = Cinder()

    def refuse(ctx, image_id):
        raise KarborError('Glance is down')
    monkeypatch.setattr(volume_bank, 'delete_image', refuse)
    meta = {'temporary': {'image_id': 'tmp-img', 'volume_id': 'tmp-vol'}}
    with pytest.raises(KarborError):
        drop_temporaries(context(block_storage=cinder), meta)
    assert meta['temporary'] == {'image_id': 'tmp-img', 'volume_id': 'tmp-vol'}
    assert cinder.calls == []  # the image's source is kept while the image may still read it


def test_a_failed_upload_is_reported_not_waited_out(monkeypatch):
    """Cinder puts the volume back from uploading when it gives up; the image stays queued."""
    cinder = Cinder()
    cinder.vols['tmp-vol'].status = 'available'
    monkeypatch.setattr(volume_bank, 'get_image',
                        lambda ctx, image_id: SimpleNamespace(id=image_id, status='queued'))
    with pytest.raises(KarborError) as err:
        volume_bank.wait_upload(context(block_storage=cinder), 'tmp-vol', 'tmp-img', 60)
    assert 'Cinder stopped uploading volume tmp-vol' in err.value.msg
    assert "cinder-volume's log" in err.value.msg


def test_the_upload_is_done_once_the_volume_is_back(monkeypatch):
    cinder = Cinder()
    states = iter(['uploading', 'available'])
    real = cinder.get_volume

    def get_volume(volume_id):
        volume = real(volume_id)
        volume.status = next(states, 'available')
        return volume
    cinder.get_volume = get_volume
    monkeypatch.setattr('time.sleep', lambda _seconds: None)
    monkeypatch.setattr(volume_bank, 'get_image',
                        lambda ctx, image_id: SimpleNamespace(id=image_id, status='active'))
    image = volume_bank.wait_upload(context(block_storage=cinder), 'tmp-vol', 'img', 60)
    assert image.id == 'img'
