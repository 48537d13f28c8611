# -*- coding: utf-8 -*-
"""The fault points kill the process only when asked to."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from ansible_collections.karbor.protection.plugins.module_utils.common import faults

CODE = ('from ansible_collections.karbor.protection.plugins.module_utils.common.faults import '
        'fault_point; fault_point("protect.main"); print("survived")')


def run(env_value):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    env.pop('KARBOR_FAULT', None)
    if env_value:
        env['KARBOR_FAULT'] = env_value
    return subprocess.run([sys.executable, '-c', CODE], env=env, capture_output=True, text=True,
                          check=False)


def test_named_point_kills_with_sigkill():
    proc = run('protect.main')
    assert proc.returncode == -signal.SIGKILL and 'survived' not in proc.stdout


def test_other_points_and_no_setting_do_nothing():
    assert run('protect.index').stdout.strip() == 'survived'
    assert run(None).stdout.strip() == 'survived'


def test_every_operation_has_four_phases():
    assert len(faults.POINTS) == 12 and 'delete.index' in faults.POINTS
