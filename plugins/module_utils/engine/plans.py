# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Protection plans: what to protect, with which provider and options. Every
write is validated against the provider and the cloud first, so a plan in the
catalog always names resources that existed when it was written."""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import Provider
from ansible_collections.karbor.protection.plugins.module_utils.engine.records import (
    RecordService)
from ansible_collections.karbor.protection.plugins.module_utils.resources.discovery import (
    ProtectableRegistry)
from ansible_collections.karbor.protection.plugins.module_utils.resources.selection import (
    ResourceQuery)
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import RecordStore


class PlanService(RecordService):
    """The project's plans; a plan a scheduled operation uses is not deleted."""

    creator = 'plan'

    def __init__(self, store: RecordStore, project_id: Callable[[], str],
                 operations: RecordStore, provider: Callable[[str], Provider],
                 protectables: Callable[[], ProtectableRegistry]) -> None:
        super().__init__(store, project_id)
        self.operations = operations
        self.provider = provider
        self._protectables = protectables

    def resolve_resources(self, provider: Provider, resources: list[dict]) -> list[dict]:
        """Check each plan resource: known type, provider plugin, exists in the cloud."""
        if not resources:
            raise InvalidInput('A plan needs at least one resource (id and type) or a '
                               'resource_query.')
        resolved, seen = [], set()
        for item in resources:
            if not isinstance(item, dict) or not item.get('id') or not item.get('type'):
                raise InvalidInput('Each plan resource needs an id and a type; got %r.' % (item,))
            if item['type'] not in R.RESOURCE_TYPES:
                raise InvalidInput('Resource type %r is not known; use one of: %s.'
                                   % (item['type'], ', '.join(R.RESOURCE_TYPES)))
            provider.plugin_for(item['type'])
            try:
                found = self._protectables().show_instance(item['type'], str(item['id']))
            except NotFound:
                raise NotFound('%s %s does not exist in this project; check the id with '
                               'karbor.protection.protectable_info.' % (item['type'], item['id']))
            entry = {'id': found.id, 'type': found.type, 'name': item.get('name') or found.name}
            extra = dict(found.extra_info)
            extra.update(item.get('extra_info') or {})
            if extra:
                entry['extra_info'] = extra
            if (entry['type'], entry['id']) not in seen:
                seen.add((entry['type'], entry['id']))
                resolved.append(entry)
        return resolved

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        provider = self.provider(fields['provider_id'])
        fields['provider_id'] = provider.id
        if fields.get('resource_query'):
            ResourceQuery(fields['resource_query'])  # syntax errors now, not at the first backup
            fields['resources'] = (self.resolve_resources(provider, fields['resources'])
                                   if fields.get('resources') else [])
        else:
            fields.pop('resource_query', None)
            fields['resources'] = self.resolve_resources(provider, fields.get('resources') or [])
        fields['parameters'] = provider.validate_parameters(fields.get('parameters'), 'options')
        if fields.get('status') not in (None, R.PLAN_STARTED, R.PLAN_SUSPENDED):
            raise InvalidInput('Plan status must be started or suspended.')
        return fields

    def complete(self, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        if before is None:
            after.setdefault('status', R.PLAN_SUSPENDED)
            after.setdefault('description', '')

    def delete(self, record: dict[str, Any], dry_run: bool = False) -> None:
        users = [op for op in self.operations.iter(self.project_id)
                 if (op.get('operation_definition') or {}).get('plan_id') == record['id']]
        if users:
            raise Conflict('Plan %s is used by scheduled operation(s) %s; delete them first.'
                           % (record['id'], ', '.join(op['id'] for op in users)))
        super().delete(record, dry_run)
