# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-task wall time for the benchmarks, as JSON lines.

profile_tasks lives in ansible.posix, which ansible-core does not ship, so
the benchmarks bring this small callback: each finished task appends
``{"name", "action", "seconds", "status"}`` to the file named by
``KARBOR_BENCH_TIMES``. The time runs from the task's start callback to its
result, i.e. what a playbook user waits for that task.
"""

from __future__ import annotations

DOCUMENTATION = r'''
name: bench_timer
type: aggregate
short_description: Write per-task wall times to a JSON lines file (benchmarks only)
description:
  - Appends one JSON object per task result to the file named by KARBOR_BENCH_TIMES.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=bench_timer
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get('KARBOR_BENCH_TIMES')
        self._started = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.monotonic()

    def _record(self, result, status):
        end = time.monotonic()
        task = result._task
        start = self._started.get(task._uuid, end)
        if not self._path:
            return
        with open(self._path, 'a', encoding='utf-8') as handle:
            handle.write(json.dumps({'name': task.get_name(), 'action': task.action,
                                     'seconds': end - start, 'status': status}) + '\n')

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')
