# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: one JSON line per task result in the file named by
KARBOR_TASK_LOG, so integration tests can tell exactly which tasks changed."""
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: task_log
type: aggregate
short_description: Write each task result as a JSON line (integration tests only)
description:
  - Appends one JSON object per task and host to the file named by C(KARBOR_TASK_LOG).
requirements:
  - enabled in callbacks_enabled
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_log'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, status: str) -> None:
        path = os.environ.get('KARBOR_TASK_LOG')
        if not path:
            return
        task = result._task  # pylint: disable=protected-access
        data = result._result  # pylint: disable=protected-access
        record = {
            'task': task.get_name(),
            'action': task.action,
            'host': result._host.get_name(),  # pylint: disable=protected-access
            'status': status,
            'changed': bool(data.get('changed', False)),
            'result': data,
        }
        with open(path, 'a', encoding='utf-8') as handle:
            handle.write(json.dumps(record, default=str) + '\n')

    def v2_runner_on_ok(self, result):
        self._write(result, 'changed' if result._result.get('changed') else 'ok')  # pylint: disable=protected-access

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._write(result, 'skipped')
