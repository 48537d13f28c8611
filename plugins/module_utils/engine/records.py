# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every catalog service does the same way: find by id else name, get
(with a message that says how to create the record), list with filters, all
returning public records, so modules never handle catalog internals."""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import NotFound
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import (
    RecordStore, public)


class RecordService:
    """The project's records of one kind; subclasses validate and write them."""

    #: the module that creates a record of this kind, named in NotFound messages
    creator: str | None = None

    def __init__(self, store: RecordStore, project_id: Callable[[], str]) -> None:
        self.store = store
        self._project_id = project_id  # a callable: the cloud is reached only when needed

    @property
    def project_id(self) -> str:
        return self._project_id()

    @property
    def label(self) -> str:
        return self.store.label

    def find(self, name_or_id: str) -> dict[str, Any] | None:
        """By id, else by unique name; None when nothing matches."""
        record = self.store.find(self.project_id, name_or_id)
        return public(record) if record is not None else None

    def get(self, name_or_id: str) -> dict[str, Any]:
        record = self.find(name_or_id)
        if record is None:
            hint = '; create it with karbor.protection.%s' % self.creator if self.creator else ''
            raise NotFound('%s %r does not exist in this project%s.'
                           % (self.label, name_or_id, hint))
        return record

    def list(self, **filters: Any) -> list[dict[str, Any]]:
        """Newest first; a filter set to None matches everything."""
        return [public(record) for record in self.store.list(self.project_id, **filters)]

    def matching(self, name_or_id: str | None) -> list[dict[str, Any]]:
        """The one named (NotFound when there is none), else every record."""
        return [self.get(name_or_id)] if name_or_id else self.list()

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The fields checked and normalized (ids resolved); InvalidInput or NotFound."""
        return fields

    def complete(self, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        """Set the fields the service keeps itself (defaults, baselines) on ``after``,
        the record ``before`` becomes (None: a new record)."""

    def create(self, fields: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """The new record (with ``dry_run``, what it would be; nothing is written)."""
        record = self.validate(dict(fields))
        self.complete(None, record)
        return record if dry_run else public(self.store.new(self.project_id, record))

    def update(self, record: dict[str, Any], changes: dict[str, Any],
               dry_run: bool = False) -> dict[str, Any]:
        """The record with ``changes`` (with ``dry_run``, what it would be)."""
        updated = self.validate(dict(record, **changes))
        self.complete(record, updated)
        return updated if dry_run else public(self.store.save(updated))

    def delete(self, record: dict[str, Any], dry_run: bool = False) -> None:
        """Subclasses refuse first what must not go (a record still in use)."""
        if not dry_run:
            self.store.delete(record)
