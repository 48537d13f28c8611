# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded chains of incremental Cinder backups (``backup_mode: auto``).

Cinder refuses to delete a backup that has dependent incrementals, so a plan
whose every backup is incremental on the previous one forms one endless chain
that retention can never shorten. Like backup tools do, the chain is bounded:
the ``full_backup_every``-th backup since the last full is full again. Each
checkpoint records its backup's position (``chain_length``: 0 for a full) so
the next run knows where the chain stands without asking Cinder, which does
not tell (its API exposes no backup's parent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil

#: default of the plan parameter ``full_backup_every``
DEFAULT_FULL_BACKUP_EVERY = 7


@dataclass(frozen=True)
class BackupChoice:
    """What the next backup is: incremental or full, its chain position
    (None: unknown) and, for a full under ``auto``, why."""

    incremental: bool
    chain_length: int | None
    reason: str | None = None


def chain_length_of(metadata: dict[str, Any]) -> int | None:
    """The chain position a checkpoint recorded for its backup; None when unknown
    (an incremental recorded before positions were)."""
    value = metadata.get('chain_length')
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if metadata.get('is_incremental') is False:
        return 0  # a full backup starts a chain, recorded or not
    return None


def choose_backup(mode: str, parent_length: int | None, has_parent: bool,
                  full_every: int = DEFAULT_FULL_BACKUP_EVERY) -> BackupChoice:
    """Full or incremental for ``mode``, given the parent's chain position.

    Under ``auto`` an unknown position makes a full (counting conservatively
    could only leave the chain longer than asked); ``incremental`` always is
    one, its position known only when the parent's is; ``full`` always is one.
    """
    if mode == 'incremental':
        return BackupChoice(True, None if parent_length is None else parent_length + 1)
    if mode != 'auto':
        return BackupChoice(False, 0)
    if not has_parent:
        return BackupChoice(False, 0, "no usable backup of this plan's previous checkpoint")
    if parent_length is None:
        return BackupChoice(False, 0, "the previous backup's chain position is unknown")
    if parent_length + 1 >= full_every:
        return BackupChoice(False, 0, 'full_backup_every is %d' % full_every)
    return BackupChoice(True, parent_length + 1)


def cinder_parent(backups: Iterable[Any]) -> str | None:
    """The backup Cinder makes an incremental's parent: the volume's available
    backup with the newest ``data_timestamp``, whichever plan (or user) made it.

    Cinder does not return the parent it chose, so this is what it will pick
    when asked now; a backup of the volume finishing in between (another
    plan's) can still change its choice. For a backup from a snapshot Cinder
    also requires a parent older than the snapshot: the snapshot is taken just
    before, so every finished backup is.
    """
    usable = [b for b in backups if b.status == 'available']
    if not usable:
        return None
    return max(usable, key=lambda b: timeutil.parse_time(b.data_timestamp or b.created_at)).id
