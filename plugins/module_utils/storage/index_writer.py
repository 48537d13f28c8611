# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A protecting checkpoint's index.json and resource status objects, kept
current from many threads without a bank write per resource on the
critical path."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource


class IndexWriter:
    """Keeps a protecting checkpoint's index.json and its resources' status
    objects current without bank writes per resource on the critical path:
    everything is written at most every ``interval`` seconds (at once for a
    failure), and at the end all together in one round trip."""

    def __init__(self, checkpoint: Any, progress: Any, interval: float = 5.0) -> None:
        self.checkpoint = checkpoint
        self.progress = progress
        self.interval = interval
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._unwritten: dict[str, str] = {}  # resource id -> status object to write

    def resource_status(self, res: Resource, status: str, reason: str | None) -> None:
        with self._lock:
            data = self.checkpoint.data
            data['resources_status'][res.key] = status
            self._unwritten[res.id] = status
            if reason:
                data.setdefault('resources_reason', {})[res.key] = reason
            if reason or time.monotonic() - self._last >= self.interval:
                self._commit()

    def finish(self, status: str, error: str | None) -> None:
        with self._lock:
            self.checkpoint.data['status'] = status
            if error:
                self.checkpoint.data['error'] = error
            self._commit()

    def _commit(self) -> None:
        self.checkpoint.data['progress'] = self.progress.to_dict()
        writes = [lambda rid=rid, value=value: self.checkpoint.resource_section(rid).put(
            'status', value) for rid, value in self._unwritten.items()]
        writes.append(self.checkpoint.commit)
        with concurrent.futures.ThreadPoolExecutor(min(len(writes), 16)) as pool:
            for future in [pool.submit(write) for write in writes]:
                future.result()
        self._unwritten.clear()
        self._last = time.monotonic()
