# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Cinder waits the volume plugin's operations share (protect, restore,
delete), each bounded by the flow's timeout."""

from __future__ import annotations

from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import (
    CloudSession, wait_for)
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import NotFound
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    OperationContext)

VOLUME_OK = ('available', 'in-use')
BACKUP_FAILED = ('error',)


def get_or_none(cloud: CloudSession, what: str, getter, resource_id: str):
    """The resource, or None when Cinder says it does not exist."""
    try:
        return cloud.call(what, getter, resource_id)
    except NotFound:
        return None


def wait_volume(ctx: OperationContext, volume_id: str, statuses=VOLUME_OK,
                timeout: float | None = None) -> Any:
    cloud = ctx.cloud
    return wait_for(
        'volume %s' % volume_id,
        lambda: cloud.call('Volume %s' % volume_id, cloud.conn.block_storage.get_volume, volume_id),
        lambda v: v.status in statuses,
        lambda v: 'volume is %s' % v.status if v.status.startswith('error') else None,
        ctx.timeout if timeout is None else timeout)


def wait_backup(ctx: OperationContext, backup_id: str, statuses=('available',)) -> Any:
    cloud = ctx.cloud
    return wait_for(
        'backup %s' % backup_id,
        lambda: cloud.call('Backup %s' % backup_id, cloud.conn.block_storage.get_backup, backup_id),
        lambda b: b.status in statuses,
        lambda b: ('backup is %s: %s' % (b.status, b.fail_reason or 'no reason given')
                   if b.status in BACKUP_FAILED else None),
        ctx.timeout)


def wait_gone(ctx: OperationContext, what: str, getter, resource_id: str) -> None:
    wait_for(what, lambda: get_or_none(ctx.cloud, what, getter, resource_id),
             lambda r: r is None,
             lambda r: '%s is %s' % (what, r.status) if r.status == 'error_deleting' else None,
             ctx.timeout)
