# -*- coding: utf-8 -*-
"""Issue 14: scheduling with stateless AWX-style jobs on two nodes.

A setup job makes a plan of a tiny Glance image (OS Infra Provider, Swift
bank), a second job runs the schedule role (an hourly retention_protect with
max_backups 5). Then, at every simulated tick (``KARBOR_FAKE_NOW``), two
``run_scheduled.yml`` jobs start together, each in its own private data dir
and HOME, with nothing but the credential and the catalog container of the
job template: every fire time runs exactly once, those past their window are
recorded missed, retention keeps exactly the newest five checkpoints, and the
AWX ids are stored with every run.
"""
from __future__ import annotations

import concurrent.futures
import datetime
import io
import os
import time
import uuid

import pytest
from test_scheduling import simulated_ticks

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import NotFound
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
    ProtectionEngine)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    OS_INFRA_PROVIDER_ID)

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
FIRE_TIMES = [T0 + datetime.timedelta(hours=k) for k in range(1, 51)]
WINDOW = 8 * 3600  # seconds a fire time may still start after it is due
MAX_BACKUPS = 5
# minutes between ticks: irregular, several fire times each (few jobs: CI time), each below
# the window but one (a 12 h outage of AWX, whose end is exactly one window after a fire
# time: that one still runs)
STEPS = [180, 360, 120, 420, 300, 720, 240, 420, 330]
# the AWX schedule's extra vars; the log trim of run_scheduled.yml is off (a job template
# variable): with 90 days nothing would go, and it costs a module run per job (CI time)
SCHEDULE = {'awx_schedule_id': 5, 'awx_schedule_name': 'hourly', 'karbor_log_max_age_days': 0}


def iso(moment: datetime.datetime) -> str:
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def expected_outcome(ticks: list[datetime.datetime]) -> dict[str, str]:
    """Fire time -> 'success' or 'missed', by the scheduler's rule: the first run
    at or after a fire time executes it when ``now <= fire + window``, else
    records it missed."""
    window = datetime.timedelta(seconds=WINDOW)
    outcome = {}
    for fire in FIRE_TIMES:
        first = next(t for t in ticks if t >= fire)
        outcome[iso(fire)] = 'success' if first <= fire + window else 'missed'
    return outcome


@pytest.fixture
def engine(cloud, tmp_path):
    """The test process's view of project A (the catalog: this test's container)."""
    return ProtectionEngine(state_dir=str(tmp_path / 'state'),
                            cloud=CloudSession({'cloud': cloud.a}))


@pytest.fixture
def image(cloud):
    """A 64 KiB Glance image of project A, deleted afterwards."""
    conn = cloud.connect(cloud.a)
    made = conn.image.create_image(name='karbor-awxsched-%s' % uuid.uuid4().hex[:6],
                                   disk_format='raw', container_format='bare',
                                   allow_duplicates=True)
    try:
        data = os.urandom(64 * 1024)
        made.upload(conn.image, data=io.BytesIO(data), size=len(data))
        conn.image.wait_for_status(made, 'active', failures=['killed'], wait=120)
        yield conn.image.get_image(made.id)
    finally:
        conn.image.delete_image(made.id, ignore_missing=True)


def claims(engine) -> list[dict]:
    """The scheduler's fire-time claims in the catalog bank the jobs share."""
    bank = engine.catalog.bank
    return [bank.get_json(key) for key in bank.iter_all('/scheduler/claims/')]


def drop_checkpoints(engine, checkpoint_ids) -> None:
    """Delete the checkpoints (their data and chunks) and then their tombstones."""
    bank = engine.bank(engine.provider(OS_INFRA_PROVIDER_ID))

    def drop(checkpoint_id):
        try:
            if engine.get_checkpoint(OS_INFRA_PROVIDER_ID, checkpoint_id).status != 'deleted':
                engine.delete_checkpoint(OS_INFRA_PROVIDER_ID, checkpoint_id)
        except NotFound:
            pass
        bank.delete_prefix('/checkpoints/%s/' % checkpoint_id)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(drop, checkpoint_ids))


def test_schedule_then_two_nodes_run_50_fire_times_exactly_once(awx, cloud, engine, image):
    started = time.monotonic()
    results = []
    plan_name = 'awxsched-%s' % uuid.uuid4().hex[:6]
    at_t0 = {'KARBOR_FAKE_NOW': T0.isoformat()}
    made = awx.run('plan.yml', {'plan_name': plan_name, 'plan_resources': [
        {'id': image.id, 'type': 'OS::Glance::Image'}]}, at_t0)
    results.append(made)
    plan = made.result('Ensure the plan')['plan']
    assert plan['provider_id'] == OS_INFRA_PROVIDER_ID
    hourly = {'name': 'hourly', 'plan': plan_name, 'operation': 'retention_protect',
              'max_backups': MAX_BACKUPS,
              'trigger': {'pattern': 'BEGIN:VEVENT\nRRULE:FREQ=HOURLY;INTERVAL=1\nEND:VEVENT',
                          'start_time': T0.strftime('%Y-%m-%d %H:%M:%S'), 'window': WINDOW}}
    scheduled = awx.run('schedule.yml', {'schedule_operations': [hourly]}, at_t0)
    results.append(scheduled)
    operation = scheduled.result('Ensure the scheduled operations')['results'][0][
        'scheduled_operation']
    assert operation['operation_definition']['plan_id'] == plan['id']

    ticks = simulated_ticks(FIRE_TIMES, T0, STEPS)
    outcome = expected_outcome(ticks)
    executed = sorted(f for f, state in outcome.items() if state == 'success')
    missed = sorted(f for f, state in outcome.items() if state == 'missed')
    # the design, not the product: some missed, one run exactly at the end of its window
    assert 3 <= len(missed) <= 5 and len(executed) >= 45
    assert any(t - datetime.timedelta(seconds=WINDOW) in FIRE_TIMES for t in ticks)
    checkpoint_ids: set[str] = set()
    try:
        nodes: dict[str, int] = {}  # awx_job_id -> node
        jobs_at: dict[str, set[str]] = {}  # tick -> its jobs' awx_job_id
        reported = {'runs': 0, 'missed': 0}
        for tick in ticks:
            pair = [awx.job('run_scheduled.yml', SCHEDULE, {'KARBOR_FAKE_NOW': tick.isoformat()})
                    for _node in (0, 1)]
            for node, job in enumerate(pair):
                nodes[str(job.job_id)] = node
                job.start()
            jobs_at[iso(tick)] = {str(job.job_id) for job in pair}
            for job in pair:
                result = job.wait()
                results.append(result)
                assert 'Traceback' not in result.stdout, result.stdout[-4000:]
                due = result.result('Run what is due')
                assert due['now'] == iso(tick)
                assert {r['state'] for r in due['runs']} <= {'success'}, due['runs']
                reported['runs'] += len(due['runs'])
                reported['missed'] += len(due['missed'])
                checkpoint_ids.update(r['checkpoint_id'] for r in due['runs']
                                      if r.get('checkpoint_id'))
        assert reported == {'runs': len(executed), 'missed': len(missed)}

        # every fire time claimed exactly once, with the state the window decides
        all_claims = claims(engine)
        assert len(all_claims) == len(FIRE_TIMES)
        assert {c['operation_id'] for c in all_claims} == {operation['id']}
        assert {c['fire_time']: c['state'] for c in all_claims} == outcome
        for claim in all_claims:
            # claimed by one of the two jobs of the tick that first saw the fire time
            assert claim['awx_job_id'] in jobs_at[iso(datetime.datetime.fromisoformat(
                claim['claimed_at'].replace('Z', '+00:00')))], claim
            assert (claim['awx_schedule_id'], claim['awx_schedule_name'],
                    claim['awx_job_launch_type']) == ('5', 'hourly', 'scheduled')
        succeeded = [c for c in all_claims if c['state'] == 'success']
        assert len({c['checkpoint_id'] for c in succeeded}) == len(executed)
        checkpoint_ids.update(c['checkpoint_id'] for c in succeeded)
        # both nodes did some of the work
        assert {nodes[c['awx_job_id']] for c in all_claims} == {0, 1}

        report = awx.run('scheduler_report.yml', {'report_plan': plan_name},
                         {'KARBOR_FAKE_NOW': ticks[-1].isoformat()})
        results.append(report)
        logs = report.result('Operation logs of the plan')['operation_logs']
        runs = [lg for lg in logs if lg['operation_type'] == 'scheduled_operation']
        assert len(runs) == len(FIRE_TIMES)
        assert sorted(lg['extra_info']['fire_time'] for lg in runs) == iso_sorted(FIRE_TIMES)
        assert sorted(lg['extra_info']['fire_time'] for lg in runs
                      if lg['status'] == 'missed') == missed
        assert sorted(lg['extra_info']['fire_time'] for lg in runs
                      if lg['status'] == 'success') == executed
        for lg in runs:
            assert lg['extra_info']['awx_job_id'] in jobs_at[iso(datetime.datetime.fromisoformat(
                (lg['ended_at'] or lg['started_at']).replace('Z', '+00:00')))]
            assert (lg['extra_info']['awx_schedule_id'],
                    lg['extra_info']['awx_schedule_name']) == ('5', 'hourly')
            if lg['status'] == 'missed':
                assert 'window of %d s' % WINDOW in lg['error_info'], lg
                assert lg['checkpoint_id'] is None
            else:
                assert lg['checkpoint_id'] and lg['started_at'] and lg['ended_at']
        # one scheduled checkpoint per executed fire time, never two
        protects = [lg for lg in logs if lg['operation_type'] == 'protect']
        checkpoint_ids.update(lg['checkpoint_id'] for lg in protects if lg['checkpoint_id'])
        assert len(protects) == len(executed)
        assert {lg['checkpoint_id'] for lg in protects} == \
            {c['checkpoint_id'] for c in succeeded}
        made_for = sorted(engine.get_checkpoint(OS_INFRA_PROVIDER_ID, cid).extra_info['fire_time']
                          for cid in checkpoint_ids)
        assert made_for == executed
        # retention: exactly the newest five executed fire times are left, all others deleted
        listed = report.result('Checkpoints')['checkpoints']
        assert sorted(c['extra_info']['fire_time'] for c in listed) == executed[-MAX_BACKUPS:]
        assert {c['status'] for c in listed} == {'available'}
        for checkpoint in listed:
            extra = checkpoint['extra_info']
            assert extra['scheduled_operation_id'] == operation['id']
            assert extra['awx_job_id'] in jobs_at[iso(datetime.datetime.fromisoformat(
                checkpoint['created_at'].replace('Z', '+00:00')))]
            assert (extra['awx_schedule_id'], extra['awx_schedule_name'],
                    extra['awx_job_launch_type']) == ('5', 'hourly', 'scheduled')
        kept = {c['id'] for c in listed}
        statuses = {cid: engine.get_checkpoint(OS_INFRA_PROVIDER_ID, cid).status
                    for cid in checkpoint_ids}
        assert {cid for cid, status in statuses.items() if status == 'available'} == kept
        assert {status for cid, status in statuses.items() if cid not in kept} == {'deleted'}
        deletes = [lg for lg in logs if lg['operation_type'] == 'delete']
        assert sorted(lg['checkpoint_id'] for lg in deletes) == sorted(checkpoint_ids - kept)
        assert {lg['status'] for lg in deletes} == {'deleted'}
    finally:
        checkpoint_ids.update(c.get('checkpoint_id') for c in claims(engine)
                              if c.get('checkpoint_id'))
        drop_checkpoints(engine, sorted(checkpoint_ids))
        elapsed = time.monotonic() - started
        print('\n%d fire times, %d ticks x 2 AWX jobs together, %d jobs in all: %.1f s'
              % (len(FIRE_TIMES), len(ticks), len(results), elapsed))
    for result in results:
        assert 'Traceback' not in result.stdout, result.stdout[-4000:]


def iso_sorted(moments) -> list[str]:
    return sorted(iso(m) for m in moments)
