# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``wait: false``: the module returns while a detached grandchild finishes
the flow under its own lease (renewed again there: threads do not survive
fork). Inside AWX the child dies with the job's container."""

from __future__ import annotations

import os
from typing import Any, Callable


def detach(work: Callable[[], None]) -> bool:
    """Run ``work`` in a detached child process; True in the parent."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)  # the first child exits at once; the grandchild works
        return True
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        work()
    finally:
        os._exit(0)
    return False  # pragma: no cover


def in_child(engine: Any, lease: Any, work: Callable[[], None]) -> Callable[[], None]:
    """``work`` as the detached child runs it: fresh connections (a forked
    socket is shared with the parent) and the lease renewed from the child."""
    def child() -> None:
        if engine.cloud is not None:
            engine.cloud.reset()
        for provider in engine.providers.list():
            if provider._bank is not None:  # pylint: disable=protected-access
                provider._bank.reset()  # pylint: disable=protected-access
        lease.start_renewal()
        work()
    return child
