# -*- coding: utf-8 -*-
"""The catalog services modules call: public records, the exactly-once
baselines (``schedule_since``, ``enabled_at``), users that block deletion,
and the one present/absent cycle of the record modules."""
from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine.plans import PlanService
from ansible_collections.karbor.protection.plugins.module_utils.engine.scheduled_operations import (
    ScheduledOperationService, newly_enabled)
from ansible_collections.karbor.protection.plugins.module_utils.engine.triggers import (
    TriggerService, schedule_changed)
from ansible_collections.karbor.protection.plugins.module_utils.engine.time_trigger import (
    TimeTrigger)
from ansible_collections.karbor.protection.plugins.module_utils.module.record_state import (
    RecordStateModule)
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import Catalog
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 1, 1, tzinfo=UTC)
PROVIDER = 'b766f37c-d011-4026-8228-28730d734a3f'


class FakeProvider:
    id = PROVIDER


def provider(provider_id):
    if provider_id != PROVIDER:
        raise NotFound('Provider %s does not exist.' % provider_id)
    return FakeProvider()


class Services:
    project_id = 'project-a'

    def _project(self):
        return self.project_id

    def __init__(self, root):
        catalog = Catalog(LocalBank(os.path.join(root, 'catalog')))
        self.catalog = catalog
        self.plans = PlanService(catalog.plans, self._project, catalog.scheduled_operations,
                                 provider, lambda: None)
        self.triggers = TriggerService(catalog.triggers, self._project, catalog.scheduled_operations)
        self.scheduled_operations = ScheduledOperationService(
            catalog.scheduled_operations, self._project, self.plans, self.triggers, provider)
        # a plan without resources: written directly, PlanService.validate needs the cloud
        self.plan = catalog.plans.new(self.project_id, {'name': 'p', 'provider_id': PROVIDER,
                                                        'resources': []})


def at(monkeypatch, hours):
    moment = T0 + datetime.timedelta(hours=hours)
    monkeypatch.setenv('KARBOR_FAKE_NOW', moment.isoformat())
    return moment.strftime('%Y-%m-%dT%H')


def properties(rule='FREQ=HOURLY', window=900, timezone=None):
    return TimeTrigger('RRULE:' + rule, 'calendar', T0, window=window,
                       timezone=timezone).properties()


@pytest.fixture
def services(tmp_path, monkeypatch):
    at(monkeypatch, 0)
    return Services(str(tmp_path))


def test_a_new_trigger_owes_fire_times_from_its_creation(services, monkeypatch):
    hour = at(monkeypatch, 5)
    trigger = services.triggers.create({'name': 'hourly', 'properties': properties()})
    assert trigger['schedule_since'].startswith(hour) and trigger['type'] == 'time'
    assert not any(key.startswith('_') for key in trigger)
    assert services.triggers.get('hourly') == trigger == services.triggers.get(trigger['id'])


def test_only_a_schedule_change_moves_schedule_since(services, monkeypatch):
    trigger = services.triggers.create({'name': 'hourly', 'properties': properties()})
    at(monkeypatch, 2)
    renamed = services.triggers.update(trigger, {'name': 'renamed',
                                                 'properties': properties(window=1800)})
    assert renamed['schedule_since'] == trigger['schedule_since']  # window, name: same times
    hour = at(monkeypatch, 3)
    daily = services.triggers.update(renamed, {'properties': properties('FREQ=DAILY')})
    assert daily['schedule_since'].startswith(hour)
    assert schedule_changed(None, properties())
    assert schedule_changed(properties(), properties(timezone='Europe/Berlin'))


def test_dry_runs_write_nothing(services, monkeypatch):
    preview = services.triggers.create({'name': 'hourly', 'properties': properties()},
                                       dry_run=True)
    assert 'schedule_since' in preview and services.triggers.list() == []
    trigger = services.triggers.create({'name': 'hourly', 'properties': properties()})
    at(monkeypatch, 1)
    services.triggers.update(trigger, {'properties': properties('FREQ=DAILY')}, dry_run=True)
    services.triggers.delete(trigger, dry_run=True)
    assert services.triggers.list() == [trigger]


def test_an_operation_owes_fire_times_from_creation_and_re_enabling(services, monkeypatch):
    services.triggers.create({'name': 'hourly', 'properties': properties()})
    hour = at(monkeypatch, 1)
    op = services.scheduled_operations.create({
        'name': 'op', 'operation_type': 'protect', 'trigger_id': 'hourly',
        'operation_definition': {'plan_id': 'p'}, 'enabled': True})
    assert op['enabled_at'].startswith(hour)
    assert op['operation_definition'] == {'plan_id': services.plan['id'], 'provider_id': PROVIDER}
    at(monkeypatch, 2)
    disabled = services.scheduled_operations.update(op, {'enabled': False})
    assert disabled['enabled_at'] == op['enabled_at']
    at(monkeypatch, 3)
    renamed = services.scheduled_operations.update(disabled, {'name': 'still-off'})
    assert renamed['enabled_at'] == op['enabled_at']
    hour = at(monkeypatch, 4)
    enabled = services.scheduled_operations.update(renamed, {'enabled': True})
    assert enabled['enabled_at'].startswith(hour)  # fire times while disabled are not owed
    assert newly_enabled(None, {'enabled': False})
    assert not newly_enabled({'enabled': True}, {'enabled': True})


def test_records_in_use_are_not_deleted(services):
    trigger = services.triggers.create({'name': 'hourly', 'properties': properties()})
    op = services.scheduled_operations.create({
        'name': 'op', 'operation_type': 'protect', 'trigger_id': trigger['id'],
        'operation_definition': {'plan_id': services.plan['id']}, 'enabled': True})
    with pytest.raises(Conflict, match='used by scheduled operation'):
        services.triggers.delete(trigger, dry_run=True)
    with pytest.raises(Conflict, match='used by scheduled operation'):
        services.plans.delete(services.plan)
    services.catalog.bank.put('/scheduler/cursors/%s/%s' % (op['project_id'], op['id']), {})
    services.scheduled_operations.delete(op)
    assert list(services.catalog.bank.iter_all('/scheduler/')) == []  # claims and cursor too
    services.triggers.delete(trigger)
    services.plans.delete(services.plan)
    with pytest.raises(NotFound, match='create it with karbor.protection.trigger'):
        services.triggers.get('hourly')
    assert services.plans.find('p') is None


class FakeModule(RecordStateModule):
    """The cycle over the trigger service, without AnsibleModule."""
    catalog_kind = 'triggers'
    result_key = 'trigger'
    new_noun = 'a trigger'

    def __init__(self, engine, check_mode=False, **params):
        # pylint: disable=super-init-not-called
        self._engine = engine
        self.check_mode = check_mode
        self.params = dict({'id': None, 'name': None, 'state': 'present', 'window': None},
                           **params)

    def new_fields(self):
        return {'name': self.params['name'], 'properties': properties(
            window=self.params['window'] or 900)}

    def changes(self, record):
        if self.params['window'] in (None, record['properties']['window']):
            return {}
        return {'properties': properties(window=self.params['window'])}


def test_the_present_absent_cycle(services):
    assert FakeModule(services, check_mode=True, name='t').run()['changed'] is True
    assert services.triggers.list() == []
    made = FakeModule(services, name='t').run()
    assert made['changed'] is True and services.triggers.list() == [made['trigger']]
    again = FakeModule(services, name='t').run()
    assert again == {'changed': False, 'trigger': made['trigger']}
    preview = FakeModule(services, check_mode=True, name='t', window=1800).run()
    assert preview['trigger']['properties']['window'] == 1800
    assert services.triggers.get('t')['properties']['window'] == 900
    assert FakeModule(services, id=made['trigger']['id'], window=1800).run()['changed']
    with pytest.raises(InvalidInput, match='to create a trigger give its name, not an id'):
        FakeModule(services, id='0b3e1c2a-9f8e-4d6c-b5a4-3f2e1d0c9b8a').run()
    assert FakeModule(services, check_mode=True, name='t', state='absent').run()['changed']
    assert services.triggers.find('t') is not None
    assert FakeModule(services, name='t', state='absent').run() == {'changed': True}
    assert FakeModule(services, name='t', state='absent').run() == {'changed': False}


def test_operation_logs_prune_by_count_and_age(tmp_path, monkeypatch):
    """keep never takes a log whose run has not ended; age takes any; oldest first."""
    from ansible_collections.karbor.protection.plugins.module_utils.engine.operation_logs import (
        OperationLogService)
    catalog = Catalog(LocalBank(str(tmp_path)))
    logs = OperationLogService(catalog.operation_logs, lambda: 'p1')
    day = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
    made = []
    for index in range(5):  # day 0 .. day 4; day 1's run never ended (it died)
        monkeypatch.setenv('KARBOR_FAKE_NOW', (day + datetime.timedelta(days=index)).isoformat())
        log = logs.start('protect', 'protecting', started_at='x')
        if index != 1:
            logs.finish(log, 'available', None)
        made.append(log['id'])
    now = day + datetime.timedelta(days=4, hours=1)
    assert logs.prune(2, None, dry_run=True, now=now) == [made[0], made[2]]
    assert len(logs.list()) == 5  # the dry run deleted nothing
    assert logs.prune(None, 3, now=now) == [made[0], made[1]]  # older than 3 days, ended or not
    assert [log['id'] for log in logs.list()] == [made[4], made[3], made[2]]
    assert logs.prune(None, 3, now=now) == []
    assert logs.prune(0, 0, now=now) == []  # no limits: nothing goes
