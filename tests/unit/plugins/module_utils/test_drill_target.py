# -*- coding: utf-8 -*-
"""Verify level drill into another project (a target engine, as a restore
elsewhere): the restore and the drill's own contexts use the target's cloud;
a resource the target's restore refuses is failed with the restore's reason
and nothing is restored (check mode too); a bad target fails before anything
is written. No-Op provider, fake clouds."""
from __future__ import annotations

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.engine import verify as verify_flow
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
    ProtectionEngine)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    NOOP_PROVIDER_ID)
from ansible_collections.karbor.protection.plugins.module_utils.engine.target import (
    target_label)
from ansible_collections.karbor.protection.plugins.module_utils.resources import noop
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.test_engine import (
    SERVER, VOLUME, FakeCloud)
# (checkpoint and engine are fixtures)
from ansible_collections.karbor.protection.tests.unit.plugins.module_utils.test_verify import (  # pylint: disable=unused-import
    checkpoint, engine)  # noqa: F401

REFUSED = 'Volume %s is kept as a Cinder backup of the source cloud.' % VOLUME.id


class CloudB(FakeCloud):
    project_id = 'project-b'
    project_name = 'b'


class Refusing(FakeCloud):
    @property
    def project_id(self):
        raise KarborError('Cannot connect to the cloud \'nowhere\': no such cloud.')


@pytest.fixture
def target(tmp_path):
    return ProtectionEngine(state_dir=str(tmp_path / 'b'), cloud=CloudB())


@pytest.fixture
def seen(monkeypatch):
    """What each No-Op restore saw (its cloud, restore_elsewhere); the volume's precheck
    refuses a restore elsewhere when ``seen['refuse']`` is set."""
    seen = {'restores': [], 'refuse': False}
    on_main = noop._NoopRestore.on_main

    def precheck(self, ctx):
        if seen['refuse'] and ctx.restore_elsewhere and ctx.resource == VOLUME:
            raise InvalidInput(REFUSED)

    def recording(self, ctx):
        seen['restores'].append((ctx.resource.key, ctx.cloud, ctx.restore_elsewhere))
        on_main(self, ctx)
    monkeypatch.setattr(noop._NoopRestore, 'precheck', precheck, raising=False)
    monkeypatch.setattr(noop._NoopRestore, 'on_main', recording)
    return seen


def test_a_drill_into_another_project_restores_there(engine, checkpoint, target,  # noqa: F811
                                                     seen):
    record = verify_flow.verify(engine, NOOP_PROVIDER_ID, checkpoint.id, 'drill',
                                target=target)
    assert record['status'] == R.VERIFY_SUCCESS, record
    assert record['drill_target'] == {'project_id': 'project-b', 'project_name': 'b'}
    assert record['restore_status'] == R.RESTORE_SUCCESS and record['drill_skipped'] is None
    assert sorted(seen['restores']) == sorted(
        [(SERVER.key, target.cloud, True), (VOLUME.key, target.cloud, True)])
    assert record['cleanup']['status'] == 'done' and engine.restores.list() == []
    assert target.restores.list() == []  # the records stay the source's


def test_a_drill_without_target_stays_in_its_project(engine, checkpoint, seen):  # noqa: F811
    record = verify_flow.verify(engine, NOOP_PROVIDER_ID, checkpoint.id, 'drill')
    assert record['status'] == R.VERIFY_SUCCESS and record['drill_target'] is None
    assert {(cloud, elsewhere) for _key, cloud, elsewhere in seen['restores']} == {
        (engine.cloud, False)}


def test_a_target_naming_its_own_project_is_no_elsewhere(engine, checkpoint, tmp_path,  # noqa: F811
                                                         seen):
    same = ProtectionEngine(state_dir=str(tmp_path / 'same'), cloud=FakeCloud())
    record = verify_flow.verify(engine, NOOP_PROVIDER_ID, checkpoint.id, 'drill', target=same)
    assert record['status'] == R.VERIFY_SUCCESS and record['drill_target'] is None


@pytest.mark.parametrize('dry_run', [False, True])
def test_what_the_target_cannot_restore_is_failed_and_nothing_restored(
        engine, checkpoint, target, seen, dry_run):  # noqa: F811
    seen['refuse'] = True
    record = verify_flow.verify(engine, NOOP_PROVIDER_ID, checkpoint.id, 'drill',
                                dry_run=dry_run, target=target)
    assert record['status'] == R.VERIFY_FAIL
    assert record['resources_status'] == {SERVER.key: 'ok', VOLUME.key: 'failed'}
    assert record['resources_reason'] == {VOLUME.key: 'drill: a restore into project b '
                                          '(project-b) cannot make it: ' + REFUSED}
    assert record['drill_skipped'].startswith('a restore into project b (project-b) cannot '
                                              'make 1 resource(s)')
    assert record['restore_id'] is None and record['cleanup'] is None
    assert seen['restores'] == []
    assert engine.operation_logs.list(operation_type='restore') == []
    assert engine.restores.list() == []


@pytest.mark.parametrize('level, cloud, message', [
    ('bank', CloudB, 'apply to level drill only, not level bank'),
    ('data', CloudB, 'apply to level drill only, not level data'),
    ('drill', Refusing, 'The target cloud refused the connection or its credentials; '
                        "check target_cloud / target_auth. Cannot connect to the cloud 'nowhere'"),
])
def test_a_bad_target_fails_before_anything_is_written(engine, checkpoint, tmp_path,  # noqa: F811
                                                       level, cloud, message):
    bad = ProtectionEngine(state_dir=str(tmp_path / 'bad'), cloud=cloud())
    with pytest.raises(KarborError) as err:
        verify_flow.verify(engine, NOOP_PROVIDER_ID, checkpoint.id, level, target=bad)
    assert message in err.value.msg
    assert engine.verifications.list() == []
    assert engine.operation_logs.list(operation_type='verify') == []
    assert checkpoint.bank.list('/checkpoint-readers/') == []


def test_target_label_names_the_project():
    class Unnamed(CloudB):
        project_name = ''
    assert target_label(ProtectionEngine(cloud=CloudB())) == 'b (project-b)'
    assert target_label(ProtectionEngine(cloud=Unnamed())) == 'project-b'
