# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors of the protection engine.

Modules turn every KarborError into ``fail_json(msg=...)``; the message must
say what the operator has to fix, so each error carries a finished sentence.
"""

from __future__ import annotations


class KarborError(Exception):
    """Base of every error the engine raises on purpose."""

    def __init__(self, msg: str, **details) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


class InvalidInput(KarborError):
    """The caller asked for something malformed; nothing was changed."""


class NotFound(KarborError):
    """An id or name given by the caller does not exist (or is not visible)."""


class Conflict(KarborError):
    """The object exists but is in a state that forbids the operation."""


class PluginNotFound(InvalidInput):
    """The provider has no protection plugin for a resource type."""


class GraphLoopError(KarborError):
    """The dependency graph of the resources contains a cycle."""


class BankError(KarborError):
    """The bank could not be read or written."""


class BankUnreachable(BankError):
    """The bank's backend does not answer."""


class BankCorrupted(BankError):
    """An object read from the bank failed its checksum or framing check."""


class LeaseLost(BankError):
    """This process no longer holds a valid lease on the bank."""


class ResourceTimeout(KarborError):
    """A wait on a cloud resource or a checkpoint ran out of time."""


class FlowError(KarborError):
    """One or more resources failed during a protect/restore/delete flow."""

    def __init__(self, msg: str, failures: dict | None = None) -> None:
        super().__init__(msg, failures=failures or {})
        self.failures = failures or {}
