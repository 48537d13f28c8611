# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a local catalog (``<state_dir>/catalog``) into the engine's catalog.

Why: before the catalog lived in Swift, plans, triggers, scheduled
operations, restores, logs and the scheduler's claims and cursors were kept
on the runner's disk. This copies the current project's objects into the
catalog every runner shares. It never deletes or overwrites: an object the
target already has with the same content is counted as present, one with
other content is reported as a conflict and left as it is, so a second run
copies nothing and nothing is ever lost.
"""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine.catalog_location import (
    CATALOG_PROBES, local_catalog_bank)
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.storage.encrypted_bank import (
    MARKER_KEY, open_bank, read_marker)

#: coordination objects that belong to the run that wrote them, never moved
NOT_MOVED = ('/locks/', '/leases/')


def open_source(state_dir: str, key: bytes | None) -> Bank:
    """The local catalog as it was written: encrypted only if it has a marker."""
    folder = os.path.join(state_dir, 'catalog')
    if not os.path.isdir(folder):
        raise InvalidInput('There is no local catalog in %s (no folder %s); set source_state_dir '
                           'to the state_dir the old runs used.' % (state_dir, folder))
    bank = local_catalog_bank(state_dir)
    label = 'the local catalog (%s)' % folder
    return open_bank(bank, key if read_marker(bank, label) else None, label,
                     probes=CATALOG_PROBES)


def _project_keys(source: Bank, project_id: str) -> tuple[list[str], int]:
    mine, others = [], 0
    for key in source.iter_all('/'):
        if key == MARKER_KEY or key.startswith(NOT_MOVED):
            continue
        if project_id in key.split('/'):
            mine.append(key)
        else:
            others += 1
    return mine, others


def migrate(source: Bank, target: Bank, project_id: str, dry_run: bool) -> dict[str, Any]:
    """Copy the project's objects from ``source`` to ``target``; see the module docstring."""
    keys, others = _project_keys(source, project_id)
    result: dict[str, Any] = {'copied': [], 'present': 0, 'conflicts': [],
                              'other_projects': others}
    for key in keys:
        data = source.get(key)
        try:
            existing = target.get(key)
        except NotFound:
            existing = None
        if existing is not None:
            if existing == data:
                result['present'] += 1
            else:
                result['conflicts'].append(key)
            continue
        if not dry_run:
            try:
                target.put(key, data, exclusive=True)
            except Conflict:  # another migration wrote it meanwhile
                if target.get(key) != data:
                    result['conflicts'].append(key)
                    continue
        result['copied'].append(key)
    return result
