# -*- coding: utf-8 -*-
"""Verify level drill: its scratch names and parameters, the refusal of
types it cannot delete again, the comparison and the cleanup (fake plugins:
what each deletes or fails to), the image comparison against the saved
chunks, and a whole drill over the No-Op provider (its restore record goes)."""
from __future__ import annotations

import os
import types

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.engine import drill
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    NOOP_PROVIDER_ID)
from ansible_collections.karbor.protection.plugins.module_utils.resources.image import (
    GlanceImagePlugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources.image_chunks import (
    compare_with_chunks)
from ansible_collections.karbor.protection.plugins.module_utils.resources.network import (
    NeutronNetworkPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources.server import (
    NovaServerPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume import (
    CinderVolumePlugin)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    ChunkStore, tree_digest)
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.test_engine import (
    SERVER, VOLUME)
# (bank, checkpoint and engine are fixtures)
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.test_verify import (  # pylint: disable=unused-import
    CHECKPOINT_ID, IMAGE, bank, checkpoint, context, engine)  # noqa: F401

DRILL_ID = '99999999-aaaa-bbbb-cccc-000000000009'
NETWORK = Resource(R.NETWORK, '66666666-0000-0000-0000-000000000006', 'net')
PLUGINS = {R.SERVER: NovaServerPlugin(), R.VOLUME: CinderVolumePlugin(),
           R.IMAGE: GlanceImagePlugin(), R.NETWORK: NeutronNetworkPlugin()}


def provider_of(plugins):
    return types.SimpleNamespace(id='p', plugin_for=lambda rtype: plugins[rtype])


# -- names and parameters -----------------------------------------------------------------
def test_scratch_names_and_parameters():
    assert drill.scratch_name(DRILL_ID, VOLUME.id) == 'karbor-drill-99999999-22222222'
    assert drill.drill_name(DRILL_ID) == 'karbor-drill-' + DRILL_ID
    parameters = drill.drill_parameters(provider_of(PLUGINS), [SERVER, VOLUME, IMAGE],
                                        DRILL_ID)
    assert parameters == {
        SERVER.key: {'restore_name': 'karbor-drill-99999999-11111111',
                     'restore_floating_ips': False},  # a scratch copy takes no address
        VOLUME.key: {'restore_name': 'karbor-drill-99999999-22222222'},
        IMAGE.key: {'restore_name': 'karbor-drill-99999999-55555555'}}


def test_a_type_the_drill_cannot_delete_again_is_refused():
    drill.check_drillable(provider_of(PLUGINS), [SERVER, VOLUME, IMAGE])
    with pytest.raises(InvalidInput) as err:
        drill.check_drillable(provider_of(PLUGINS), [SERVER, NETWORK])
    assert 'OS::Neutron::Network' in err.value.msg and 'level data' in err.value.msg


def test_servers_are_deleted_first():
    assert drill.cleanup_order([VOLUME, IMAGE, SERVER]) == [SERVER, VOLUME, IMAGE]


# -- compare and clean up (fake plugins) ----------------------------------------------------
class FakePlugin:
    """Records what it was asked; ``differs`` and ``stays`` by new id."""

    drill_supported = True

    def __init__(self, calls, differs=None, stays=()):
        self.calls, self.differs, self.stays = calls, differs or {}, stays

    def compare_restored(self, ctx, new_id):
        self.calls.append(('compare', new_id))
        return self.differs.get(new_id, [])

    def drop_restored(self, ctx, new_id):
        self.calls.append(('drop', new_id))
        if new_id in self.stays:
            raise KarborError('Volume %s is error_deleting.' % new_id)


def fake_run(record, differs=None, stays=()):
    calls, deleted_notes, deleted_records = [], [], []
    plugin = FakePlugin(calls, differs, stays)
    provider = provider_of({R.SERVER: plugin, R.VOLUME: plugin, R.IMAGE: plugin,
                            R.PROJECT: plugin})
    checkpoint = types.SimpleNamespace(resource_section=lambda rid: types.SimpleNamespace(
        delete=lambda key: deleted_notes.append((rid, key))))
    engine = types.SimpleNamespace(restores=types.SimpleNamespace(
        delete=deleted_records.append))
    return calls, deleted_notes, deleted_records, provider, checkpoint, engine


def restore_record(**fields):
    record = {'id': 'r-1', 'status': R.RESTORE_SUCCESS, 'error': None,
              'resources_status': {res.key: R.RES_AVAILABLE for res in (SERVER, VOLUME, IMAGE)},
              'resources_reason': {},
              'new_resources': {SERVER.id: 'new-server', VOLUME.id: 'new-volume',
                                IMAGE.id: 'new-image'}}
    record.update(fields)
    return record


def test_a_clean_drill_compares_and_deletes_everything_servers_first():
    record = restore_record()
    calls, notes, records, provider, fake_cp, fake_engine = fake_run(record)
    resources = [VOLUME, IMAGE, SERVER]
    assert drill.compare(provider, resources, record, lambda res: None) == {}
    cleanup = drill.clean_up(fake_engine, provider, fake_cp, resources, record,
                             lambda res: None)
    assert [c for c in calls if c[0] == 'drop'] == [
        ('drop', 'new-server'), ('drop', 'new-volume'), ('drop', 'new-image')]
    assert cleanup == {'status': 'done', 'left': [], 'restore_record': 'deleted',
                       'deleted': ['OS::Nova::Server new-server',
                                   'OS::Cinder::Volume new-volume',
                                   'OS::Glance::Image new-image']}
    assert records == [record]  # the drill's restore record goes with the rest
    assert sorted(notes) == sorted((res.id, 'restore-r-1') for res in resources)


def test_a_difference_and_a_failed_restore_name_the_resource():
    record = restore_record(
        status=R.RESTORE_FAIL, resources_status={VOLUME.key: R.RES_ERROR,
                                                 IMAGE.key: R.RES_AVAILABLE},
        resources_reason={VOLUME.key: 'on_main: backup is error'},
        new_resources={IMAGE.id: 'new-image'})
    _calls, _notes, _records, provider, _cp, _engine = fake_run(
        record, differs={'new-image': ['size 1 bytes, saved 2']})
    failures = drill.compare(provider, [VOLUME, IMAGE], record, lambda res: None)
    assert failures == {
        VOLUME.key: ['drill: the restore of it failed (on_main: backup is error)'],
        IMAGE.key: ['drill: restored OS::Glance::Image new-image differs from the checkpoint: '
                    'size 1 bytes, saved 2']}


def test_what_stays_is_named_and_keeps_the_record():
    record = restore_record(new_resources={VOLUME.id: 'new-volume', IMAGE.id: 'new-image',
                                           'port-1': 'new-port'})
    _calls, _notes, records, provider, fake_cp, fake_engine = fake_run(
        record, stays=('new-volume',))
    cleanup = drill.clean_up(fake_engine, provider, fake_cp, [VOLUME, IMAGE], record,
                             lambda res: None)
    assert cleanup['status'] == 'failed' and cleanup['restore_record'] == 'kept'
    assert cleanup['deleted'] == ['OS::Glance::Image new-image']
    assert cleanup['left'] == [
        'OS::Cinder::Volume new-volume (restored from %s: Volume new-volume is '
        'error_deleting.)' % VOLUME.id,
        'new-port (made for port-1, of a type the drill cannot tell)']
    assert records == []


def test_a_resource_restored_onto_itself_is_never_deleted():
    record = restore_record(new_resources={VOLUME.id: VOLUME.id})
    calls, _notes, _records, provider, fake_cp, fake_engine = fake_run(record)
    assert drill.compare(provider, [VOLUME], record, lambda res: None) == {}
    cleanup = drill.clean_up(fake_engine, provider, fake_cp, [VOLUME], record,
                             lambda res: None)
    assert calls == [] and cleanup['status'] == 'done' and cleanup['deleted'] == []


# -- the image comparison ------------------------------------------------------------------
class Download:
    def __init__(self, data):
        self.data, self.closed = data, False

    def iter_content(self, size):
        return (self.data[i:i + size] for i in range(0, len(self.data), size))

    def close(self):
        self.closed = True


def image_meta(store, data, chunk):
    digests = [store.digest(data[i:i + chunk]) for i in range(0, len(data), chunk)]
    return {'state': 'available', 'chunks': digests, 'sha256_tree': tree_digest(digests),
            'size': len(data), 'chunk_size': chunk}


@pytest.mark.parametrize('served, expected', [
    (None, []),
    ('flip', ['bytes differ from the saved copy from chunk 1 (of 3) on']),
    ('short', ['size 2500 bytes, saved 2600', 'bytes differ from the saved copy from chunk 2 (of 3) on']),
])
def test_image_comparison_reads_the_restored_bytes_once(bank, monkeypatch, served, expected):
    store = ChunkStore(bank)
    data = os.urandom(2600)
    meta = image_meta(store, data, 1024)
    if served == 'flip':
        data = data[:1500] + bytes([data[1500] ^ 1]) + data[1501:]
    elif served == 'short':
        data = data[:2500]
    download = Download(data)
    monkeypatch.setattr(
        'ansible_collections.karbor.protection.plugins.module_utils.resources.image_chunks.'
        'open_image_data', lambda ctx, image_id: download)
    ctx = context(bank, IMAGE, None)
    problems = compare_with_chunks(ctx, store, 'new-image', meta)
    assert download.closed and ctx.progress.bytes_done == len(data)
    assert [p.split(':')[0] for p in problems] == expected


# -- a whole drill (No-Op provider: its restore makes nothing) --------------------------------
def test_noop_drill_restores_and_leaves_no_restore_record(engine, checkpoint):  # noqa: F811
    record = engine.verify(NOOP_PROVIDER_ID, checkpoint.id, 'drill')
    assert record['status'] == R.VERIFY_SUCCESS, record
    assert record['level'] == 'drill' and record['restore_duration'] >= 0
    assert record['cleanup'] == {'status': 'done', 'deleted': [], 'left': [],
                                 'restore_record': 'deleted'}
    assert record['restore_status'] == R.RESTORE_SUCCESS and record['drill_skipped'] is None
    assert engine.restores.list() == []  # the drill's restore record is gone
    assert [log['restore_id'] for log in engine.operation_logs.list(operation_type='restore')
            ] == [record['restore_id']]  # its log stays: history, not a resource
    assert engine.verifications.get(record['id'])['restore_id'] == record['restore_id']
    assert checkpoint.bank.list('/checkpoint-readers/') == []


def test_noop_drill_in_check_mode_restores_nothing(engine, checkpoint):  # noqa: F811
    record = engine.verify(NOOP_PROVIDER_ID, checkpoint.id, 'drill', dry_run=True)
    assert record['status'] == R.VERIFY_SUCCESS and 'id' not in record
    assert record['drill_skipped'].startswith('check mode') and record['cleanup'] is None
    assert engine.operation_logs.list(operation_type='restore') == []
    assert engine.restores.list() == []


# -- the plugins' comparisons (a fake cloud) ---------------------------------------------------
class FakeNova:
    """Cloud stand-in: one restored server, its attachments, a volume by id."""

    def __init__(self, server, attachments=0, volume_size=1):
        self.conn = types.SimpleNamespace(
            compute=types.SimpleNamespace(get_server=lambda sid: server,
                                          volume_attachments=lambda s: [object()] * attachments),
            block_storage=types.SimpleNamespace(get_volume=lambda vid: types.SimpleNamespace(
                id=vid, size=volume_size, status='available')))

    @staticmethod
    def call(what, func, *args, **kwargs):
        return func(*args, **kwargs)


def saved_server(bank):
    section = bank.section('/checkpoints/%s/resource-data/%s' % (CHECKPOINT_ID, SERVER.id))
    section.put('metadata', {'server_metadata': {'flavor': 'f-1', 'flavor_name': 'm1.tiny'},
                             'attach_metadata': {VOLUME.id: {'device': '/dev/vdb'}}})


@pytest.mark.parametrize('server, attachments, expected', [
    ({'name': 'karbor-drill-x', 'flavor': {'original_name': 'm1.tiny'}}, 1, []),
    ({'name': 'karbor-drill-x', 'flavor': {'id': 'f-1'}}, 1, []),
    ({'name': 'other', 'flavor': {'original_name': 'm1.big'}}, 0, [
        "name 'other', asked 'karbor-drill-x'", 'flavor m1.big, saved m1.tiny',
        '0 attached volume(s), saved 1']),
])
def test_server_comparison(bank, server, attachments, expected):
    saved_server(bank)
    ctx = context(bank, SERVER, None, FakeNova(types.SimpleNamespace(**server), attachments))
    ctx.parameters = {'restore_name': 'karbor-drill-x'}
    assert NovaServerPlugin().compare_restored(ctx, 'new-server') == expected


@pytest.mark.parametrize('size, expected', [(2, []), (3, ['size 3 GiB, saved 2 GiB'])])
def test_volume_comparison(bank, size, expected):
    ctx = context(bank, VOLUME, None, FakeNova(None, volume_size=size))
    ctx.section.put('metadata', {'backup_id': 'b-1', 'volume_size': 2})
    assert CinderVolumePlugin().compare_restored(ctx, 'new-volume') == expected
