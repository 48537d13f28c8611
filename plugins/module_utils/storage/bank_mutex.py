# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A mutex held as one object in a bank, for runs on different machines.

Why: two AWX jobs on two nodes that find-or-create one named plan must not
both create it, and they share nothing but the bank. The holder claims the
key (``Bank.claim``: at most one of concurrent callers wins, on Swift too)
with a random token and an expiry time, and deletes it when done. A holder
that died leaves its object; once its expiry time has passed, a waiter takes
it over: it claims ``<key>.takeover.<token>`` for that one dead holder (so
of several waiters one removes it), checks that the object still holds the
dead holder's token, deletes it, and claims the key for itself.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from typing import Callable, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, KarborError, NotFound, ResourceTimeout)
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank

DEFAULT_LIFETIME = 120  # seconds a holder may keep the mutex; find-or-create takes seconds
POLL_INTERVAL = 0.25


class BankMutex:
    """``with BankMutex(bank, key).held(): ...`` runs the block alone."""

    def __init__(self, bank: Bank, key: str, what: str, lifetime: int = DEFAULT_LIFETIME,
                 clock: Callable[[], float] = time.time) -> None:
        self.bank = bank
        self.key = key
        self.what = what
        self.lifetime = lifetime
        self.clock = clock
        self.token = uuid.uuid4().hex

    def _holder(self) -> dict | None:
        try:
            record = self.bank.get_json(self.key)
        except NotFound:
            return None
        return record if isinstance(record, dict) else {}

    def _try_claim(self) -> bool:
        record = {'token': self.token, 'expires_at': self.clock() + self.lifetime,
                  'host': socket.gethostname(), 'pid': os.getpid()}
        try:
            self.bank.claim(self.key, record)
            return True
        except Conflict:
            return False

    def _take_over(self, holder: dict) -> None:
        """Remove a dead holder's object, once, whoever else is waiting."""
        marker = '%s.takeover.%s' % (self.key, holder.get('token') or 'unknown')
        try:
            self.bank.claim(marker, {'token': self.token})
        except Conflict:
            return  # another waiter is removing it
        try:
            current = self._holder()
            if current is not None and current.get('token') == holder.get('token'):
                self.bank.delete(self.key)
        finally:
            self.bank.delete(marker)

    def acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._try_claim():
            holder = self._holder()
            if holder is not None:
                try:
                    expired = float(holder.get('expires_at', 0)) <= self.clock()
                except (TypeError, ValueError):
                    expired = True  # not ours to read: treat as a dead holder's
                if expired:
                    self._take_over(holder)
                    continue
            if time.monotonic() >= deadline:
                raise ResourceTimeout(
                    'Another run has been creating or changing %s for more than %d seconds '
                    '(held by %s, pid %s); run again when it has finished, or after %d '
                    'seconds if it died.' % (self.what, timeout, (holder or {}).get('host'),
                                             (holder or {}).get('pid'), self.lifetime))
            time.sleep(POLL_INTERVAL)

    def release(self) -> None:
        try:
            holder = self._holder()
            if holder is not None and holder.get('token') == self.token:
                self.bank.delete(self.key)
        except KarborError:
            pass  # it expires; a later run takes it over

    @contextlib.contextmanager
    def held(self, timeout: float = DEFAULT_LIFETIME) -> Iterator[None]:
        self.acquire(timeout)
        try:
            yield
        finally:
            self.release()
