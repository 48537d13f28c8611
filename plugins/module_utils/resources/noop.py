# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The No-Op protection plugin: every type, no data moved.

It exercises the engine, bank, catalog and flow end to end; each operation
still records metadata so restore and delete have something to check.
"""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext, ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import (
    RESOURCE_TYPES)


class _NoopProtect(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        ctx.section.put('metadata', {'resource_id': ctx.resource.id,
                                     'resource_type': ctx.resource.type,
                                     'name': ctx.resource.name,
                                     'parameters': ctx.parameters})


class _NoopRestore(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        metadata = ctx.section.get_json('metadata')
        ctx.publish_new_resource(ctx.resource.id, metadata['resource_id'])


class _NoopVerify(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        ctx.section.get_json('metadata')  # present (its checksum was read back already)


class NoopProtectionPlugin(ProtectionPlugin):
    name = 'karbor-noop-protection-plugin'
    supported_types = RESOURCE_TYPES
    operation_classes = {'protect': _NoopProtect, 'restore': _NoopRestore,
                         'verify': _NoopVerify}
    drill_supported = True  # its restore makes nothing: nothing to compare or delete

    def get_options_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'No-Op options', 'properties': {
            'note': {'type': 'string', 'title': 'Free text kept with the resource'}},
            'additionalProperties': False}

    def get_restore_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'No-Op restore', 'properties': {
            'restore_name': {'type': 'string', 'title': 'Name (ignored)'}},
            'additionalProperties': False}

    def get_saved_info_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'properties': {
            'resource_id': {'type': 'string'}, 'name': {'type': 'string'}}}

    def get_saved_info(self, metadata: dict) -> dict:
        return {'resource_id': metadata.get('resource_id'), 'name': metadata.get('name')}
