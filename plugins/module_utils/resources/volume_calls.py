# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Cinder calls and waits the volume plugin's operations share (protect,
restore, delete; both backup modes), each bounded by the flow's timeout."""

from __future__ import annotations

import time
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import (
    CloudSession, wait_for)
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    KarborError, NotFound)
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


def create_when_idle(ctx: OperationContext, what: str, create: Callable,
                     attrs: dict[str, Any]) -> Any:
    """Create a backup or snapshot, waiting out another operation on the volume.

    Cinder refuses both while the volume is busy (``backing-up`` for another
    checkpoint's backup, ``attaching``...) with a 400 that names its status.
    Two checkpoints of one volume at once are normal (a schedule and a manual
    run), so the later one waits for the volume instead of failing.
    """
    deadline = time.monotonic() + ctx.timeout
    while True:
        try:
            return ctx.cloud.call(what, create, **attrs)
        except KarborError as exc:
            remaining = deadline - time.monotonic()
            if exc.details.get('http_status') not in (400, None) or \
                    ('current status' not in exc.msg and 'status must be' not in exc.msg):
                raise  # not Cinder's "volume is busy" refusal
            if remaining <= 0:
                raise
            ctx.check_lease()
            volume = wait_volume(ctx, attrs['volume_id'], VOLUME_OK, remaining)
            if volume.status == 'in-use' and not attrs.get('force'):
                raise


#: statuses in which Cinder lets a volume or snapshot be deleted
SETTLED = ('available', 'error')


def delete_when_settled(ctx: OperationContext, kind: str, object_id: str) -> None:
    """Delete a volume or snapshot (``kind``) of the run's own once Cinder
    lets it go (not while it is being made, uploaded or backed up), and wait
    until it is gone; stuck in an error_* status fails at once."""
    block = ctx.cloud.conn.block_storage
    get = getattr(block, 'get_' + kind)
    what = '%s %s' % (kind, object_id)

    def fetch() -> Any:
        return get_or_none(ctx.cloud, what.capitalize(), get, object_id)

    item = fetch()
    if item is None:
        return
    if item.status not in SETTLED:
        wait_for(what, fetch, lambda i: i is None or i.status in SETTLED,
                 lambda i: '%s is %s' % (kind, i.status) if i.status.startswith('error') else None,
                 ctx.timeout)
    ctx.cloud.call('Deleting %s' % what, getattr(block, 'delete_' + kind), object_id)
    wait_gone(ctx, what, get, object_id)
