# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is working on a checkpoint: claims (one run at a time: a delete, a
named restore) and reader markers (restores in progress), each holding the
run's lease id so that a dead run's marker is recognised and dropped."""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease

READERS_PREFIX = '/checkpoint-readers/%s/'
DELETE_CLAIM = '/checkpoint-deletes/%s'
RESTORE_NAME_CLAIM = '/restore-names/%s/%s'  # project, name_digest of the name


def drop_dead_claim(bank: Bank, key: str) -> bool:
    """Remove a claim whose run died; True while a live run holds it."""
    try:
        holder = bank.get_text(key)
    except NotFound:
        return False
    if Lease.is_alive(bank, holder, timeutil.wall_clock()):
        return True
    bank.delete(key)
    return False


def take_claim(bank: Bank, key: str, owner_id: str, busy: str) -> str:
    """The claim ``key`` for the run ``owner_id``, taken over only from a
    dead run; ``busy`` is the Conflict's message while a live run holds it."""
    for _attempt in range(2):
        try:
            bank.claim(key, owner_id)
            return key
        except Conflict:
            if drop_dead_claim(bank, key):
                break  # a live run holds it
    raise Conflict(busy)


def active_readers(bank: Bank, checkpoint_id: str) -> list[str]:
    """Lease ids of the live restores reading the checkpoint; dead ones'
    markers are removed on the way."""
    readers = []
    for key in bank.iter_all(READERS_PREFIX % checkpoint_id):
        owner = key.rsplit('/', 1)[1]
        if Lease.is_alive(bank, owner, timeutil.wall_clock()):
            readers.append(owner)
        else:
            bank.delete(key)
    return readers
