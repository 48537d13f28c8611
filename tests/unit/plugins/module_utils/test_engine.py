# -*- coding: utf-8 -*-
"""Engine logic over the real local bank, with a fake protectable registry
standing in for the cloud (pure-logic tests; the cloud is covered by the
integration suite)."""
from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
from ansible_collections.karbor.protection.plugins.module_utils.engine.restore import (
    wait_for_delete_decision)
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, Conflict, InvalidInput, NotFound, PluginNotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine.restores import (
    drop_temporary)
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import lease_key
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    NOOP_PROVIDER_ID, OS_INFRA_FS_PROVIDER_ID)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource

SERVER = Resource(R.SERVER, '11111111-0000-0000-0000-000000000001', 'web')
VOLUME = Resource(R.VOLUME, '22222222-0000-0000-0000-000000000002', 'data')
SHARE = Resource(R.SHARE, '33333333-0000-0000-0000-000000000003', 'nfs')


class FakeCloud:
    """A configured cloud without an object store: the catalog stays in state_dir."""
    project_id = 'project-a'
    project_name = 'a'

    def reset(self):
        pass

    def configured(self):
        return True

    def has_service(self, service_type):
        return False


class FakeRegistry:
    known = {r.id: r for r in (SERVER, VOLUME, SHARE)}

    def show_instance(self, rtype, rid):
        res = self.known.get(rid)
        if res is None or res.type != rtype:
            raise NotFound('%s %s not found' % (rtype, rid))
        return res

    def get_dependents(self, res):
        return [VOLUME] if res == SERVER else []

    metadata = {VOLUME.id: {'backup': 'daily'}}

    def types(self):
        return sorted({SERVER.type, VOLUME.type, SHARE.type})

    def list_instances(self, rtype):
        return [r for r in self.known.values() if r.type == rtype]

    def usable_instances(self, rtype, ids):
        return {r.id for r in self.list_instances(rtype)} & set(ids)

    def describe_instances(self, types):
        return [{'id': r.id, 'type': r.type, 'name': r.name, 'status': 'available',
                 'metadata': dict(self.metadata.get(r.id, {})), 'tags': []}
                for r in self.known.values() if r.type in types]


@pytest.fixture
def engine(tmp_path):
    eng = ProtectionEngine(state_dir=str(tmp_path), cloud=FakeCloud())
    eng._protectables = FakeRegistry()
    return eng


def make_plan(engine, provider=NOOP_PROVIDER_ID, resources=None, name='p'):
    return engine.plans.create({'name': name, 'provider_id': provider,
                               'resources': resources or [SERVER.to_dict()]})


def test_protect_noop_plan_end_to_end(engine):
    plan = make_plan(engine)
    assert [r['name'] for r in plan['resources']] == ['web']
    cp = engine.protect(plan, {'name': 'first'})
    assert cp.status == R.CP_AVAILABLE
    assert cp.data['resources_status'] == {SERVER.key: 'available', VOLUME.key: 'available'}
    bank = cp.bank
    assert bank.get_text('/checkpoints/%s/resource-data/%s/status' % (cp.id, VOLUME.id)) == \
        'available'
    # the lease is released when the run ends
    assert not bank.exists(lease_key(cp.data['owner_id']))
    logs = engine.catalog.operation_logs.list('project-a')
    assert logs[0]['status'] == 'available' and logs[0]['checkpoint_id'] == cp.id
    restore = engine.restore(NOOP_PROVIDER_ID, cp.id)
    assert restore['status'] == 'success'
    assert restore['resources_status'] == {SERVER.key: 'available', VOLUME.key: 'available'}
    assert restore['new_resources'] == {SERVER.id: SERVER.id, VOLUME.id: VOLUME.id}
    deleted = engine.delete_checkpoint(NOOP_PROVIDER_ID, cp.id)
    assert deleted.status == R.CP_DELETED
    assert bank.list('/checkpoints/%s/resource-data/' % cp.id) == []
    assert bank.list('/indices/') == []
    # the tombstone keeps answering, deleting again changes nothing
    assert engine.get_checkpoint(NOOP_PROVIDER_ID, cp.id).status == R.CP_DELETED


def test_named_checkpoint_is_found_not_duplicated(engine):
    plan = make_plan(engine)
    cp = engine.protect(plan, {'name': 'nightly'})
    assert engine.find_named_checkpoint(plan, 'nightly').id == cp.id
    with pytest.raises(Conflict):
        engine.protect(plan, {'name': 'nightly'})
    assert len(engine.list_checkpoints(NOOP_PROVIDER_ID, plan_id=plan['id'])) == 1


def test_bad_plans_change_nothing(engine, tmp_path):
    with pytest.raises(NotFound):
        make_plan(engine, resources=[{'id': 'nope', 'type': R.VOLUME}])
    with pytest.raises(PluginNotFound):
        make_plan(engine, provider=OS_INFRA_FS_PROVIDER_ID, resources=[SHARE.to_dict()])
    with pytest.raises(NotFound):
        make_plan(engine, provider='00000000-0000-0000-0000-000000000000')
    with pytest.raises(InvalidInput):
        engine.plans.create({'name': 'x', 'provider_id': NOOP_PROVIDER_ID,
                            'resources': [VOLUME.to_dict()],
                             'parameters': {R.VOLUME: {'unknown': 1}}})
    assert engine.catalog.plans.list('project-a') == []


def test_listing_is_newest_first_with_marker_and_dates(engine, monkeypatch):
    plan = make_plan(engine)
    ids = []
    start = datetime.datetime(2026, 3, 1, 12, tzinfo=timeutil.UTC)
    for i in range(6):
        monkeypatch.setenv('KARBOR_FAKE_NOW', (start + datetime.timedelta(days=i)).isoformat())
        ids.append(engine.protect(plan).id)
    monkeypatch.delenv('KARBOR_FAKE_NOW')
    newest_first = list(reversed(ids))
    listed = [c.id for c in engine.list_checkpoints(NOOP_PROVIDER_ID, plan_id=plan['id'])]
    assert listed == newest_first
    page1 = engine.list_checkpoints(NOOP_PROVIDER_ID, plan_id=plan['id'], limit=2)
    page2 = engine.list_checkpoints(NOOP_PROVIDER_ID, plan_id=plan['id'], limit=2,
                                    marker=page1[-1].id)
    assert [c.id for c in page1 + page2] == newest_first[:4]
    window = engine.list_checkpoints(NOOP_PROVIDER_ID, plan_id=plan['id'],
                                     start_date=datetime.date(2026, 3, 2),
                                     end_date=datetime.date(2026, 3, 4))
    assert [c.id for c in window] == [ids[3], ids[2], ids[1]]
    by_provider = engine.list_checkpoints(NOOP_PROVIDER_ID, start_date=datetime.date(2026, 3, 5))
    assert [c.id for c in by_provider] == [ids[5], ids[4]]


def test_zombie_checkpoint_is_reaped_and_deletable(engine):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    # simulate a run that died while protecting: status protecting, owner lease gone
    cp.data['status'] = R.CP_PROTECTING
    cp.data['owner_id'] = 'dead-owner'
    cp.commit()
    # young, without a lease yet: its lease may be on its way (written beside index.json)
    assert engine.get_checkpoint(NOOP_PROVIDER_ID, cp.id).status == R.CP_PROTECTING
    cp.data['created_at'] = timeutil.isoformat(timeutil.now() - datetime.timedelta(minutes=3))
    cp.commit()
    with pytest.raises(Conflict):
        # a live lease protects it from deletion
        cp.bank.put(lease_key('dead-owner'), {'expires_at': timeutil.wall_clock() + 60})
        engine.delete_checkpoint(NOOP_PROVIDER_ID, cp.id)
    cp.bank.put(lease_key('dead-owner'), {'expires_at': timeutil.wall_clock() - 1})
    reaped = engine.get_checkpoint(NOOP_PROVIDER_ID, cp.id)
    assert reaped.status == R.CP_ERROR and 'lease expired' in reaped.data['error']
    assert engine.delete_checkpoint(NOOP_PROVIDER_ID, cp.id).status == R.CP_DELETED


def test_corrupted_checkpoint_is_not_restored(engine):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    path = os.path.join(cp.bank.root, 'checkpoints', cp.id, 'resource-data', VOLUME.id,
                        'metadata')
    with open(path, 'rb') as handle:
        raw = handle.read()
    with open(path, 'wb') as handle:
        handle.write(raw[:-3] + b'XYZ')
    with pytest.raises(BankCorrupted):
        engine.restore(NOOP_PROVIDER_ID, cp.id)
    assert engine.catalog.restores.list('project-a') == []


def test_restore_rejects_unknown_parameters_and_unavailable_checkpoints(engine):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    with pytest.raises(InvalidInput):
        engine.restore(NOOP_PROVIDER_ID, cp.id, {R.VOLUME: {'bogus': True}})
    with pytest.raises(InvalidInput):
        engine.restore(NOOP_PROVIDER_ID, 'not-a-uuid')
    with pytest.raises(NotFound):
        engine.restore(NOOP_PROVIDER_ID, '9d1c9a44-0000-4000-8000-000000000000')
    cp.set_status(R.CP_ERROR, 'broken')
    with pytest.raises(Conflict):
        engine.restore(NOOP_PROVIDER_ID, cp.id)


def test_checkpoints_are_scoped_by_project(engine, tmp_path):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    other = ProtectionEngine(state_dir=str(tmp_path), cloud=FakeCloud())
    other.cloud.project_id = 'project-b'
    other._protectables = FakeRegistry()
    with pytest.raises(NotFound):
        other.get_checkpoint(NOOP_PROVIDER_ID, cp.id)
    assert other.list_checkpoints(NOOP_PROVIDER_ID) == []
    with pytest.raises(NotFound):
        other.plans.get(plan['id'])


def test_dead_restore_is_reaped_with_what_it_created(engine):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    record = engine.restore(NOOP_PROVIDER_ID, cp.id)
    # a run that died mid-restore: in progress, a resource already made, owner lease gone
    record.update({'status': R.RESTORE_IN_PROGRESS, 'owner_id': 'dead-owner',
                   'new_resources': {VOLUME.id: 'new-volume'},
                   'resources_status': {VOLUME.key: R.RES_AVAILABLE,
                                        SERVER.key: R.RES_RESTORING}})
    engine.catalog.restores.save(record)
    cp.bank.put(lease_key('dead-owner'), {'expires_at': timeutil.wall_clock() + 60})
    assert engine.restores.get(record['id'])['status'] == R.RESTORE_IN_PROGRESS  # still alive
    cp.bank.put(lease_key('dead-owner'), {'expires_at': timeutil.wall_clock() - 1})
    reaped = engine.restores.list(status=R.RESTORE_FAIL)
    assert [r['id'] for r in reaped] == [record['id']]
    assert 'new-volume' in reaped[0]['error']
    assert reaped[0]['resources_status'][SERVER.key] == R.RES_ERROR
    assert engine.restores.list(status=R.RESTORE_IN_PROGRESS) == []


def test_a_dead_restore_s_temporary_image_is_deleted_when_it_is_reaped(engine, monkeypatch):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    dropped = []
    for index, (target, kind) in enumerate(((None, 'image'), (None, 'thing'),
                                            ({'project_id': 'b'}, 'image'))):
        record = engine.restore(NOOP_PROVIDER_ID, cp.id)
        record.update({'status': R.RESTORE_IN_PROGRESS, 'owner_id': 'dead-%d' % index,
                       'restore_target': target,
                       'temporary': {'img-%d' % index: {'type': kind, 'name': 'tmp'}}})
        engine.catalog.restores.save(record)
    monkeypatch.setattr(engine.restores, '_drop_temporary', lambda kind, object_id: (
        dropped.append((kind, object_id)) if kind == 'image' else drop_temporary(
            None, kind, object_id)))
    reaped = {r['owner_id']: r for r in engine.restores.list(status=R.RESTORE_FAIL)}
    assert dropped == [('image', 'img-0')]  # not the one made in another project
    assert reaped['dead-0']['temporary'] == {} and 'could not' not in reaped['dead-0']['error']
    assert 'thing img-1 (tmp)' in reaped['dead-1']['error']
    assert 'image img-2 (tmp)' in reaped['dead-2']['error']
    assert engine.restores.get(reaped['dead-0']['id'])['error'] == reaped['dead-0']['error']


def test_restore_records_new_resources_as_they_are_made(engine):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    seen = []
    real_save = engine.catalog.restores.save

    def save(record):
        seen.append(dict(record['new_resources']))
        return real_save(record)
    engine.catalog.restores.save = save
    engine.restore(NOOP_PROVIDER_ID, cp.id)
    # each new resource is saved when it is published, not only at the end
    assert any(len(snapshot) == 1 for snapshot in seen)
    assert seen[-1] == {SERVER.id: SERVER.id, VOLUME.id: VOLUME.id}


def test_delete_that_died_after_the_tombstone_is_finished_by_the_next(engine, monkeypatch):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    collection = engine.checkpoints(engine.provider(NOOP_PROVIDER_ID))
    monkeypatch.setattr(collection, 'remove_indices', lambda checkpoint: None)
    from ansible_collections.karbor.protection.plugins.module_utils.engine.claims import DELETE_CLAIM
    cp.bank.put(DELETE_CLAIM % cp.id, 'dead-deleter')  # its claim, its lease gone
    collection.mark_deleted(cp)  # as if killed at delete.index
    assert cp.bank.list('/indices/by-plan/') != []
    assert engine.delete_checkpoint(NOOP_PROVIDER_ID, cp.id).status == R.CP_DELETED
    assert cp.bank.list('/indices/') == []
    assert not cp.bank.exists(DELETE_CLAIM % cp.id)


def test_index_is_written_once_per_run_not_per_resource(engine, monkeypatch):
    plan = make_plan(engine)
    writes = []
    from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
    real_put = LocalBank.put

    def put(self, key, value, *args, **kwargs):
        writes.append(key)
        return real_put(self, key, value, *args, **kwargs)
    monkeypatch.setattr(LocalBank, 'put', put)
    cp = engine.protect(plan)
    index_writes = [k for k in writes if k == '/checkpoints/%s/index.json' % cp.id]
    # created with the graph in it, then the final status: two resources add none
    assert len(index_writes) == 2
    assert cp.data['resources_status'] == {SERVER.key: 'available', VOLUME.key: 'available'}
    stored = cp.bank.get_json('/checkpoints/%s/index.json' % cp.id)
    assert stored['status'] == R.CP_AVAILABLE and stored['resource_graph']


def test_resource_query_is_resolved_at_each_checkpoint_and_recorded(engine, monkeypatch):
    query = "[?type=='%s' && metadata.backup=='daily']" % R.VOLUME
    plan = engine.plans.create({'name': 'q', 'provider_id': NOOP_PROVIDER_ID,
                               'resource_query': query})
    assert plan['resources'] == [] and plan['resource_query'] == query
    first = engine.protect(plan)
    assert first.plan['resources'] == [{'id': VOLUME.id, 'type': R.VOLUME, 'name': 'data'}]
    assert first.plan['resource_query'] == query
    assert list(first.data['resources_status']) == [VOLUME.key]
    # the label moves to the server: the next checkpoint follows it
    monkeypatch.setattr(FakeRegistry, 'metadata', {})
    with pytest.raises(InvalidInput, match='matches no resource'):
        engine.protect(plan)
    assert len(engine.list_checkpoints(NOOP_PROVIDER_ID, plan_id=plan['id'])) == 1
    plan = engine.plans.update(plan, {'resource_query': "[?type=='%s']" % R.SERVER})
    second = engine.protect(plan)
    assert sorted(second.data['resources_status']) == sorted([SERVER.key, VOLUME.key])


def test_bad_resource_query_changes_nothing(engine):
    with pytest.raises(InvalidInput, match='JMESPath'):
        engine.plans.create({'name': 'bad', 'provider_id': NOOP_PROVIDER_ID,
                            'resource_query': '[?type=='})
    with pytest.raises(InvalidInput, match='resource_query'):
        engine.plans.create({'name': 'none', 'provider_id': NOOP_PROVIDER_ID})
    assert engine.catalog.plans.list('project-a') == []


def test_one_delete_at_a_time_and_a_dead_claim_is_taken_over(engine):
    from ansible_collections.karbor.protection.plugins.module_utils.engine.claims import DELETE_CLAIM
    plan = make_plan(engine)
    cp = engine.protect(plan)
    bank = cp.bank
    bank.put(lease_key('other-run'), {'expires_at': timeutil.wall_clock() + 60})
    bank.put(DELETE_CLAIM % cp.id, 'other-run')
    with pytest.raises(Conflict, match='being deleted by another run'):
        engine.delete_checkpoint(NOOP_PROVIDER_ID, cp.id)
    assert engine.get_checkpoint(NOOP_PROVIDER_ID, cp.id).status == R.CP_AVAILABLE
    bank.put(lease_key('other-run'), {'expires_at': timeutil.wall_clock() - 1})
    assert engine.delete_checkpoint(NOOP_PROVIDER_ID, cp.id).status == R.CP_DELETED
    assert not bank.exists(DELETE_CLAIM % cp.id)


def test_delete_steps_back_when_a_restore_marked_itself_in_between(engine, monkeypatch):
    from ansible_collections.karbor.protection.plugins.module_utils.engine.claims import READERS_PREFIX
    plan = make_plan(engine)
    cp = engine.protect(plan)
    bank = cp.bank
    real_check = engine.check_deletable
    calls = []

    def check_then_restore_arrives(checkpoint, bank_):
        real_check(checkpoint, bank_)
        calls.append(1)
        if len(calls) == 2:  # after the claim, just before the status is written
            bank.put(lease_key('restorer'), {'expires_at': timeutil.wall_clock() + 60})
            bank.put(READERS_PREFIX % cp.id + 'restorer', {'since': 'now'})
    monkeypatch.setattr(engine, 'check_deletable', check_then_restore_arrives)
    with pytest.raises(Conflict, match='being restored'):
        engine.delete_checkpoint(NOOP_PROVIDER_ID, cp.id)
    assert engine.get_checkpoint(NOOP_PROVIDER_ID, cp.id).status == R.CP_AVAILABLE
    assert engine.verify_checkpoint(cp) > 0


def test_index_entry_of_a_vanished_checkpoint_is_dropped_once_old(engine, monkeypatch):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    cp.bank.delete('/checkpoints/%s/index.json' % cp.id)  # a create that failed half way
    assert engine.list_checkpoints(NOOP_PROVIDER_ID) == []
    assert len(cp.bank.list('/indices/by-provider/')) == 1  # young: maybe a create in flight
    later = timeutil.now() + datetime.timedelta(minutes=3)
    monkeypatch.setenv('KARBOR_FAKE_NOW', later.isoformat())
    assert engine.list_checkpoints(NOOP_PROVIDER_ID) == []
    assert cp.bank.list('/indices/by-provider/') == []


def test_checkpoint_of_a_resource_gone_since_the_plan_touches_nothing(engine, monkeypatch):
    plan = make_plan(engine)
    bank = engine.bank(engine.provider(NOOP_PROVIDER_ID))
    before = bank.list('/')
    monkeypatch.setattr(FakeRegistry, 'known', {SERVER.id: SERVER})  # the volume was deleted
    monkeypatch.setattr(FakeRegistry, 'get_dependents', lambda self, res: [])
    plan['resources'].append(VOLUME.to_dict())
    with pytest.raises(NotFound, match='does not exist in this project any more'):
        engine.protect(plan)
    assert bank.list('/') == before


def test_a_checkpoint_is_only_reachable_through_its_own_provider(engine):
    plan = make_plan(engine)
    cp = engine.protect(plan)
    # the OS Infra FS provider shares the same local bank folder
    other = engine.provider(OS_INFRA_FS_PROVIDER_ID)
    assert engine.bank(other).root == cp.bank.root
    for call in (lambda: engine.get_checkpoint(OS_INFRA_FS_PROVIDER_ID, cp.id),
                 lambda: engine.restore(OS_INFRA_FS_PROVIDER_ID, cp.id),
                 lambda: engine.delete_checkpoint(OS_INFRA_FS_PROVIDER_ID, cp.id)):
        with pytest.raises(NotFound, match='it belongs to provider'):
            call()
    assert engine.get_checkpoint(NOOP_PROVIDER_ID, cp.id).status == R.CP_AVAILABLE
    assert engine.catalog.restores.list('project-a') == []


class StatusSequence:
    """A checkpoint collection whose checkpoint goes through given statuses."""

    def __init__(self, *statuses):
        self.statuses = list(statuses)

    def get(self, checkpoint_id):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return type('Checkpoint', (), {'id': checkpoint_id, 'status': status})()


def test_a_starting_restore_waits_for_a_delete_that_steps_back(monkeypatch):
    monkeypatch.setattr('time.sleep', lambda _seconds: None)
    collection = StatusSequence(R.CP_DELETING, R.CP_DELETING, R.CP_AVAILABLE)
    wait_for_delete_decision(collection, 'cp')  # goes on: no error
    assert collection.statuses == [R.CP_AVAILABLE]


@pytest.mark.parametrize('statuses', [(R.CP_DELETING, R.CP_DELETED), (R.CP_ERROR,)])
def test_a_starting_restore_gives_way_to_a_delete_that_goes_on(monkeypatch, statuses):
    monkeypatch.setattr('time.sleep', lambda _seconds: None)
    with pytest.raises(Conflict) as err:
        wait_for_delete_decision(StatusSequence(*statuses), 'cp')
    assert 'changed state while the restore started' in err.value.msg


def test_a_starting_restore_gives_up_on_a_delete_that_stays_deleting(monkeypatch):
    clock = iter(range(0, 10 ** 6, 5))
    monkeypatch.setattr('time.monotonic', lambda: next(clock))
    monkeypatch.setattr('time.sleep', lambda _seconds: None)
    with pytest.raises(Conflict) as err:
        wait_for_delete_decision(StatusSequence(R.CP_DELETING), 'cp')
    assert 'is being deleted' in err.value.msg


def test_one_named_restore_at_a_time_and_a_finished_one_is_not_repeated(engine):
    from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import name_digest
    from ansible_collections.karbor.protection.plugins.module_utils.engine.claims import (
        RESTORE_NAME_CLAIM)
    cp = engine.protect(make_plan(engine))
    bank = cp.bank
    claim = RESTORE_NAME_CLAIM % (engine.project_id, name_digest(bank, 'nightly'))
    bank.put(lease_key('other-run'), {'expires_at': timeutil.wall_clock() + 60})
    bank.put(claim, 'other-run')
    with pytest.raises(Conflict, match="named 'nightly' is running in another run"):
        engine.restore(NOOP_PROVIDER_ID, cp.id, name='nightly')
    assert engine.restores.list() == []
    bank.put(lease_key('other-run'), {'expires_at': timeutil.wall_clock() - 1})  # it died
    first = engine.restore(NOOP_PROVIDER_ID, cp.id, name='nightly')
    assert first['status'] == R.RESTORE_SUCCESS and not first.get('_reused')
    assert not bank.exists(claim)
    # as a run that checked for the name (in the module) before `first` finished: once it
    # holds the claim, the engine finds the finished restore and does not run it again
    again = engine.restore(NOOP_PROVIDER_ID, cp.id, name='nightly')
    assert again['_reused'] and again['id'] == first['id']
    assert [r['id'] for r in engine.restores.list()] == [first['id']]
    assert not bank.exists(claim)


@pytest.mark.parametrize('age, lease_first', [(0, True), (100, False)])
def test_lease_goes_with_the_final_index_only_while_the_checkpoint_is_young(
        engine, monkeypatch, age, lease_first):
    """A leaseless protecting checkpoint is reaped only once older than the lease's expire
    window (120 s): a young one may drop its lease beside the final index write; an old one
    keeps it until the index says how it ended."""
    import threading
    import time as _time
    from ansible_collections.karbor.protection.plugins.module_utils.flow.executor import FlowExecutor
    from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
    plan = make_plan(engine)
    real_now = timeutil.now
    started = threading.Event()
    order = []
    real_put, real_delete = LocalBank.put, LocalBank.delete

    def put(self, key, value, *args, **kwargs):
        final = key.endswith('/index.json') and started.is_set()
        if final:
            _time.sleep(0.3)  # a slow final write: does the lease wait for it?
        result = real_put(self, key, value, *args, **kwargs)
        if final:
            order.append('index')
        return result

    def delete(self, key):
        if key.startswith('/leases/'):
            order.append('lease')
        return real_delete(self, key)

    def now():
        return real_now() + datetime.timedelta(seconds=age if started.is_set() else 0)

    def on_main(*_args):
        started.set()
    monkeypatch.setattr(LocalBank, 'put', put)
    monkeypatch.setattr(LocalBank, 'delete', delete)
    monkeypatch.setattr(timeutil, 'now', now)
    monkeypatch.setattr(FlowExecutor, 'run', lambda self, *a, **k: on_main())
    cp = engine.protect(plan)
    assert cp.status == R.CP_AVAILABLE
    assert order == (['lease', 'index'] if lease_first else ['index', 'lease'])


def test_a_named_checkpoint_is_in_the_bank_before_its_name_is_claimed(engine, monkeypatch):
    """The run that loses a name looks the winner up by it: the winner's index.json must
    already be there; the loser leaves nothing."""
    from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
    plan = make_plan(engine)
    winner = engine.protect(plan, {'name': 'nightly'})
    real_claim = LocalBank.claim
    seen = []

    def claim(self, key, value):
        seen.append(self.exists('/checkpoints/%s/index.json' % value))
        return real_claim(self, key, value)
    monkeypatch.setattr(LocalBank, 'claim', claim)
    before = sorted(winner.bank.list('/'))
    with pytest.raises(Conflict, match="named 'nightly' already exists"):
        engine.protect(plan, {'name': 'nightly'})
    assert seen == [True]  # the loser's own index.json was written before its claim...
    assert sorted(winner.bank.list('/')) == before  # ...and removed with its lease
    assert engine.find_named_checkpoint(plan, 'nightly').id == winner.id


def test_name_lock_makes_find_or_create_one_at_a_time(engine):
    """What the plan, trigger and scheduled_operation modules do under the lock: two runs of
    one new plan started together make one plan."""
    import threading
    import time as _time
    barrier = threading.Barrier(2)
    made = []

    def run():
        barrier.wait()
        with engine.name_lock('plans', 'nightly'):
            if engine.plans.find('nightly') is None:
                _time.sleep(0.2)  # a slow create: the other run must wait, not look
                made.append(make_plan(engine, name='nightly')['id'])
    threads = [threading.Thread(target=run) for _run in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and engine.plans.find('nightly')['id'] == made[0]
    with engine.name_lock('plans', 'other'):  # other names are not held up
        with engine.name_lock('triggers', 'nightly'):
            pass
    assert engine.catalog.bank.list('/locks/') == []  # none left in the catalog bank


def test_plugins_read_ahead_while_the_checkpoint_is_written_never_after_a_failure(
        engine, monkeypatch):
    """An operation may start reading before its checkpoint is in the bank (it is given no
    checkpoint to write to); on_main gets the same operation, and what it read ahead is
    freed after the flow, or at once when the checkpoint could not be written."""
    from ansible_collections.karbor.protection.plugins.module_utils.resources import noop as noop_plugin
    events = []

    class ReadingAhead(noop_plugin._NoopProtect):
        def read_ahead(self, ctx, bank):
            assert ctx.checkpoint is None and ctx.section is None and ctx.cloud is not None
            self.early = ctx.resource.id
            events.append(('read_ahead', ctx.resource.id,
                           [k for k in bank.list('/checkpoints/') if k.endswith('index.json')]))

        def on_main(self, ctx):
            events.append(('on_main', self.early, ctx.checkpoint.bank.exists(
                '/checkpoints/%s/index.json' % ctx.checkpoint.id)))
            super().on_main(ctx)

        def drop_read_ahead(self):
            events.append(('drop', self.early))

    monkeypatch.setattr(noop_plugin.NoopProtectionPlugin, 'get_protect_operation',
                        lambda self, resource: ReadingAhead())
    plan = make_plan(engine)
    cp = engine.protect(plan, {'name': 'nightly'})
    assert cp.status == R.CP_AVAILABLE
    ids = sorted([SERVER.id, VOLUME.id])
    assert sorted(e[1] for e in events if e[0] == 'read_ahead') == ids
    assert all(e[2] == [] for e in events if e[0] == 'read_ahead')  # nothing written yet
    assert sorted((e[1], e[2]) for e in events if e[0] == 'on_main') == [(i, True) for i in ids]
    assert [e[0] for e in events[-2:]] == ['drop', 'drop']
    events.clear()
    with pytest.raises(Conflict):
        engine.protect(plan, {'name': 'nightly'})  # the name is taken: nothing runs
    assert sorted(e[0] for e in events) == ['drop', 'drop', 'read_ahead', 'read_ahead']


def test_a_failing_read_ahead_changes_nothing_and_frees_the_others(engine, monkeypatch):
    """A plugin that refuses its settings while reading ahead stops the protect before the
    bank is touched; what other resources read ahead is freed."""
    from ansible_collections.karbor.protection.plugins.module_utils.resources import noop as noop_plugin
    events = []

    class Refusing(noop_plugin._NoopProtect):
        def read_ahead(self, ctx, bank):
            events.append(('read_ahead', ctx.resource.id))
            if len(events) == 2:
                raise InvalidInput('[image_backup_plugin] upload_concurrency must be an integer')

        def drop_read_ahead(self):
            events.append(('drop', None))

    monkeypatch.setattr(noop_plugin.NoopProtectionPlugin, 'get_protect_operation',
                        lambda self, resource: Refusing())
    plan = make_plan(engine)
    bank = engine.checkpoints(engine.provider(plan['provider_id'])).bank
    before = sorted(bank.list('/'))
    with pytest.raises(InvalidInput, match='upload_concurrency'):
        engine.protect(plan)
    assert sorted(bank.list('/')) == before
    assert [e[0] for e in events] == ['read_ahead', 'read_ahead', 'drop', 'drop']
    assert engine.list_checkpoints(plan['provider_id']) == []
