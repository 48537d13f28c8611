# -*- coding: utf-8 -*-
"""Races between separate ansible-playbook processes started together on
the OS Infra provider (Swift bank): two checkpoint runs on one plan (with
and without one checkpoint name), two restores with one name, and a
checkpoint delete racing a restore of the same checkpoint. Each race is run a few times with different start
offsets; every round must end without corruption, with clear errors (no
traceback) and without orphans."""
from __future__ import annotations

import os
import time

from faults_support import Lab, killed, make_lab, no_traceback, rel_cloud  # noqa: F401 pylint: disable=unused-import

# rounds per race (the checkpoint races cost two backups a round, so they default to 2)
ROUNDS = int(os.environ.get('KARBOR_RACE_ROUNDS', '3'))
CHECKPOINT_ROUNDS = int(os.environ.get('KARBOR_RACE_ROUNDS', '2'))
OFFSETS = (0.0, 0.4, -0.4, 0.8, -0.8, 0.2, -0.2, 1.2, -1.2, 0.0)  # seconds the second run starts after the first


def together(lab: Lab, first: tuple, second: tuple, offset: float) -> tuple[dict, dict]:
    """Start two steps ``offset`` seconds apart (negative: second first)."""
    if offset < 0:
        second_result, first_result = together(lab, second, first, -offset)
        return first_result, second_result
    one = lab.start(first[0], **first[1])
    if offset:
        time.sleep(offset)
    two = lab.start(second[0], **second[1])
    return lab.finish(one), lab.finish(two)


def clear_error(result: dict) -> bool:
    msg = str(result.get('msg') or '')
    return bool(msg) and no_traceback(result) and not killed(result) and \
        'MODULE FAILURE' not in msg and 'deserialization failed' not in msg and \
        'Unexpected' not in msg


def test_two_unnamed_checkpoints_of_one_plan(make_lab):  # noqa: F811 pylint: disable=redefined-outer-name
    lab = make_lab('r-cp')
    lab.ok('plan')
    for round_ in range(CHECKPOINT_ROUNDS):
        first, second = together(lab, ('protect', {}), ('protect', {}), OFFSETS[round_ % len(OFFSETS)])
        for result in (first, second):
            assert no_traceback(result), result['_output']
            assert not result.get('failed'), 'round %d: %s' % (round_, result.get('msg'))
            assert result['checkpoint']['status'] == 'available', result['checkpoint']
        ids = {first['checkpoint']['id'], second['checkpoint']['id']}
        assert len(ids) == 2, 'both runs returned one checkpoint: %s' % ids
        listed = {c.id for c in lab.assert_consistent_catalog()}
        assert listed == ids, (listed, ids)
        lab.assert_backups_accounted()
        assert len(lab.cloud_artifacts()['backups']) == 2, lab.cloud_artifacts()
        # delete both, concurrently as well
        one, two = together(lab, ('delete', {'checkpoint_id': first['checkpoint']['id']}),
                            ('delete', {'checkpoint_id': second['checkpoint']['id']}), 0.0)
        for result in (one, two):
            assert not result.get('failed'), 'round %d delete: %s' % (round_, result.get('msg'))
        assert lab.assert_consistent_catalog() == []
        lab.assert_nothing_left()


def test_two_checkpoints_with_one_name(make_lab):  # noqa: F811 pylint: disable=redefined-outer-name
    lab = make_lab('r-name')
    lab.ok('plan')
    for round_ in range(CHECKPOINT_ROUNDS):
        name = 'nightly-%d' % round_
        first, second = together(lab, ('protect', {'cp_name': name}),
                                 ('protect', {'cp_name': name}), OFFSETS[round_ % len(OFFSETS)])
        made = [r for r in (first, second) if not r.get('failed')]
        failed = [r for r in (first, second) if r.get('failed')]
        assert made, 'round %d: both named runs failed: %s / %s' % (
            round_, first.get('msg'), second.get('msg'))
        for result in failed:  # the loser's error names the conflict
            assert clear_error(result), result['_output']
            assert 'already exists' in result['msg'], result['msg']
        ids = {r['checkpoint']['id'] for r in made}
        assert len(ids) == 1, 'round %d: two checkpoints named %s: %s' % (round_, name, ids)
        cid = ids.pop()
        assert sum(1 for r in made if r.get('changed')) == 1, made
        named = lab.engine.find_named_checkpoint(lab.engine.plans.get(lab.plan_name), name)
        assert named is not None and named.id == cid
        listed = lab.assert_consistent_catalog()
        assert [c.id for c in listed if c.extra_info.get('name') == name] == [cid]
        assert lab.checkpoint(cid).status == 'available'
        lab.assert_backups_accounted()
        assert len(lab.cloud_artifacts()['backups']) == round_ + 1, lab.cloud_artifacts()
    for checkpoint in lab.assert_consistent_catalog():
        lab.ok('delete', checkpoint_id=checkpoint.id)
    lab.assert_nothing_left()


def test_two_restores_with_one_name(make_lab):  # noqa: F811 pylint: disable=redefined-outer-name
    lab = make_lab('r-rname')
    lab.ok('plan')
    cid = lab.ok('protect')['checkpoint']['id']
    for round_ in range(CHECKPOINT_ROUNDS):
        name = 'restore-%d' % round_
        first, second = together(lab, ('restore', {'checkpoint_id': cid, 'restore_name': name}),
                                 ('restore', {'checkpoint_id': cid, 'restore_name': name}),
                                 OFFSETS[round_ % len(OFFSETS)])
        made = [r for r in (first, second) if not r.get('failed')]
        assert made, 'round %d: both named restores failed: %s / %s' % (
            round_, first.get('msg'), second.get('msg'))
        for result in (first, second):
            if result.get('failed'):  # the loser saw the other run at work
                assert clear_error(result), result['_output']
                assert 'is running in another run' in result['msg'], result['msg']
        assert len({r['restore']['id'] for r in made}) == 1, made
        assert sum(1 for r in made if r.get('changed')) == 1, made
        named = [r for r in lab.restore_records() if r.get('name') == name]
        assert [r['status'] for r in named] == ['success'], named
        restored = set(named[0]['new_resources'].values())
        made_volumes = lab.cloud_artifacts()['volumes']
        assert len(restored) == 1 and made_volumes == restored, (
            'round %d: one restore, yet volumes %s (recorded %s)' % (round_, made_volumes, restored))
        lab.delete_recorded_restores()
    lab.ok('delete', checkpoint_id=cid)
    lab.assert_nothing_left()


def test_delete_racing_restore(make_lab):  # noqa: F811 pylint: disable=redefined-outer-name
    lab = make_lab('r-del')
    lab.ok('plan')
    outcomes = []
    for round_ in range(ROUNDS):
        checkpoint = lab.ok('protect')['checkpoint']
        cid = checkpoint['id']
        deleted, restored = together(lab, ('delete', {'checkpoint_id': cid}),
                                     ('restore', {'checkpoint_id': cid}), OFFSETS[round_ % len(OFFSETS)])
        for result in (deleted, restored):
            assert no_traceback(result), result['_output']
        winners = [name for name, result in (('delete', deleted), ('restore', restored))
                   if not result.get('failed')]
        assert len(winners) == 1, 'round %d: expected one winner, got %s (delete: %s; restore: '\
            '%s)' % (round_, winners, deleted.get('msg'), restored.get('msg'))
        outcomes.append(winners[0])
        loser = restored if winners == ['delete'] else deleted
        assert clear_error(loser), loser['_output']
        current = lab.checkpoint(cid)
        records = lab.restore_records()
        if winners == ['restore']:
            # nothing half-deleted: the checkpoint is whole and restorable again
            assert current.status == 'available', current.data
            lab.engine.verify_checkpoint(current)
            assert restored['restore']['status'] == 'success'
            assert lab.cloud_artifacts()['backups'] == lab.recorded_backups() != set()
        else:
            assert current.status == 'deleted', current.data
            for record in records:  # a restore that lost made nothing, or failed and cleaned up
                if record['checkpoint_id'] == cid:
                    assert record['status'] == 'fail', record
            made = lab.cloud_artifacts()
            recorded = {v for r in records for v in (r.get('new_resources') or {}).values()}
            assert not (made['volumes'] | made['images']) - recorded, (
                'the losing restore left unrecorded resources: %s' % made)
        lab.assert_consistent_catalog()
        lab.delete_recorded_restores()
        if current.status != 'deleted':
            lab.ok('delete', checkpoint_id=cid)
        lab.assert_nothing_left()
    print('delete/restore race winners: %s' % outcomes)
