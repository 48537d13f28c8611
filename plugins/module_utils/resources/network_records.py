# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Neutron objects as the network plugin's bank record holds them, and the
lookups protect, the network restore and the server restore share."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput, NotFound

ROUTER_INTERFACE_OWNERS = ('network:router_interface', 'network:router_interface_distributed',
                           'network:ha_router_replicated_interface')


def neutron_made(port: dict) -> bool:
    """Ports Neutron makes itself (router interfaces and gateways, DHCP,
    floating IPs): saved, never created again."""
    return (port.get('device_owner') or '').startswith('network:')


def visible_network(cloud: Any, network_id: str, what: str, fix: str,
                    external: bool = False) -> Any:
    """The network a restore parameter (or saved gateway) names: the one check
    they all share, failing before anything is made with what to change."""
    try:
        found = cloud.call('Network %s' % network_id, cloud.conn.network.get_network, network_id)
    except NotFound:
        raise InvalidInput('%s names network %s, which this project cannot see; %s.'
                           % (what, network_id, fix)) from None
    if external and not found.is_router_external:
        raise InvalidInput('%s names network %s (%s), which is not external; %s.'
                           % (what, found.id, found.name, fix))
    return found


# -- the saved record, from openstacksdk objects -------------------------------------------

def network_record(net: Any) -> dict[str, Any]:
    return {'id': net.id, 'name': net.name or '', 'description': net.description or '',
            'admin_state_up': net.is_admin_state_up, 'mtu': net.mtu,
            'port_security_enabled': net.is_port_security_enabled,
            'shared': bool(net.is_shared), 'router_external': bool(net.is_router_external),
            'dns_domain': getattr(net, 'dns_domain', None) or None,
            'tags': list(net.tags or []), 'project_id': net.project_id}


def subnet_record(subnet: Any) -> dict[str, Any]:
    return {'id': subnet.id, 'name': subnet.name or '', 'description': subnet.description or '',
            'cidr': subnet.cidr, 'ip_version': subnet.ip_version,
            'gateway_ip': subnet.gateway_ip,
            'allocation_pools': [dict(p) for p in subnet.allocation_pools or []],
            'dns_nameservers': list(subnet.dns_nameservers or []),
            'host_routes': [dict(r) for r in subnet.host_routes or []],
            'enable_dhcp': bool(subnet.is_dhcp_enabled),
            'ipv6_address_mode': subnet.ipv6_address_mode, 'ipv6_ra_mode': subnet.ipv6_ra_mode}


def port_record(port: Any) -> dict[str, Any]:
    return {'id': port.id, 'name': port.name or '', 'description': port.description or '',
            'mac_address': port.mac_address,
            'fixed_ips': [dict(ip) for ip in port.fixed_ips or []],
            'security_group_ids': list(port.security_group_ids or []),
            'allowed_address_pairs': [dict(p) for p in port.allowed_address_pairs or []],
            'device_owner': port.device_owner or '', 'device_id': port.device_id or '',
            'admin_state_up': port.is_admin_state_up,
            'port_security_enabled': port.is_port_security_enabled}


RULE_FIELDS = ('direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max',
               'remote_ip_prefix', 'remote_group_id', 'description')


def group_record(group: Any) -> dict[str, Any]:
    return {'id': group.id, 'name': group.name or '', 'description': group.description or '',
            'rules': [{k: rule.get(k) for k in ('id',) + RULE_FIELDS}
                      for rule in group.security_group_rules or []]}


def router_record(router: Any, interfaces: list[dict]) -> dict[str, Any]:
    gateway = router.external_gateway_info or {}
    return {'id': router.id, 'name': router.name or '', 'description': router.description or '',
            'admin_state_up': router.is_admin_state_up,
            'external_network_id': gateway.get('network_id'),
            'external_fixed_ips': [dict(ip) for ip in gateway.get('external_fixed_ips') or []],
            'interfaces': interfaces}


def router_interfaces(ports: Iterable[dict], subnet_ids: set[str]) -> dict[str, list[dict]]:
    """Router id -> its interfaces on these subnets, from the network's ports."""
    found: dict[str, list[dict]] = {}
    for port in ports:
        if port['device_owner'] not in ROUTER_INTERFACE_OWNERS or not port['device_id']:
            continue
        for ip in port['fixed_ips']:
            if ip.get('subnet_id') in subnet_ids:
                found.setdefault(port['device_id'], []).append(
                    {'port_id': port['id'], 'subnet_id': ip['subnet_id'],
                     'ip_address': ip.get('ip_address')})
    return found


def referenced_groups(start: Iterable[str], fetch: Callable[[str], dict]) -> dict[str, dict]:
    """The groups ``start`` names and, transitively, those their rules name as
    remote groups (a restored rule must have its remote group restored)."""
    groups: dict[str, dict] = {}
    pending = list(start)
    while pending:
        group_id = pending.pop()
        if group_id in groups:
            continue
        groups[group_id] = group = fetch(group_id)
        pending.extend(r['remote_group_id'] for r in group['rules'] if r.get('remote_group_id'))
    return groups


# -- protect: everything one network's restore needs ---------------------------------------

def network_metadata(cloud: Any, network_id: str) -> dict[str, Any]:
    """Everything the restore needs of one network, read from Neutron."""
    net = cloud.conn.network
    network = cloud.call('Network %s' % network_id, net.get_network, network_id)
    subnets = [subnet_record(s) for s in cloud.call(
        'Subnets of network %s' % network_id, lambda: list(net.subnets(network_id=network_id)))]
    ports = [port_record(p) for p in cloud.call(
        'Ports of network %s' % network_id, lambda: list(net.ports(network_id=network_id)))]
    routers = [router_record(cloud.call('Router %s' % router_id, net.get_router, router_id),
                             interfaces)
               for router_id, interfaces in sorted(router_interfaces(
                   ports, {s['id'] for s in subnets}).items())]
    groups = referenced_groups(
        sorted({g for p in ports if not neutron_made(p) for g in p['security_group_ids']}),
        lambda group_id: group_record(cloud.call('Security group %s' % group_id,
                                                 net.get_security_group, group_id)))
    port_ids = {p['id'] for p in ports}
    floating = [{'id': f.id, 'floating_ip_address': f.floating_ip_address,
                 'floating_network_id': f.floating_network_id, 'port_id': f.port_id,
                 'fixed_ip_address': f.fixed_ip_address, 'description': f.description or ''}
                for f in cloud.call('Floating IPs', lambda: list(net.ips(
                    project_id=network.project_id))) if f.port_id in port_ids]
    return {'resource_id': network_id, 'network': network_record(network),
            'subnets': subnets, 'ports': ports, 'routers': routers,
            'security_groups': [groups[k] for k in sorted(groups)],
            'floating_ips': floating}
