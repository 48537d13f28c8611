# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the catalog lives: a Swift container of the project, or a folder.

Why: AWX runs every job in a fresh container on any node, so what a later
run needs (plans, triggers, scheduled operations, restores, logs, the
scheduler's claims and cursors, name locks) must live where every runner
can reach it: the project's own object store. A folder (``state_dir``) is
the choice only when asked for, or when there is no object store (a cloud
without Swift, or no cloud at all, as the No-Op provider offline).
"""

from __future__ import annotations

import os

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import (
    RECORD_KINDS)
from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank

CATALOG_MODES = ('auto', 'swift', 'local')
DEFAULT_CATALOG_CONTAINER = 'karbor-catalog'
#: prefixes whose objects tell that a catalog already holds records (encrypted or not)
CATALOG_PROBES = tuple('/%s/' % kind for kind in RECORD_KINDS)


def chosen_mode(mode: str, cloud: CloudSession | None) -> str:
    """``swift`` or ``local`` for the ``catalog`` option's value."""
    if mode not in CATALOG_MODES:
        raise InvalidInput('catalog must be one of %s, not %r.' % (', '.join(CATALOG_MODES), mode))
    if mode != 'auto':
        if mode == 'swift' and cloud is None:
            raise InvalidInput('catalog: swift needs the cloud; set the cloud/auth options.')
        return mode
    if cloud is None or not cloud.configured():
        return 'local'
    return 'swift' if cloud.has_service('object-store') else 'local'


def local_catalog_bank(state_dir: str) -> LocalBank:
    return LocalBank(os.path.join(state_dir, 'catalog'))


def swift_catalog_bank(container: str, cloud: CloudSession) -> Bank:
    from ansible_collections.karbor.protection.plugins.module_utils.storage.swift_bank import (
        SwiftBank)
    return SwiftBank.from_provider_config('catalog', {'bank_swift_object_container': container},
                                          {}, '', lambda: cloud)


def open_catalog_bank(mode: str, container: str | None, state_dir: str,
                      cloud: CloudSession | None, key: bytes | None) -> Bank:
    """The catalog's bank, encrypted with the bank key when one is set (a
    catalog written with a key cannot be read without it, and the reverse)."""
    from ansible_collections.karbor.protection.plugins.module_utils.storage.encrypted_bank import (
        open_bank)
    where = chosen_mode(mode, cloud)
    if where == 'local':
        bank: Bank = local_catalog_bank(state_dir)
        label = 'the local catalog (%s)' % os.path.join(state_dir, 'catalog')
    else:
        container = container or DEFAULT_CATALOG_CONTAINER
        bank = swift_catalog_bank(container, cloud)
        label = 'the catalog (Swift container %s)' % container
    return open_bank(bank, key, label, probes=CATALOG_PROBES)
