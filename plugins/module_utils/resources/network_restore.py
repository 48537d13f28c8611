# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network plugin's restore: the saved network, subnets, security groups,
routers and ports made again in the target (or an existing network reused),
planned and checked before anything is made, undone when it fails."""

from __future__ import annotations

import ipaddress
import threading
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput, KarborError, NotFound
from ansible_collections.karbor.protection.plugins.module_utils.resources.network_records import (
    ROUTER_INTERFACE_OWNERS, RULE_FIELDS, neutron_made, visible_network)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import Operation, OperationContext

ANY_PREFIXES = ('0.0.0.0/0', '::/0')
DEFAULT_GROUP = 'default'

# Network restores of one run are serialized: two networks on one router or
# sharing a security group must make it once, not race to make it twice.
_RESTORE_LOCK = threading.Lock()


# -- restore planning: pure functions over the saved record -----------------------------------

def rule_key(rule: dict, group_ids: dict[str, str]) -> tuple:
    """What makes two rules the same rule (Neutron refuses duplicates), with
    the remote group mapped to the target's id and "any address" unified."""
    prefix = rule.get('remote_ip_prefix')
    remote_group = rule.get('remote_group_id')
    return (rule.get('direction'), rule.get('ethertype'), (rule.get('protocol') or None),
            rule.get('port_range_min'), rule.get('port_range_max'),
            None if prefix in ANY_PREFIXES else prefix,
            group_ids.get(remote_group, remote_group) if remote_group else None)


def rules_to_sync(saved: list[dict], existing: list[dict],
                  group_ids: dict[str, str]) -> tuple[list[dict], list[str]]:
    """The rules to create (saved ones the new group lacks, remote groups
    mapped) and the ids to delete (rules Neutron put in the new group that
    the saved one did not have, such as its default egress rules)."""
    wanted = {rule_key(r, group_ids): r for r in saved}
    have = {rule_key(r, {}): r for r in existing}
    create = []
    for key, rule in wanted.items():
        if key in have:
            continue
        attrs = {k: rule.get(k) for k in RULE_FIELDS if rule.get(k) is not None}
        if rule.get('remote_group_id'):
            attrs['remote_group_id'] = group_ids.get(rule['remote_group_id'],
                                                     rule['remote_group_id'])
        create.append(attrs)
    delete = [r['id'] for key, r in have.items() if key not in wanted]
    return create, delete


def subnet_map_by_cidr(saved_subnets: list[dict], existing: list[dict]) -> dict[str, str] | None:
    """Saved subnet id -> the existing subnet of the same CIDR; None when
    one CIDR is missing (the network is not the same network)."""
    by_cidr = {ipaddress.ip_network(s['cidr']): s['id'] for s in existing}
    mapped = {}
    for subnet in saved_subnets:
        found = by_cidr.get(ipaddress.ip_network(subnet['cidr']))
        if found is None:
            return None
        mapped[subnet['id']] = found
    return mapped


def port_attributes(saved: dict, network_id: str, subnet_ids: dict[str, str],
                    group_ids: dict[str, str], used_ips: set[tuple[str, str]],
                    used_macs: set[str]) -> dict[str, Any]:
    """create_port's arguments for a saved port on the restored network:
    fixed IPs on the new subnets (the same address when it is free), the same
    MAC when free, the restored security groups. The device owner is left to
    whoever attaches the port (Nova sets it)."""
    fixed_ips = []
    for ip in saved['fixed_ips']:
        subnet = subnet_ids.get(ip.get('subnet_id'))
        if subnet is None:
            continue  # a subnet that was not saved (it was not on this network)
        entry = {'subnet_id': subnet}
        if ip.get('ip_address') and (subnet, ip['ip_address']) not in used_ips:
            entry['ip_address'] = ip['ip_address']
        fixed_ips.append(entry)
    attrs: dict[str, Any] = {'network_id': network_id, 'name': saved['name'],
                             'description': saved['description'], 'fixed_ips': fixed_ips}
    if saved.get('mac_address') and saved['mac_address'] not in used_macs:
        attrs['mac_address'] = saved['mac_address']
    if saved.get('port_security_enabled') is False:
        attrs['is_port_security_enabled'] = False
    else:
        attrs['security_group_ids'] = [group_ids.get(g, g) for g in saved['security_group_ids']]
        if saved.get('allowed_address_pairs'):
            attrs['allowed_address_pairs'] = saved['allowed_address_pairs']
    if saved.get('admin_state_up') is False:
        attrs['is_admin_state_up'] = False
    return attrs


def interface_request(iface: dict, subnet_ids: dict[str, str],
                      gateways: dict[str, str | None]) -> dict[str, str] | None:
    """How a saved router interface is added back: by subnet when it held the
    subnet's gateway address (Neutron gives it that address), else on a port
    with its address (``{'port_ip': ...}``); None when its subnet is not restored."""
    subnet = subnet_ids.get(iface['subnet_id'])
    if subnet is None:
        return None
    if not iface.get('ip_address') or iface['ip_address'] == gateways.get(subnet):
        return {'subnet_id': subnet}
    return {'subnet_id': subnet, 'port_ip': iface['ip_address']}


def subnet_attributes(saved: dict, network_id: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        'network_id': network_id, 'name': saved['name'], 'description': saved['description'],
        'ip_version': saved['ip_version'], 'cidr': saved['cidr'],
        'gateway_ip': saved['gateway_ip'], 'is_dhcp_enabled': saved['enable_dhcp']}
    for key in ('allocation_pools', 'dns_nameservers', 'host_routes'):
        if saved.get(key):
            attrs[key] = saved[key]
    for key in ('ipv6_address_mode', 'ipv6_ra_mode'):
        if saved.get(key):
            attrs[key] = saved[key]
    return attrs


# -- restore ------------------------------------------------------------------------------

class _Plan:
    """What a restore will make and what it will reuse, decided before any of it."""

    def __init__(self, meta: dict) -> None:
        self.meta = meta
        self.reuse_network: str | None = None
        self.subnet_ids: dict[str, str] = {}
        self.external: dict[str, str] = {}  # saved router id -> external network in the target


class NeutronRestore(Operation):
    """Network, subnets, security groups (rules with remote groups mapped),
    routers (interfaces on the new subnets, gateway on the same external
    network) and the ports that Neutron does not make itself; every new id is
    published at once. A failure deletes what this resource made."""

    def __init__(self) -> None:
        self.plan: _Plan | None = None
        self.created: list[tuple[str, Any]] = []
        self.published: list[str] = []

    def precheck(self, ctx: OperationContext) -> None:
        self.plan = self._make_plan(ctx)

    def on_main(self, ctx: OperationContext) -> None:
        plan = self.plan or self._make_plan(ctx)
        with _RESTORE_LOCK, ctx.undone_on_failure(
                'what it had made for network %s' % ctx.resource.id, lambda: self._undo(ctx)):
            self._restore(ctx, plan)

    # -- before anything is made ------------------------------------------------------------
    def _make_plan(self, ctx: OperationContext) -> _Plan:
        cloud, net = ctx.cloud, ctx.cloud.conn.network
        plan = _Plan(ctx.section.get_json('metadata'))
        meta, params = plan.meta, ctx.parameters
        where = 'the restore parameters of %s#%s' % (R.NETWORK, ctx.resource.id)
        if params.get('network_id'):
            target = visible_network(cloud, params['network_id'], 'network_id in %s' % where,
                                     'give an existing network, or leave network_id out to '
                                     'create one')
            mapped = self._existing_subnets(ctx, target.id, meta['subnets'])
            if mapped is None:
                raise InvalidInput(
                    'Network %s (%s) lacks a subnet of the saved CIDRs %s; give a network with '
                    'those CIDRs as network_id in %s, or leave it out to create one.'
                    % (target.id, target.name, ', '.join(s['cidr'] for s in meta['subnets']),
                       where))
            plan.reuse_network, plan.subnet_ids = target.id, mapped
        elif params.get('reuse_existing'):
            for candidate in cloud.call('Networks named %s' % meta['network']['name'], lambda: list(
                    net.networks(name=meta['network']['name']))):
                mapped = self._existing_subnets(ctx, candidate.id, meta['subnets'])
                if mapped is not None:
                    plan.reuse_network, plan.subnet_ids = candidate.id, mapped
                    break
        for router in meta['routers']:
            if router.get('external_network_id'):
                plan.external[router['id']] = visible_network(
                    cloud, params.get('external_network_id') or router['external_network_id'],
                    'The external gateway of router %s (%s)' % (router['id'], router['name']),
                    'set external_network_id in %s to an external network' % where,
                    external=True).id
        return plan

    @staticmethod
    def _existing_subnets(ctx: OperationContext, network_id: str,
                          saved: list[dict]) -> dict[str, str] | None:
        existing = ctx.cloud.call('Subnets of network %s' % network_id, lambda: [
            {'id': s.id, 'cidr': s.cidr}
            for s in ctx.cloud.conn.network.subnets(network_id=network_id)])
        return subnet_map_by_cidr(saved, existing)

    # -- making it ----------------------------------------------------------------------------
    def _made(self, ctx: OperationContext, kind: str, original_id: str | None, new: Any,
              undo: Any = None) -> Any:
        self.created.append((kind, undo if undo is not None else new.id))
        if original_id:
            self._publish(ctx, original_id, new.id)
        return new

    def _publish(self, ctx: OperationContext, original_id: str, new_id: str) -> None:
        ctx.publish_new_resource(original_id, new_id)
        self.published.append(original_id)

    def _restore(self, ctx: OperationContext, plan: _Plan) -> None:
        cloud, net, meta = ctx.cloud, ctx.cloud.conn.network, plan.meta
        saved_net = meta['network']
        if plan.reuse_network:
            network_id = plan.reuse_network
            self._publish(ctx, saved_net['id'], network_id)
            for original, new in plan.subnet_ids.items():
                self._publish(ctx, original, new)
        else:
            attrs = {'name': ctx.parameters.get('restore_name') or saved_net['name'],
                     'description': saved_net['description']}
            if saved_net.get('admin_state_up') is False:
                attrs['is_admin_state_up'] = False
            if saved_net.get('port_security_enabled') is False:
                attrs['is_port_security_enabled'] = False
            network = self._made(ctx, 'network', saved_net['id'], cloud.call(
                'Creating network %s' % attrs['name'], net.create_network, **attrs))
            network_id = network.id
            if saved_net.get('tags'):
                cloud.call('Tagging network %s' % network_id, net.set_tags, network,
                           saved_net['tags'])
            for saved in meta['subnets']:
                subnet = self._made(ctx, 'subnet', saved['id'], cloud.call(
                    'Creating subnet %s' % saved['cidr'], net.create_subnet,
                    **subnet_attributes(saved, network_id)))
                plan.subnet_ids[saved['id']] = subnet.id
        group_ids = self._restore_groups(ctx, meta['security_groups'], bool(plan.reuse_network))
        self._restore_routers(ctx, plan)
        self._restore_ports(ctx, plan, network_id, group_ids)

    def _restore_groups(self, ctx: OperationContext, groups: list[dict],
                        reusing: bool) -> dict[str, str]:
        """Saved group id -> the target's: ``default`` is the project's own
        default group (Neutron makes it), a group restored earlier in this run
        is reused (and, onto a reused network, a group that still exists),
        the others are made with their saved rules."""
        cloud, net = ctx.cloud, ctx.cloud.conn.network
        group_ids: dict[str, str] = {}
        made = []
        for group in groups:
            if group['id'] in ctx.new_resources:
                group_ids[group['id']] = ctx.new_resources[group['id']]
            elif reusing and self._exists(ctx, net.get_security_group, group['id']):
                self._publish(ctx, group['id'], group['id'])
                group_ids[group['id']] = group['id']
            elif group['name'] == DEFAULT_GROUP:
                found = cloud.call('The default security group', lambda: list(
                    net.security_groups(name=DEFAULT_GROUP, project_id=cloud.project_id)))
                if not found:
                    raise KarborError('This project has no default security group.')
                group_ids[group['id']] = found[0].id
            else:
                new = self._made(ctx, 'security_group', group['id'], cloud.call(
                    'Creating security group %s' % group['name'], net.create_security_group,
                    name=group['name'], description=group['description']))
                group_ids[group['id']] = new.id
                made.append((group, new))
        for group, new in made:  # every group exists now: remote groups can be mapped
            create, delete = rules_to_sync(group['rules'], new.security_group_rules or [],
                                           group_ids)
            for rule_id in delete:
                cloud.call('Deleting default rule %s' % rule_id, net.delete_security_group_rule,
                           rule_id)
            for attrs in create:
                cloud.call('Creating a rule of security group %s' % group['name'],
                           net.create_security_group_rule, security_group_id=new.id, **attrs)
        return group_ids

    def _restore_routers(self, ctx: OperationContext, plan: _Plan) -> None:
        cloud, net = ctx.cloud, ctx.cloud.conn.network
        gateways = {}
        for new_subnet in set(plan.subnet_ids.values()):
            gateways[new_subnet] = cloud.call('Subnet %s' % new_subnet, net.get_subnet,
                                              new_subnet).gateway_ip
        attached = self._attached_subnets(ctx, plan) if plan.reuse_network else set()
        for saved in plan.meta['routers']:
            requests = [r for r in (interface_request(i, plan.subnet_ids, gateways)
                                    for i in saved['interfaces'])
                        if r is not None and r['subnet_id'] not in attached]
            if not requests:
                continue  # a reused network already routed as saved
            router_id = ctx.new_resources.get(saved['id'])
            if router_id is None:
                attrs = {'name': saved['name'], 'description': saved['description']}
                if saved['id'] in plan.external:
                    attrs['external_gateway_info'] = {'network_id': plan.external[saved['id']]}
                router_id = self._made(ctx, 'router', saved['id'], cloud.call(
                    'Creating router %s' % saved['name'], net.create_router, **attrs)).id
            for request in requests:
                if 'port_ip' in request:
                    port = self._made(ctx, 'port', None, cloud.call(
                        'Creating the interface port %s' % request['port_ip'], net.create_port,
                        network_id=self._network_of(plan), fixed_ips=[{
                            'subnet_id': request['subnet_id'],
                            'ip_address': request['port_ip']}]))
                    cloud.call('Adding interface %s to router %s' % (request['port_ip'],
                                                                     router_id),
                               net.add_interface_to_router, router_id, port_id=port.id)
                    self.created[-1] = ('interface', (router_id, {'port_id': port.id}))
                else:
                    cloud.call('Adding subnet %s to router %s' % (request['subnet_id'],
                                                                  router_id),
                               net.add_interface_to_router, router_id,
                               subnet_id=request['subnet_id'])
                    self.created.append(('interface', (router_id,
                                                       {'subnet_id': request['subnet_id']})))

    @staticmethod
    def _exists(ctx: OperationContext, getter: Callable, resource_id: str) -> bool:
        try:
            ctx.cloud.call('Looking up %s' % resource_id, getter, resource_id)
        except NotFound:
            return False
        return True

    def _network_of(self, plan: _Plan) -> str:
        if plan.reuse_network:
            return plan.reuse_network
        return next(new_id for kind, new_id in self.created if kind == 'network')

    @staticmethod
    def _attached_subnets(ctx: OperationContext, plan: _Plan) -> set[str]:
        """Subnets of a reused network that a router already routes."""
        ports = ctx.cloud.call('Ports of network %s' % plan.reuse_network, lambda: list(
            ctx.cloud.conn.network.ports(network_id=plan.reuse_network)))
        return {ip['subnet_id'] for p in ports if p.device_owner in ROUTER_INTERFACE_OWNERS
                for ip in p.fixed_ips or []}

    def _restore_ports(self, ctx: OperationContext, plan: _Plan, network_id: str,
                       group_ids: dict[str, str]) -> None:
        cloud, net = ctx.cloud, ctx.cloud.conn.network
        existing = cloud.call('Ports of network %s' % network_id, lambda: list(
            net.ports(network_id=network_id)))
        existing_ids = {p.id for p in existing}
        used_ips = {(ip['subnet_id'], ip['ip_address']) for p in existing
                    for ip in p.fixed_ips or []}
        used_macs = {p.mac_address for p in existing}
        for saved in plan.meta['ports']:
            if neutron_made(saved):
                continue
            if saved['id'] in existing_ids:  # a reused network that still has the port
                self._publish(ctx, saved['id'], saved['id'])
                continue
            attrs = port_attributes(saved, network_id, plan.subnet_ids, group_ids, used_ips,
                                    used_macs)
            port = self._made(ctx, 'port', saved['id'], cloud.call(
                'Creating port %s' % (saved['name'] or saved['id']), net.create_port, **attrs))
            used_ips.update((ip['subnet_id'], ip['ip_address']) for ip in port.fixed_ips or [])
            used_macs.add(port.mac_address)

    # -- undoing it ---------------------------------------------------------------------------
    def _undo(self, ctx: OperationContext) -> list[str]:
        """Delete what this restore made, newest first; what could not be
        deleted stays published (the restore record names it)."""
        net = ctx.cloud.conn.network
        undo = {
            'port': net.delete_port, 'router': net.delete_router,
            'security_group': net.delete_security_group, 'subnet': net.delete_subnet,
            'network': net.delete_network,
            'interface': lambda target: net.remove_interface_from_router(target[0], **target[1]),
        }
        undone, failed = [], set()
        for kind, target in reversed(self.created):
            try:
                ctx.cloud.call('Deleting %s %s' % (kind, target), undo[kind], target)
                undone.append('%s %s' % (kind, target if kind != 'interface' else target[0]))
            except KarborError:
                failed.add(target if kind != 'interface' else None)
        for original_id in reversed(self.published):
            if ctx.new_resources.get(original_id) not in failed:
                ctx.publish_new_resource(original_id, None)
        self.created, self.published = [], []
        return undone
