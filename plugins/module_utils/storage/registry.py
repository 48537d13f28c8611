# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every kind of bank a provider file can name, one line each.

A kind says the names ``[provider] bank =`` may use for it, its section of
the provider file and how its class is found; the class opens itself from
that section (``Bank.from_provider_config``). Classes are imported when a
provider first opens its bank, so listing providers costs no bank library.
Adding a bank is its file, one line in ``BANK_KINDS`` and its docs.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank


class BankKind(NamedTuple):
    kind: str
    names: tuple[str, ...]
    section: str
    bank_class: Callable[[], type[Bank]]

    def open(self, provider_id: str, config: dict[str, dict[str, str]], state_dir: str,
             cloud_factory: Callable[[], Any]) -> Bank:
        return self.bank_class().from_provider_config(
            provider_id, config.get(self.section, {}), config, state_dir, cloud_factory)


def _local_bank() -> type[Bank]:
    from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import (
        LocalBank)
    return LocalBank


def _swift_bank() -> type[Bank]:
    """swift_bank imports keystoneauth1 and swiftclient, which would cost every
    module run about 0.15 s if they were imported up front."""
    from ansible_collections.karbor.protection.plugins.module_utils.storage.swift_bank import (
        SwiftBank)
    return SwiftBank


# Lease windows are read from the first of these sections (then [bank]) a
# provider file has, whatever its bank: keep this order.
BANK_KINDS = (
    BankKind('swift', ('karbor-swift-bank-plugin', 'swift'), 'swift_bank_plugin', _swift_bank),
    BankKind('local', ('karbor-fs-bank-plugin', 'local', 'fs'), 'file_system_bank_plugin',
             _local_bank),
)

BANK_NAMES: dict[str, BankKind] = {name: kind for kind in BANK_KINDS for name in kind.names}


def lease_section(config: dict[str, dict[str, str]]) -> dict[str, str]:
    """The provider file's section holding its ``lease_*_window`` options."""
    for name in [kind.section for kind in BANK_KINDS] + ['bank']:
        if config.get(name):
            return config[name]
    return {}
