# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bank leases: how a later run knows that the process writing a
checkpoint has died.

The owner writes ``/leases/<owner_id>`` with an expiry time and renews it
from a background thread while it works. A ``protecting`` checkpoint whose
owner's lease is gone or expired is a zombie (Karbor never detected these).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Callable

from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    KarborError, LeaseLost, NotFound, InvalidInput)

LEASE_PREFIX = '/leases/'


def lease_key(owner_id: str) -> str:
    return LEASE_PREFIX + owner_id


class Lease:
    """One process's lease on a bank."""

    def __init__(self, bank: Bank, expire_window: int = 120, renew_window: int = 30,
                 validity_window: int = 20, clock: Callable[[], float] = time.time) -> None:
        if not 0 < validity_window < expire_window or not 0 < renew_window < expire_window:
            raise InvalidInput('Lease windows are inconsistent (expire %s, renew %s, validity %s): '
                               'renew and validity windows must be positive and shorter than the '
                               'expire window.' % (expire_window, renew_window, validity_window))
        self.bank = bank
        self.owner_id = str(uuid.uuid4())
        self.expire_window = expire_window
        self.renew_window = renew_window
        self.validity_window = validity_window
        self.clock = clock
        self.expires_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _write(self) -> None:
        expires_at = self.clock() + self.expire_window
        self.bank.put(lease_key(self.owner_id),
                      {'owner_id': self.owner_id, 'expires_at': expires_at,
                       'host': socket.gethostname(), 'pid': os.getpid()},
                      expire_after=self.expire_window)
        self.expires_at = expires_at

    def acquire(self) -> 'Lease':
        self._write()
        self.start_renewal()
        return self

    def start_renewal(self) -> None:
        """Start the renew thread (again in a forked child: threads do not survive fork)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name='karbor-lease', daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_window):
            try:
                self._write()
            except KarborError:
                pass  # keep the old expiry; check_valid() stops writers in time

    def renew(self) -> None:
        self._write()

    def check_valid(self) -> None:
        """Raise LeaseLost when too little lease time is left to write safely."""
        if self.expires_at - self.clock() < self.validity_window:
            raise LeaseLost('The bank lease of this run expired (it could not be renewed); the '
                            'checkpoint was left for the next run to mark as error.')

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.bank.delete(lease_key(self.owner_id))
        except KarborError:
            pass

    def __enter__(self) -> 'Lease':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    @staticmethod
    def is_alive(bank: Bank, owner_id: str | None, now: float | None = None) -> bool:
        """True while the owner's lease object exists and has not expired."""
        if not owner_id:
            return False
        try:
            data = bank.get_json(lease_key(owner_id))
        except NotFound:
            return False
        now = time.time() if now is None else now
        try:
            return float(data.get('expires_at', 0)) > now
        except (TypeError, ValueError, AttributeError):
            return False
