# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS::Neutron::Network: one of the project's networks with what makes it
usable: its subnets, the routers on them (interfaces, external gateway), its
ports, the security groups those ports use (with their rules) and the
floating IPs on them. Nothing is copied but the definitions: the bank holds
one ``metadata`` object per network.

Fixes over Karbor's network plugin (reference §4.7): one resource per
network instead of one pseudo-resource per project, routers keep their
external gateway, rules keep their remote groups, new ids are keyed by the
original id (Karbor keyed them by name), bad input is refused before
anything is created, a restore that fails part way deletes what it made, and
deleting a checkpoint has nothing to remove in Neutron (Karbor's crashed).
Floating IPs are saved here; re-associating them is the server's restore.
"""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.resources.protectable import (
    CloudProtectable)
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import NotFound
from ansible_collections.karbor.protection.plugins.module_utils.resources.network_records import (
    network_metadata)
from ansible_collections.karbor.protection.plugins.module_utils.resources.network_restore import (
    NeutronRestore)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext, ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R


class NeutronProtect(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        ctx.section.put('metadata', network_metadata(ctx.cloud, ctx.resource.id))


class NeutronNetworkPlugin(ProtectionPlugin):
    """Saves network definitions in the bank; nothing in Neutron belongs to a
    checkpoint, so deleting one removes only its bank objects (the engine does)."""

    name = 'karbor-network-protection-plugin'
    supported_types = (R.NETWORK,)
    operation_classes = {'protect': NeutronProtect, 'restore': NeutronRestore}

    def get_options_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Network options', 'properties': {},
                'additionalProperties': False}

    def get_restore_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Network restore options',
                'additionalProperties': False, 'properties': {
                    'restore_name': {'type': 'string', 'title': 'Name of the restored network'},
                    'reuse_existing': {
                        'type': 'boolean', 'default': False,
                        'title': 'Reuse a network of the same name with the saved subnet CIDRs '
                                 'instead of creating one'},
                    'network_id': {'type': 'string',
                                   'title': 'Reuse this network (it must have the saved CIDRs)'},
                    'external_network_id': {
                        'type': 'string',
                        'title': "External network for the routers' gateways (default: the "
                                 'saved one)'}}}

    def get_saved_info_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'properties': {
            'name': {'type': 'string'}, 'cidrs': {'type': 'array', 'items': {'type': 'string'}},
            'routers': {'type': 'array', 'items': {'type': 'string'}},
            'security_groups': {'type': 'array', 'items': {'type': 'string'}},
            'ports': {'type': 'integer'}, 'floating_ips': {'type': 'integer'}}}

    def get_saved_info(self, metadata: dict) -> dict:
        return {'name': (metadata.get('network') or {}).get('name'),
                'cidrs': [s['cidr'] for s in metadata.get('subnets') or []],
                'routers': [r['id'] for r in metadata.get('routers') or []],
                'security_groups': [g['id'] for g in metadata.get('security_groups') or []],
                'ports': len(metadata.get('ports') or []),
                'floating_ips': len(metadata.get('floating_ips') or [])}


class NetworkProtectable(CloudProtectable):
    """The project's own networks (shared or external networks of other
    projects are theirs to protect); a project depends on them, a server on
    those of its ports."""

    resource_type = R.NETWORK
    parent_types = (R.SERVER, R.PROJECT)
    skip_statuses = ('error',)

    def _list_raw(self) -> list:
        return self.cloud.call('Listing networks', lambda: list(
            self.cloud.conn.network.networks(project_id=self.cloud.project_id)))

    def _get_raw(self, resource_id: str):
        return self.cloud.call('Network %s' % resource_id, self.cloud.conn.network.get_network,
                               resource_id)

    def _to_resource(self, item) -> Resource:
        return Resource(R.NETWORK, item.id, item.name or '')

    def _metadata(self, item) -> dict | None:
        return None  # Neutron networks have no user metadata; tags are shown

    def _tags(self, item) -> list | None:
        return item.tags

    def _usable_item(self, item) -> bool:
        return item.project_id == self.cloud.project_id and self._usable(item.status)

    def get_dependent_resources(self, parent: Resource) -> list[Resource]:
        if parent.type == R.PROJECT:
            return self.list_resources()
        if parent.type == R.SERVER:
            ports = self.cloud.call('Ports of server %s' % parent.id, lambda: list(
                self.cloud.conn.network.ports(device_id=parent.id)))
            networks = []
            for network_id in sorted({p.network_id for p in ports}):
                try:
                    item = self._get_raw(network_id)
                except NotFound:
                    continue
                if self._usable_item(item):
                    networks.append(self._to_resource(item))
            return networks
        return []
