# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scheduled operations: protect, copy or verify a plan's checkpoints
whenever a trigger fires (what each type's definition holds:
operation_definitions.py). An operation keeps ``enabled_at``, the moment it
was created or last enabled; the scheduler owes no fire time before it, so
fire times while it was disabled are neither run nor reported missed."""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine.plans import PlanService
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import Provider
from ansible_collections.karbor.protection.plugins.module_utils.engine.records import (
    RecordService)
from ansible_collections.karbor.protection.plugins.module_utils.engine.operation_definitions import (
    OPERATION_TYPES, normalize_definition)
from ansible_collections.karbor.protection.plugins.module_utils.engine.scheduler import (
    claim_prefix, cursor_key)
from ansible_collections.karbor.protection.plugins.module_utils.engine.triggers import (
    TriggerService)
from ansible_collections.karbor.protection.plugins.module_utils.storage.catalog import (
    RecordStore, public)


def newly_enabled(before: dict | None, after: dict) -> bool:
    """Whether the operation starts owing fire times now: created, or enabled again."""
    if before is None:
        return True
    return bool(after.get('enabled', True)) and not before.get('enabled', True)


class ScheduledOperationService(RecordService):
    """The project's scheduled operations, with their trigger, plan and provider checked."""

    def __init__(self, store: RecordStore, project_id: Callable[[], str], plans: PlanService,
                 triggers: TriggerService, provider: Callable[[str], Provider]) -> None:
        super().__init__(store, project_id)
        self.plans = plans
        self.triggers = triggers
        self.provider = provider

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Check type, trigger, plan and provider of a scheduled operation;
        return the fields with ids resolved and the definition normalized."""
        op_type = fields.get('operation_type')
        if op_type not in OPERATION_TYPES:
            raise InvalidInput('operation_type must be one of %s; got %r.'
                               % (', '.join(OPERATION_TYPES), op_type))
        trigger = self.triggers.get(fields.get('trigger_id') or '')
        definition = dict(fields.get('operation_definition') or {})
        if not definition.get('plan_id'):
            raise InvalidInput('A scheduled operation needs a plan (plan or operation_definition.'
                               'plan_id).')
        plan = self.plans.get(str(definition['plan_id']))
        if definition.get('provider_id'):
            provider = self.provider(str(definition['provider_id']))
            if provider.id != plan['provider_id']:
                raise InvalidInput('Plan %s (%s) belongs to provider %s, not %s; leave '
                                   'provider_id out or give the plan\'s provider.' % (
                                       plan['name'], plan['id'], plan['provider_id'],
                                       provider.id))
        definition['plan_id'] = plan['id']
        definition['provider_id'] = plan['provider_id']
        definition = normalize_definition(op_type, definition, self.provider)
        result = dict(fields)
        result['trigger_id'] = trigger['id']
        result['operation_definition'] = definition
        return result

    def complete(self, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        """A new operation, or one enabled again, owes fire times from now on."""
        if newly_enabled(before, after):
            after['enabled_at'] = timeutil.isoformat(timeutil.now())

    def delete(self, record: dict[str, Any], dry_run: bool = False) -> None:
        """Delete the operation with its claims and cursor (its logs stay)."""
        super().delete(record, dry_run)
        if not dry_run:
            self.forget(record)

    def forget(self, operation: dict[str, Any]) -> None:
        """Drop an operation's claims and cursor."""
        bank = self.store.bank
        bank.delete_prefix(claim_prefix(operation['project_id'], operation['id']))
        bank.delete(cursor_key(operation['project_id'], operation['id']))

    def claims(self, operation: dict[str, Any], limit: int | None = None) -> list[dict]:
        """An operation's claims, newest fire time first."""
        bank = self.store.bank
        keys = bank.list(claim_prefix(operation['project_id'], operation['id']), limit=limit,
                         reverse=True)
        result = []
        for key in keys:
            try:
                result.append(public(bank.get_json(key)))
            except NotFound:
                continue
        return result
