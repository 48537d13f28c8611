# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operation logs (Karbor's ``operation_logs``): one record per protect,
restore, delete or scheduled run, started and finished in one place, so
every run writes the same fields."""

from __future__ import annotations

import datetime
from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import KarborError
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import (
    RecordStore, public)

LOG_FIELDS = ('checkpoint_id', 'plan_id', 'provider_id', 'restore_id', 'scheduled_operation_id')


class OperationLogService:
    """The project's operation logs in the catalog."""

    def __init__(self, store: RecordStore, project_id: Any) -> None:
        self.store = store
        self._project_id = project_id  # a callable: the cloud is reached only when needed

    @property
    def project_id(self) -> str:
        return self._project_id()

    def start(self, operation_type: str, status: str, started_at: str | None = None,
              extra_info: dict | None = None, **fields: Any) -> dict[str, Any]:
        """A new log of a run that begins now (``started_at`` None: not started)."""
        record = {name: fields.pop(name, None) for name in LOG_FIELDS}
        record.update({'operation_type': operation_type, 'status': status,
                       'started_at': started_at, 'ended_at': None, 'error_info': None,
                       'extra_info': dict(extra_info or {})})
        record.update(fields)
        return self.store.new(self.project_id, record)

    def finish(self, log: dict[str, Any], status: str, error: str | None) -> None:
        """Record how the run ended; a log that cannot be written is not an
        error of the run (its checkpoint or restore carries the outcome)."""
        log['status'] = status
        log['ended_at'] = timeutil.isoformat(timeutil.now())
        log['error_info'] = error
        try:
            self.store.save(log)
        except KarborError:
            pass

    def save(self, log: dict[str, Any]) -> dict[str, Any]:
        return self.store.save(log)

    def get(self, log_id: str) -> dict[str, Any]:
        return public(self.store.get(self.project_id, log_id))

    def list(self, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        return [public(log) for log in self.store.list(self.project_id, limit=limit, **filters)]

    def prune(self, keep: int | None, max_age_days: int | None, dry_run: bool = False,
              now: datetime.datetime | None = None) -> list[str]:
        """Delete the logs beyond the newest ``keep`` and those older than
        ``max_age_days`` (None or <= 0: no such limit). Ids deleted (in
        ``dry_run``, that would be), oldest first.

        Why: every run adds a log, and an unbounded catalog makes listings
        slower and costs storage. A log whose run has not ended is kept by the
        count rule (it may be running); the age rule takes it too, as no run
        lasts that long (a run that died never ends its log).
        """
        now = now or timeutil.now()
        cutoff = now - datetime.timedelta(days=max_age_days) if max_age_days and \
            max_age_days > 0 else None
        doomed = []
        for rank, (stamp, key) in enumerate(self.store.iter_stamped_keys(self.project_id)):
            too_old = cutoff is not None and stamp < cutoff
            if too_old or (keep is not None and keep > 0 and rank >= keep):
                doomed.append((key, too_old))
        deleted = []
        doomed.reverse()
        logs = self.store.bank.get_json_many([key for key, _too_old in doomed])
        for (_key, too_old), log in zip(doomed, logs):
            if log is None:  # deleted since it was listed
                continue
            if not log.get('ended_at') and not too_old:
                continue
            if not dry_run:
                self.store.delete(log)
            deleted.append(log['id'])
        return deleted
