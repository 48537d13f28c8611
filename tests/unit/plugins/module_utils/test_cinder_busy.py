# -*- coding: utf-8 -*-
"""A backup asked for while another runs on the volume waits, not fails."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.resources import (
    volume_calls as cinder_plugin)
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    KarborError, ResourceTimeout)

BUSY = ('Invalid volume: Volume to be backed up must be available or in-use, but the current '
        'status is "backing-up".')


class HttpError(Exception):
    """Carries status_code as openstacksdk's HttpException does."""

    def __init__(self, message, status_code):
        super().__init__(message)
        self.status_code = status_code


class Cinder:
    """Answers like Cinder: 400 while the volume is busy, a backup afterwards."""

    def __init__(self, busy_polls, refusals=1, error=BUSY, status=400):
        self.status = status
        self.statuses = ['backing-up'] * busy_polls + ['available']
        self.refusals = refusals
        self.error = error
        self.created = []

    def get_volume(self, volume_id):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return SimpleNamespace(id=volume_id, status=status)

    def create_backup(self, **attrs):
        if self.refusals:
            self.refusals -= 1
            raise HttpError(self.error, self.status)
        self.created.append(attrs)
        return SimpleNamespace(id='backup-%d' % len(self.created))


def context(cinder, timeout=30.0):
    cloud = CloudSession({})
    cloud._conn = SimpleNamespace(block_storage=cinder)  # pylint: disable=protected-access
    leases = []
    return SimpleNamespace(cloud=cloud, timeout=timeout,
                           check_lease=lambda: leases.append(1)), leases


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(cinder_plugin.time, 'monotonic', iter(range(0, 10 ** 6)).__next__)
    monkeypatch.setattr('time.sleep', lambda _seconds: None)


def test_busy_volume_is_waited_for_then_backed_up():
    cinder = Cinder(busy_polls=3)
    ctx, leases = context(cinder)
    backup = cinder_plugin.create_when_idle(ctx, 'Backup of volume vol-1', cinder.create_backup,
                                            {'volume_id': 'vol-1', 'force': False})
    assert backup.id == 'backup-1'
    assert cinder.created == [{'volume_id': 'vol-1', 'force': False}]
    assert cinder.statuses == ['available'] and leases  # it polled the volume, kept the lease


def test_other_refusals_are_not_retried():
    cinder = Cinder(busy_polls=0, error='Invalid backup container name')
    ctx, _leases = context(cinder)
    with pytest.raises(KarborError) as err:
        cinder_plugin.create_when_idle(ctx, 'Backup of volume vol-1', cinder.create_backup,
                                       {'volume_id': 'vol-1'})
    assert 'Invalid backup container name' in err.value.msg and cinder.created == []


def test_a_server_error_naming_a_status_is_not_taken_for_a_busy_volume():
    cinder = Cinder(busy_polls=1, status=500)
    ctx, _leases = context(cinder)
    with pytest.raises(KarborError) as err:
        cinder_plugin.create_when_idle(ctx, 'Backup of volume vol-1', cinder.create_backup,
                                       {'volume_id': 'vol-1'})
    assert 'current status' in err.value.msg and err.value.details['http_status'] == 500
    assert cinder.created == []


def test_a_volume_busy_past_the_timeout_fails_clearly():
    cinder = Cinder(busy_polls=10 ** 6)
    ctx, _leases = context(cinder, timeout=20)
    with pytest.raises(ResourceTimeout) as err:
        cinder_plugin.create_when_idle(ctx, 'Backup of volume vol-1', cinder.create_backup,
                                       {'volume_id': 'vol-1'})
    assert 'volume vol-1' in err.value.msg and cinder.created == []
