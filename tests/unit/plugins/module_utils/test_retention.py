# -*- coding: utf-8 -*-
"""Retention selection over 20 checkpoints: which ones survive, and that the
newest, non-available and busy ones never go (pure logic)."""
from __future__ import annotations

import datetime
import random
import threading
import time

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.engine import retention
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.engine.retention import (
    select_for_deletion)

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + datetime.timedelta(days=19, hours=1)  # one hour after the newest


def twenty(statuses=None, busy=()):
    """cp00 (oldest, day 0) .. cp19 (newest, day 19), one a day at midnight."""
    statuses = statuses or {}
    return [{'id': 'cp%02d' % day, 'status': statuses.get(day, 'available'),
             'created_at': (T0 + datetime.timedelta(days=day)).isoformat(),
             'busy': day in busy} for day in range(20)]


def survivors(items, deleted):
    return sorted(i['id'] for i in items if i['id'] not in deleted and i['status'] == 'available')


def ids(*days):
    return sorted('cp%02d' % d for d in days)


def test_max_backups_keeps_the_newest():
    items = twenty()
    deleted = select_for_deletion(items, 5, None, NOW)
    assert survivors(items, deleted) == ids(15, 16, 17, 18, 19)
    assert deleted == ['cp%02d' % d for d in range(14, -1, -1)]  # newest first


def test_order_of_the_listing_does_not_matter():
    """Karbor trusted the bank listing order (ascending from Swift) and deleted the newest."""
    items = twenty()
    for seed in range(5):
        shuffled = list(items)
        random.Random(seed).shuffle(shuffled)
        assert survivors(items, select_for_deletion(shuffled, 5, None, NOW)) == \
            ids(15, 16, 17, 18, 19)


def test_retention_duration_in_days():
    items = twenty()
    # older than 7 days at day 19 01:00 means created before day 12 01:00: days 0..12 go
    deleted = select_for_deletion(items, None, 7, NOW)
    assert survivors(items, deleted) == ids(*range(13, 20))
    # exactly 7 days old is not older than 7 days
    exact = T0 + datetime.timedelta(days=19)
    assert survivors(items, select_for_deletion(items, -1, 7, exact)) == ids(*range(12, 20))


def test_both_rules_delete_what_either_picks():
    items = twenty()
    assert survivors(items, select_for_deletion(items, 10, 5, NOW)) == ids(*range(15, 20))
    assert survivors(items, select_for_deletion(items, 3, 10, NOW)) == ids(17, 18, 19)


def test_newest_is_never_deleted_even_when_too_old():
    items = twenty()
    much_later = NOW + datetime.timedelta(days=400)
    assert survivors(items, select_for_deletion(items, 5, 30, much_later)) == ids(19)


def test_only_available_checkpoints_count_and_go():
    # newest two failed, one is still protecting, one is being deleted
    statuses = {19: 'error', 18: 'protecting', 10: 'deleting', 3: 'error'}
    items = twenty(statuses)
    deleted = select_for_deletion(items, 3, None, NOW, error_grace_hours=-1)
    assert set(deleted).isdisjoint({'cp19', 'cp18', 'cp10', 'cp03'})
    assert survivors(items, deleted) == ids(15, 16, 17)  # the newest three *available*
    # and the newest available (cp17) is kept whatever the age
    assert survivors(items, select_for_deletion(items, None, 1, NOW + datetime.timedelta(
        days=50))) == ids(17)


def test_error_checkpoints_go_after_the_grace_period_and_never_count():
    # cp19 failed an hour ago (NOW is day 19 01:00), cp03 and cp10 failed long ago
    statuses = {19: 'error', 10: 'error', 3: 'error', 18: 'protecting'}
    items = twenty(statuses, busy={10})
    deleted = select_for_deletion(items, 3, None, NOW)  # default grace: 24 hours
    assert 'cp03' in deleted  # past the grace
    assert 'cp19' not in deleted  # within the grace: kept to read why it failed
    assert 'cp10' not in deleted  # busy (being read)
    assert 'cp18' not in deleted
    assert survivors(items, deleted) == ids(15, 16, 17)  # errors did not count among the 3
    assert deleted == sorted(deleted, reverse=True)  # newest first, errors among the rest
    # a grace of 0 takes every error checkpoint that is not busy; a negative one keeps them
    assert 'cp19' in select_for_deletion(items, 3, None, NOW, error_grace_hours=0)
    assert not {'cp03', 'cp19'} & set(select_for_deletion(items, 3, None, NOW,
                                                          error_grace_hours=-1))
    # errors only: keep-N disabled still cleans them
    assert select_for_deletion(items, None, None, NOW) == ['cp03']


def test_busy_checkpoints_are_kept_but_counted():
    items = twenty(busy={2, 16})
    deleted = select_for_deletion(items, 5, None, NOW)
    assert 'cp02' not in deleted and 'cp16' not in deleted
    assert survivors(items, deleted) == ids(2, 15, 16, 17, 18, 19)


def test_ties_are_broken_by_fire_time_then_id():
    same = T0.isoformat()
    items = [{'id': 'b', 'status': 'available', 'created_at': same,
              'extra_info': {'fire_time': '2026-01-01T00:02:00Z'}},
             {'id': 'a', 'status': 'available', 'created_at': same,
              'extra_info': {'fire_time': '2026-01-01T00:01:00Z'}},
             {'id': 'c', 'status': 'available', 'created_at': same,
              'extra_info': {'fire_time': '2026-01-01T00:03:00Z'}}]
    assert select_for_deletion(items, 1, None, NOW) == ['b', 'a']


@pytest.mark.parametrize('value', [None, 0, -5, '', '0'])
def test_zero_or_less_is_unlimited(value):
    items = twenty()
    assert select_for_deletion(items, value, value, NOW + datetime.timedelta(days=100)) == []


def test_bad_numbers_are_clear_errors():
    with pytest.raises(KarborError, match='max_backups must be a whole number'):
        select_for_deletion(twenty(), 'ten', None, NOW)


class FakeCheckpoint:
    def __init__(self, item):
        self.id = item['id']
        self.status = item['status']
        self.data = {'created_at': item['created_at']}
        self.extra_info = {}


class FakeEngine:
    """Just what apply_retention calls; deletion outcomes are scripted."""

    project_id = 'project-a'

    def __init__(self, items, refuse=(), broken=()):
        self.items = items
        self.refuse, self.broken = set(refuse), set(broken)
        self.deleted = []
        self.lock = threading.Lock()

    def get_checkpoint(self, provider_id, checkpoint_id):
        with self.lock:
            return FakeCheckpoint([i for i in self.items if i['id'] == checkpoint_id][0])

    def list_checkpoints(self, provider_id, plan_id=None, status=None):
        return [FakeCheckpoint(i) for i in self.items if status in (None, i['status'])]

    def delete_checkpoint(self, provider_id, checkpoint_id):
        if checkpoint_id in self.refuse:
            raise Conflict('Checkpoint %s is being restored.' % checkpoint_id)
        if checkpoint_id in self.broken:
            raise KarborError('backend down')
        item = [i for i in self.items if i['id'] == checkpoint_id][0]
        if item['status'] == 'deleted':
            return
        time.sleep(0.005)  # like the engine, check-then-set is not atomic
        with self.lock:
            self.deleted.append(checkpoint_id)
            for item in self.items:
                if item['id'] == checkpoint_id:
                    item['status'] = 'deleted'


def test_apply_retention_skips_busy_and_reports_errors():
    engine = FakeEngine(twenty(), refuse={'cp01'}, broken={'cp02'})
    outcome = retention.apply_retention(engine, 'prov', 'plan', 16, None, NOW)
    assert engine.deleted == ['cp03', 'cp00']
    assert outcome['deleted'] == ['cp03', 'cp00']
    assert outcome['skipped'] == [{'id': 'cp01', 'reason': 'Checkpoint cp01 is being restored.'}]
    assert outcome['errors'] == [{'id': 'cp02', 'error': 'backend down'}]


def test_apply_retention_deletes_old_error_checkpoints():
    engine = FakeEngine(twenty({1: 'error', 19: 'error'}))
    outcome = retention.apply_retention(engine, 'prov', 'plan', 17, None, NOW)
    assert outcome['deleted'] == ['cp01', 'cp00']  # cp00 beyond the 17 newest; cp01 failed
    assert outcome['errors'] == [] and outcome['skipped'] == []
    kept = retention.apply_retention(FakeEngine(twenty({1: 'error'})), 'prov', 'plan', 17,
                                     None, NOW, error_grace_hours=-1)
    assert kept['deleted'] == ['cp02', 'cp00']  # 19 available, the two oldest go; cp01 stays


def test_concurrent_retention_deletes_each_checkpoint_once(tmp_path):
    """Two runs pruning one plan at once pick the same checkpoints; the deletion claims
    let only one of them delete each."""
    from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
    claims = LocalBank(str(tmp_path))
    engine = FakeEngine(twenty())
    barrier = threading.Barrier(6)
    outcomes = []

    def prune():
        barrier.wait()
        outcomes.append(retention.apply_retention(engine, 'prov', 'plan', 5, None, NOW,
                                                  claims=claims))

    threads = [threading.Thread(target=prune) for _n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(engine.deleted) == ['cp%02d' % d for d in range(15)]
    assert sorted(i for o in outcomes for i in o['deleted']) == sorted(engine.deleted)
    assert list(claims.iter_all('/')) == []  # claims are released


class ChainEngine(FakeEngine):
    """Cinder's rule: a backup with dependent incrementals cannot be deleted."""

    def __init__(self, items, parents):
        super().__init__(items)
        self.parents = parents  # checkpoint id -> the checkpoint its incremental backup is on

    def delete_checkpoint(self, provider_id, checkpoint_id):
        alive = {i['id'] for i in self.items if i['status'] != 'deleted'}
        if any(parent == checkpoint_id and child in alive
               for child, parent in self.parents.items()):
            raise Conflict('The backup in checkpoint %s is the parent of incremental backups '
                           'made by later checkpoints.' % checkpoint_id)
        super().delete_checkpoint(provider_id, checkpoint_id)


def five(parents):
    return ChainEngine([i for i in twenty() if i['id'] < 'cp05'], parents)


def test_an_expired_chain_goes_in_one_run_incrementals_first():
    """full, incr, incr, full, incr; keep 2: the first chain (cp00..cp02) expired whole.
    Oldest first, Cinder refused cp00 and cp01 (their dependents still existed)."""
    engine = five({'cp01': 'cp00', 'cp02': 'cp01', 'cp04': 'cp03'})
    outcome = retention.apply_retention(engine, 'prov', 'plan', 2, None, NOW)
    assert engine.deleted == ['cp02', 'cp01', 'cp00']
    assert outcome['deleted'] == ['cp02', 'cp01', 'cp00']
    assert outcome['skipped'] == [] and outcome['errors'] == []
    assert retention.apply_retention(engine, 'prov', 'plan', 2, None, NOW,
                                     dry_run=True)['deleted'] == []


def test_a_parent_of_a_kept_checkpoint_stays_with_the_reason():
    """One endless chain: nothing picked can go while the kept cp03 depends on it."""
    engine = five({'cp01': 'cp00', 'cp02': 'cp01', 'cp03': 'cp02', 'cp04': 'cp03'})
    outcome = retention.apply_retention(engine, 'prov', 'plan', 2, None, NOW)
    assert engine.deleted == []
    assert [s['id'] for s in outcome['skipped']] == ['cp02', 'cp01', 'cp00']
    assert all('parent of incremental backups' in s['reason'] for s in outcome['skipped'])
    assert outcome['errors'] == []
