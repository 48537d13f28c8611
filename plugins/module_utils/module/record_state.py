# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One present/absent cycle for the modules that keep a catalog record
(plan, trigger, scheduled_operation), so each behaves the same way: found by
id else name; ``absent`` deletes; ``present`` creates, or updates only what
the options the user set change; check mode shows what would be and writes
nothing; a second identical run changes nothing."""

from __future__ import annotations

from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    KarborModule)


def state_argument_spec() -> dict[str, Any]:
    """The options every record module has: name, id and state."""
    return dict(
        name=dict(type='str'),
        id=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
    )


class RecordStateModule(KarborModule):
    """Subclasses set ``catalog_kind`` (the engine service: ``plans``, ``triggers``,
    ``scheduled_operations``), ``result_key``, ``new_noun`` (for the message
    when an id is not found: "to create a plan ...") and implement
    ``new_fields()`` and ``changes()``."""

    name_options = ('name',)
    result_key = ''
    new_noun = ''
    module_kwargs = dict(required_one_of=[('name', 'id')])

    @property
    def service(self):
        return getattr(self.engine, self.catalog_kind)

    def new_fields(self) -> dict[str, Any]:
        """The fields of a new record, from the options; InvalidInput when one is missing."""
        raise NotImplementedError

    def changes(self, record: dict[str, Any]) -> dict[str, Any]:
        """What the options set differently from ``record``; empty when nothing differs."""
        raise NotImplementedError

    def result(self, record: dict[str, Any], changed: bool) -> dict[str, Any]:
        return {'changed': changed, self.result_key: record}

    def run(self) -> dict[str, Any]:
        params = self.params
        record = self.service.find(params['id'] or params['name'])
        if record is None and params['id']:
            if params['state'] == 'absent':
                return {'changed': False}
            raise InvalidInput('%s %s does not exist; to create %s give its name, not an id.'
                               % (self.service.label, params['id'], self.new_noun))
        if params['state'] == 'absent':
            if record is None:
                return {'changed': False}
            self.service.delete(record, dry_run=self.check_mode)
            return {'changed': True}
        if record is None:
            return self.result(self.service.create(self.new_fields(), dry_run=self.check_mode),
                               True)
        changes = self.changes(record)
        if not changes:
            return self.result(record, False)
        return self.result(self.service.update(record, changes, dry_run=self.check_mode), True)
