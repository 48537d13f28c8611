# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retention of a plan's checkpoints (Karbor's ``retention_protect``), done safely.

Karbor asked Swift for a descending listing that came back ascending and
deleted ``items[max_backups:]``, i.e. possibly the newest checkpoints. Here the
choice is a pure function over explicit ``created_at`` values, and:

* only ``available`` checkpoints count and only they can be deleted;
* the newest available checkpoint is never deleted, whatever its age;
* a checkpoint being restored (or otherwise busy) is skipped, not forced;
* ``error`` checkpoints (runs that failed or died) never count, and go once
  they are older than a grace period, so failed runs do not pile up their
  Cinder backups and bank objects; the grace leaves time to read why;
* what goes is deleted newest first: an incremental Cinder backup's parent is
  older than it, and Cinder refuses to delete a parent while it has
  dependents, so oldest first skipped a whole expired chain (all but its last
  incremental) at every run. A checkpoint whose backup still has dependents in
  a kept checkpoint is skipped with the plugin's reason.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Iterable

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, KarborError, NotFound)


def normalize_limit(value: Any, name: str) -> int:
    """Karbor's rule: a value <= 0 (or unset) means unlimited, stored as -1."""
    if value is None or value == '':
        return -1
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput('%s must be a whole number; got %r.' % (name, value))
    return number if number > 0 else -1


def _sort_key(item: dict) -> tuple:
    """Newest first by created_at; equal times by fire time, then id (stable)."""
    extra = item.get('extra_info') or {}
    return (timeutil.parse_time(item['created_at']), str(extra.get('fire_time') or ''),
            str(item.get('id')))


#: hours an ``error`` checkpoint is kept before retention deletes it
DEFAULT_ERROR_GRACE_HOURS = 24


def select_for_deletion(checkpoints: Iterable[dict], max_backups: int | None,
                        retention_duration_days: int | None,
                        now: datetime.datetime,
                        error_grace_hours: int | None = DEFAULT_ERROR_GRACE_HOURS) -> list[str]:
    """Ids of the checkpoints retention deletes, in deletion order: newest first
    (incremental backups before their parents).

    ``checkpoints`` are dicts with ``id``, ``status``, ``created_at`` and
    optionally ``extra_info`` and ``busy`` (being restored). A checkpoint goes
    when it is not among the newest ``max_backups`` available ones, or when it
    is older than ``retention_duration_days`` days; never the newest available
    one, never a busy one. An ``error`` checkpoint goes when it is older than
    ``error_grace_hours`` (None or negative: error checkpoints are kept).
    """
    checkpoints = list(checkpoints)
    max_backups = normalize_limit(max_backups, 'max_backups')
    days = normalize_limit(retention_duration_days, 'retention_duration')
    available = sorted((c for c in checkpoints if c.get('status') == R.CP_AVAILABLE),
                       key=_sort_key, reverse=True)
    oldest_kept = now - datetime.timedelta(days=days) if days > 0 else None
    doomed = []
    for rank, item in enumerate(available):
        if rank == 0 or item.get('busy'):
            continue
        too_many = max_backups > 0 and rank >= max_backups
        too_old = oldest_kept is not None and timeutil.parse_time(item['created_at']) < oldest_kept
        if too_many or too_old:
            doomed.append(item)
    if error_grace_hours is not None and error_grace_hours >= 0:
        errors_before = now - datetime.timedelta(hours=error_grace_hours)
        doomed.extend(c for c in checkpoints if c.get('status') == R.CP_ERROR
                      and not c.get('busy') and c.get('created_at')
                      and timeutil.parse_time(c['created_at']) < errors_before)
    return [item['id'] for item in sorted(doomed, key=_sort_key, reverse=True)]


def _deletion_key(project_id: str, checkpoint_id: str) -> str:
    return '/scheduler/deletions/%s/%s' % (project_id, checkpoint_id)


def apply_retention(engine, provider_id: str, plan_id: str, max_backups: int | None,
                    retention_duration_days: int | None,
                    now: datetime.datetime | None = None, claims=None,
                    dry_run: bool = False,
                    error_grace_hours: int | None = DEFAULT_ERROR_GRACE_HOURS
                    ) -> dict[str, list]:
    """Delete what :func:`select_for_deletion` picks among the plan's checkpoints.

    Two runs pruning the same plan at once pick the same checkpoints; with a
    ``claims`` bank each deletion is first claimed with an exclusive create,
    so only one run deletes a checkpoint (the engine's own status check is
    not atomic). Returns ``deleted`` ids, ``skipped`` (id and why) and
    ``errors`` (id and message); it never raises for one checkpoint. With
    ``dry_run``, ``deleted`` names what would be deleted and nothing is.
    """
    now = now or timeutil.now()
    listed = [c for c in engine.list_checkpoints(provider_id, plan_id=plan_id)
              if c.status in (R.CP_AVAILABLE, R.CP_ERROR)]
    items = [{'id': c.id, 'status': c.status, 'created_at': c.data['created_at'],
              'extra_info': c.extra_info} for c in listed]
    status_of = {item['id']: item['status'] for item in items}
    result: dict[str, list] = {'deleted': [], 'skipped': [], 'errors': []}
    doomed = select_for_deletion(items, max_backups, retention_duration_days, now,
                                 error_grace_hours)
    if dry_run:
        result['deleted'] = doomed
        return result
    for checkpoint_id in doomed:
        key = None
        try:
            if claims is not None:
                key = _deletion_key(engine.project_id, checkpoint_id)
                try:
                    claims.claim(key, {'since': timeutil.isoformat(now)})
                except Conflict:
                    key = None
                    result['skipped'].append({'id': checkpoint_id, 'reason': 'Another run is '
                                              'deleting checkpoint %s.' % checkpoint_id})
                    continue
                status = engine.get_checkpoint(provider_id, checkpoint_id).status
                if status != status_of[checkpoint_id]:
                    result['skipped'].append({'id': checkpoint_id, 'reason': 'Checkpoint %s is '
                                              'now %s.' % (checkpoint_id, status)})
                    continue
            engine.delete_checkpoint(provider_id, checkpoint_id)
            result['deleted'].append(checkpoint_id)
        except (Conflict, NotFound) as exc:
            result['skipped'].append({'id': checkpoint_id, 'reason': exc.msg})
        except KarborError as exc:
            result['errors'].append({'id': checkpoint_id, 'error': exc.msg})
        finally:
            if key is not None:
                claims.delete(key)
    return result


class Retention:
    """Retention of the engine's plans, every deletion claimed in ``claims``
    (the catalog bank), so the scheduler's ``retention_protect`` and the
    ``checkpoint_prune`` module never delete one checkpoint twice."""

    def __init__(self, engine, claims: Callable[[], Any]) -> None:
        self.engine = engine
        self._claims = claims  # opened when a prune runs: the catalog bank is lazy

    @property
    def claims(self):
        return self._claims()

    def prune(self, plan: dict[str, Any], max_backups: int | None,
              retention_duration_days: int | None = None, dry_run: bool = False,
              now: datetime.datetime | None = None,
              error_grace_hours: int | None = DEFAULT_ERROR_GRACE_HOURS) -> dict[str, list]:
        """Keep the plan's newest ``max_backups`` available checkpoints and none
        older than ``retention_duration_days`` (never the newest one); delete
        error checkpoints older than ``error_grace_hours``."""
        return apply_retention(self.engine, plan['provider_id'], plan['id'], max_backups,
                               retention_duration_days, now, claims=self.claims,
                               dry_run=dry_run, error_grace_hours=error_grace_hours)
