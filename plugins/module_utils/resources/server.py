# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS::Nova::Server: the server's definition (flavor, key pair, networks,
ports and fixed IPs, floating IPs, security groups, availability zone,
metadata, block device mapping). Disk data comes from its children: the
boot image (a server snapshot, by the image plugin) and the attached
volumes (by the volume plugin).

Restore runs in ``on_complete``, after the children are restored: boot a
new server from the restored image or boot volume and re-attach the
restored volumes at their devices. A failed restore deletes the half-made
server (Karbor left it behind).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.resources.protectable import (
    CloudProtectable)
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import wait_for
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext, ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.resources import server_network


def _server_metadata(ctx: OperationContext) -> dict[str, Any]:
    cloud = ctx.cloud
    conn = cloud.conn
    server = cloud.call('Server %s' % ctx.resource.id, conn.compute.get_server, ctx.resource.id)
    attachments = cloud.call('Volume attachments of %s' % server.id,
                             lambda: list(conn.compute.volume_attachments(server)))
    flavor = server.flavor or {}
    flavor_name = flavor.get('original_name') or flavor.get('name') or flavor.get('id')
    found = cloud.call('Flavor %s' % flavor_name, conn.compute.find_flavor, flavor_name) \
        if flavor_name else None
    flavor_id = found.id if found else None
    ports, floating_records = server_network.saved_ports(cloud, server.id)
    floating = [a['addr'] for addrs in (server.addresses or {}).values() for a in addrs
                if a.get('OS-EXT-IPS:type') == 'floating']
    image_id = (server.image or {}).get('id') if isinstance(server.image, dict) else None
    attach = {}
    boot_volume = None
    for att in attachments:
        device = att.device
        attach[att.volume_id] = {'device': device, 'attachment_id': att.id,
                                 'volume_id': att.volume_id}
        if not image_id and device in ('/dev/vda', '/dev/sda', '/dev/xvda'):
            boot_volume = att.volume_id
    return {
        'resource_id': server.id,
        'name': server.name,
        'server_metadata': {
            'availability_zone': server.availability_zone,
            'flavor': flavor_id,
            'flavor_name': flavor_name,
            'key_name': server.key_name,
            'security_groups': [{'name': g.get('name')} for g in (server.security_groups or [])],
            'networks': sorted({p['network_id'] for p in ports}),
            'ports': ports,
            'addresses': server.addresses or {},
            'floating_ips': floating,
            'floating': floating_records,
            'metadata': dict(server.metadata or {}),
        },
        'attach_metadata': attach,
        'boot_metadata': ({'boot_device_type': 'image', 'boot_image_id': image_id} if image_id
                          else {'boot_device_type': 'volume', 'boot_volume_id': boot_volume}),
    }


class NovaProtect(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        ctx.section.put('metadata', _server_metadata(ctx))


class NovaRestore(Operation):
    """A new server from the saved record, booted from the restored image or
    volume, on the restored ports (fixed IPs, MAC, security groups), with the
    other restored volumes attached at their devices and the floating IPs
    re-associated; a server that cannot be finished is deleted again, with
    the floating IPs this restore made."""

    def precheck(self, ctx: OperationContext) -> None:
        meta = ctx.section.get_json('metadata')
        server_network.check_parameters(ctx, meta['server_metadata'])
        flavor = ctx.parameters.get('restore_flavor_id') or meta['server_metadata'].get('flavor')
        if flavor:
            try:
                ctx.cloud.call('Flavor %s' % flavor, ctx.cloud.conn.compute.get_flavor, flavor)
            except NotFound:
                raise InvalidInput('Flavor %s of the restored server %s does not exist here; set '
                                   'restore_flavor_id in the restore parameters of '
                                   'OS::Nova::Server.' % (flavor, ctx.resource.id))

    def on_complete(self, ctx: OperationContext) -> None:
        meta = ctx.section.get_json('metadata')
        attrs = self._server_attributes(ctx, meta['server_metadata'], meta['boot_metadata'])
        server = ctx.cloud.call('Creating server', ctx.cloud.conn.compute.create_server, **attrs)
        ctx.publish_new_resource(ctx.resource.id, server.id)
        made_ips: list[str] = []
        section = 'restore-%s' % ctx.restore['id'] if ctx.restore else 'restore'
        server_id = server.id
        with ctx.undone_on_failure('the server %s it had made, with its new floating IPs'
                                   % server_id,
                                   lambda: self._delete_half_restored(ctx, server_id, made_ips)):
            ctx.section.put(section, {'server_id': server.id})
            server = self._wait_active(ctx, server.id)
            self._attach_volumes(ctx, server, meta)
            floating = server_network.restore_floating_ips(
                ctx, server.id, meta['server_metadata'], attrs['networks'], made_ips)
            ctx.section.put(section, {'server_id': server.id, 'floating_ips': floating})

    @classmethod
    def _server_attributes(cls, ctx: OperationContext, smeta: dict,
                           boot: dict) -> dict[str, Any]:
        """What create_server gets: the saved record with the restore parameters over it."""
        params = ctx.parameters
        attrs: dict[str, Any] = {
            'name': params.get('restore_name') or '%s@%s' % (ctx.checkpoint.id, ctx.resource.id),
            'flavorRef': params.get('restore_flavor_id') or smeta.get('flavor'),
            'metadata': smeta.get('metadata') or {},
        }
        if not attrs['flavorRef']:
            raise KarborError('The checkpoint does not record the flavor of server %s; set '
                              'restore_flavor_id.' % ctx.resource.id)
        attrs.update(cls._boot_source(ctx, boot))
        attrs['networks'] = server_network.nics(ctx, smeta)
        if smeta.get('key_name'):
            attrs['key_name'] = smeta['key_name']
        on_ports = isinstance(attrs['networks'], list) and any(
            'port' in nic for nic in attrs['networks'])
        if smeta.get('security_groups') and smeta.get('networks') and not on_ports:
            attrs['security_groups'] = smeta['security_groups']  # ports carry their own
        if params.get('availability_zone'):
            attrs['availability_zone'] = params['availability_zone']
        elif smeta.get('availability_zone') and not params.get('ignore_availability_zone'):
            attrs['availability_zone'] = smeta['availability_zone']
        return attrs

    @staticmethod
    def _boot_source(ctx: OperationContext, boot: dict) -> dict[str, Any]:
        """Boot from the restored image, or from the restored boot volume."""
        if boot['boot_device_type'] == 'image':
            image = ctx.new_resources.get(boot['boot_image_id'])
            if not image:
                raise KarborError('The boot image %s of server %s was not restored.'
                                  % (boot['boot_image_id'], ctx.resource.id))
            return {'imageRef': image}
        volume = ctx.new_resources.get(boot.get('boot_volume_id') or '')
        if not volume:
            raise KarborError('The boot volume of server %s was not restored.'
                              % ctx.resource.id)
        # a backup restore does not always carry the bootable flag over
        ctx.cloud.call('Marking volume %s bootable' % volume,
                       ctx.cloud.conn.block_storage.set_volume_bootable_status, volume, True)
        return {'block_device_mapping_v2': [{
            'uuid': volume, 'source_type': 'volume', 'destination_type': 'volume',
            'boot_index': 0, 'delete_on_termination': False}]}

    @staticmethod
    def _attach_volumes(ctx: OperationContext, server: Any, meta: dict) -> None:
        """Every restored volume the server had, other than its boot volume, at its device."""
        cloud, conn = ctx.cloud, ctx.cloud.conn
        boot_volume = meta['boot_metadata'].get('boot_volume_id')
        for volume_id, info in sorted((meta.get('attach_metadata') or {}).items()):
            if volume_id == boot_volume:
                continue
            new_volume = ctx.new_resources.get(volume_id)
            if not new_volume:
                raise KarborError('Attached volume %s of server %s was not restored.'
                                  % (volume_id, ctx.resource.id))
            cloud.call('Attaching volume %s' % new_volume, conn.compute.create_volume_attachment,
                       server, volume_id=new_volume, device=info.get('device'))
            wait_for('volume %s attachment' % new_volume,
                     lambda v=new_volume: cloud.call('Volume', conn.block_storage.get_volume, v),
                     lambda v: v.status == 'in-use',
                     lambda v: 'volume is %s' % v.status if v.status.startswith('error')
                     else None, ctx.timeout)

    @staticmethod
    def _delete_half_restored(ctx: OperationContext, server_id: str,
                              floating_ips: list[str]) -> None:
        for fip in floating_ips:
            try:
                ctx.cloud.call('Deleting floating IP %s' % fip, ctx.cloud.conn.network.delete_ip,
                               fip)
            except KarborError:
                pass  # named in the restore's section; the error says what failed
        try:
            delete_server(ctx, server_id)
            ctx.publish_new_resource(ctx.resource.id, None)
        except KarborError:
            pass

    @staticmethod
    def _wait_active(ctx: OperationContext, server_id: str):
        cloud = ctx.cloud
        return wait_for('server %s' % server_id,
                        lambda: cloud.call('Server', cloud.conn.compute.get_server, server_id),
                        lambda s: s.status == 'ACTIVE',
                        lambda s: ('server is %s: %s' % (s.status, (s.fault or {}).get('message'))
                                   if s.status == 'ERROR' else None),
                        ctx.timeout)


def delete_server(ctx: OperationContext, server_id: str) -> None:
    """Delete a server a restore made and wait until Nova has let its
    volumes go (a half-restored one, or a drill's)."""
    cloud, conn = ctx.cloud, ctx.cloud.conn
    cloud.call('Deleting server %s' % server_id, conn.compute.delete_server, server_id,
               ignore_missing=True)

    def found():
        try:
            return cloud.call('Server %s' % server_id, conn.compute.get_server, server_id)
        except NotFound:
            return None
    wait_for('server %s' % server_id, found, lambda s: s is None,
             lambda s: 'server is %s' % s.status if s.status == 'ERROR' and
             not getattr(s, 'task_state', None) else None, ctx.timeout)


class NovaServerPlugin(ProtectionPlugin):
    name = 'karbor-server-protection-plugin'
    supported_types = (R.SERVER,)
    operation_classes = {'protect': NovaProtect, 'restore': NovaRestore}
    drill_supported = True

    def compare_restored(self, ctx: OperationContext, new_id: str) -> list[str]:
        """The restored server's name, flavor and attached volume count
        against the saved record and the name the restore was given."""
        meta = ctx.section.get_json('metadata')
        smeta = meta['server_metadata']
        cloud, conn = ctx.cloud, ctx.cloud.conn
        server = cloud.call('Server %s' % new_id, conn.compute.get_server, new_id)
        attached = cloud.call('Volume attachments of %s' % new_id,
                              lambda: list(conn.compute.volume_attachments(server)))
        problems = []
        wanted = ctx.parameters.get('restore_name')
        if wanted and server.name != wanted:
            problems.append('name %r, asked %r' % (server.name, wanted))
        flavor = server.flavor or {}
        if smeta.get('flavor') != flavor.get('id') and smeta.get('flavor_name') not in (
                flavor.get('original_name'), flavor.get('name')):
            problems.append('flavor %s, saved %s' % (
                flavor.get('original_name') or flavor.get('id'), smeta.get('flavor_name')))
        if len(attached) != len(meta.get('attach_metadata') or {}):
            problems.append('%d attached volume(s), saved %d'
                            % (len(attached), len(meta.get('attach_metadata') or {})))
        return problems

    def drop_restored(self, ctx: OperationContext, new_id: str) -> None:
        delete_server(ctx, new_id)

    def get_options_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Server options', 'properties': {},
                'additionalProperties': False}

    def get_restore_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'title': 'Server restore options', 'additionalProperties': False,
                'properties': {
                    'restore_name': {'type': 'string', 'title': 'Name of the restored server'},
                    'restore_net_id': {'type': 'string', 'title': 'Network for the new server'},
                    'restore_flavor_id': {'type': 'string', 'title': 'Flavor for the new server'},
                    'availability_zone': {'type': 'string',
                                          'title': 'Availability zone for the new server'},
                    'ignore_availability_zone': {'type': 'boolean',
                                                 'title': 'Let Nova choose the zone'},
                    'network_map': {
                        'type': 'object', 'additionalProperties': {'type': 'string'},
                        'title': 'Saved network id -> network to put the server on instead'},
                    'fixed_ips': {
                        'type': 'object', 'additionalProperties': {'type': 'string'},
                        'title': 'Saved fixed IP -> address to give the new server instead'},
                    'floating_network_id': {
                        'type': 'string',
                        'title': 'External network for the floating IPs (default: the saved '
                                 'one)'},
                    'restore_floating_ips': {
                        'type': 'boolean', 'default': True,
                        'title': 'Re-associate the floating IPs (the same address when free)'}}}

    def get_saved_info_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'properties': {
            'attach_metadata': {'type': 'object'}, 'server_metadata': {'type': 'object'},
            'boot_metadata': {'type': 'object'}}}

    def get_saved_info(self, metadata: dict) -> dict:
        return {k: metadata.get(k) for k in ('attach_metadata', 'server_metadata',
                                             'boot_metadata')}


class ServerProtectable(CloudProtectable):
    resource_type = R.SERVER
    parent_types = (R.PROJECT,)
    skip_statuses = ('deleted', 'error', 'unknown', 'soft_deleted', 'rescued')

    def _list_raw(self) -> list:
        return self.cloud.call('Listing servers', lambda: list(
            self.cloud.conn.compute.servers(details=True)))

    def _get_raw(self, resource_id: str):
        return self.cloud.call('Server %s' % resource_id, self.cloud.conn.compute.get_server,
                               resource_id)

    def _to_resource(self, item) -> Resource:
        return Resource(R.SERVER, item.id, item.name or '')

    def _tags(self, item) -> list | None:
        return item.tags

    def get_dependent_resources(self, parent: Resource) -> list[Resource]:
        if parent.type == R.PROJECT:
            return self.list_resources()
        return []
