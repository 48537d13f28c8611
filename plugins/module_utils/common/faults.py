# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named crash points for the fault-injection tests.

``KARBOR_FAULT=<operation>.<phase>`` (operation: protect, restore, delete;
phase: prepare, main, complete, index) makes the process SIGKILL itself when
it reaches that point, as a power cut would: no ``finally``, no cleanup.
The tests then check that a later run finishes or cleans up what was left.
"""

from __future__ import annotations

import os
import signal

POINTS = tuple('%s.%s' % (operation, phase)
               for operation in ('protect', 'restore', 'delete')
               for phase in ('prepare', 'main', 'complete', 'index'))


def fault_point(name: str) -> None:
    if os.environ.get('KARBOR_FAULT') == name:
        os.kill(os.getpid(), signal.SIGKILL)
