# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A server's place on the network: what protect saves of its ports and
floating IPs, and how restore puts a new server back there.

Why a file of its own: the network plugin restores networks, subnets,
routers, security groups and ports (publishing old port id -> new port id);
the server plugin then boots on those ports (keeping their fixed IPs and
security groups), or on mapped networks when the ports were not restored,
and re-associates the floating IPs. Every restore parameter is checked
before anything is made (``check_parameters``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.resources.network_records import (
    visible_network)


def saved_ports(cloud: Any, server_id: str) -> tuple[list[dict], list[dict]]:
    """The server's ports and the floating IPs on them, as protect records them."""
    conn = cloud.conn
    ports, floating = [], []
    try:
        found = list(conn.network.ports(device_id=server_id))
    except Exception:  # pylint: disable=broad-except
        return [], []  # no network service visible: networks come from addresses only
    for port in found:
        ports.append({'id': port.id, 'network_id': port.network_id,
                      'mac_address': port.mac_address,
                      'fixed_ips': [dict(ip) for ip in (port.fixed_ips or [])],
                      'security_group_ids': list(port.security_group_ids or [])})
        for fip in cloud.call('Floating IPs of port %s' % port.id,
                              lambda p=port: list(conn.network.ips(port_id=p.id))):
            floating.append({'id': fip.id, 'address': fip.floating_ip_address,
                             'floating_network_id': fip.floating_network_id,
                             'fixed_ip_address': fip.fixed_ip_address, 'port_id': port.id})
    return ports, floating


def _saved_cidrs(ctx: Any, network_id: str) -> list[str]:
    """CIDRs of a network restored in this run (its subnets are made with the
    saved CIDRs), read from the network's own section of the checkpoint."""
    try:
        meta = ctx.checkpoint.resource_section(network_id).get_json('metadata')
    except (NotFound, KeyError):
        return []
    return [s['cidr'] for s in meta.get('subnets') or []]


def check_parameters(ctx: Any, smeta: dict) -> None:
    """Bad restore parameters fail here, before the restore makes anything:
    a mapped network that does not exist, a fixed IP outside the subnets of
    the network it will be on, a floating network that is not external."""
    params, cloud = ctx.parameters, ctx.cloud
    where = 'the restore parameters of OS::Nova::Server#%s' % ctx.resource.id
    network_map = params.get('network_map') or {}
    for old, new in sorted(network_map.items()):
        visible_network(cloud, new, 'network_map[%r] in %s' % (old, where),
                        'give an existing network id')
    if params.get('restore_net_id'):
        visible_network(cloud, params['restore_net_id'], 'restore_net_id in %s' % where,
                        'give an existing network id')
    for old_ip, new_ip in sorted((params.get('fixed_ips') or {}).items()):
        port = next((p for p in smeta.get('ports') or [] for ip in p['fixed_ips']
                     if ip.get('ip_address') == old_ip), None)
        if port is None:
            raise InvalidInput('fixed_ips in %s maps %s, which no port of the server had; the '
                               'saved addresses are %s.' % (where, old_ip, ', '.join(sorted(
                                   ip['ip_address'] for p in smeta.get('ports') or []
                                   for ip in p['fixed_ips'])) or 'none'))
        target = network_map.get(port['network_id']) or params.get('restore_net_id')
        if target:
            cidrs = [s.cidr for s in cloud.call('Subnets of network %s' % target, lambda t=target: (
                list(cloud.conn.network.subnets(network_id=t))))]
        else:
            cidrs = _saved_cidrs(ctx, port['network_id'])
        try:
            address = ipaddress.ip_address(new_ip)
        except ValueError:
            raise InvalidInput('fixed_ips in %s maps %s to %r, which is not an IP address.'
                               % (where, old_ip, new_ip))
        if cidrs and not any(address in ipaddress.ip_network(c) for c in cidrs):
            raise InvalidInput('fixed_ips in %s maps %s to %s, which is outside the subnets '
                               '(%s) of the network the port will be on; choose an address in '
                               'one of them.' % (where, old_ip, new_ip, ', '.join(cidrs)))
    networks = {f['floating_network_id'] for f in smeta.get('floating') or []}
    if params.get('floating_network_id'):
        networks = {params['floating_network_id']}
    for network_id in sorted(networks):
        visible_network(cloud, network_id, 'The floating IP network of %s' % where,
                        'set floating_network_id in %s to an external network' % where,
                        external=True)


def _fixed_ip(ctx: Any, port: dict) -> str | None:
    saved = next((ip['ip_address'] for ip in port['fixed_ips'] if ip.get('ip_address')), None)
    return (ctx.parameters.get('fixed_ips') or {}).get(saved, saved)


def nics(ctx: Any, smeta: dict) -> list[dict] | str:
    """create_server's ``networks``: each saved port's restored copy when the
    network plugin made one (it keeps the fixed IPs, MAC and security groups),
    else its network (mapped, restored or the same) with its fixed IP."""
    params = ctx.parameters
    if params.get('restore_net_id') and not params.get('network_map'):
        return [{'uuid': params['restore_net_id']}]
    ports = smeta.get('ports') or []
    if not ports:
        return [{'uuid': n} for n in smeta['networks']] if smeta.get('networks') else 'none'
    network_map = params.get('network_map') or {}
    chosen = []
    for port in ports:
        new_port = ctx.new_resources.get(port['id'])
        if new_port and port['network_id'] not in network_map:
            _move_fixed_ip(ctx, port, new_port)
            chosen.append({'port': new_port})
            continue
        network = (network_map.get(port['network_id']) or params.get('restore_net_id')
                   or ctx.new_resources.get(port['network_id']) or port['network_id'])
        nic = {'uuid': network}
        address = _fixed_ip(ctx, port)
        if address and _address_free(ctx, network, address):
            nic['fixed_ip'] = address
        chosen.append(nic)
    return chosen


def _move_fixed_ip(ctx: Any, port: dict, new_port: str) -> None:
    """Apply a ``fixed_ips`` override to a port the network plugin restored."""
    saved = next((ip for ip in port['fixed_ips'] if ip.get('ip_address')), None)
    wanted = _fixed_ip(ctx, port)
    if not saved or wanted == saved['ip_address']:
        return
    net = ctx.cloud.conn.network
    current = ctx.cloud.call('Port %s' % new_port, net.get_port, new_port)
    subnet = current.fixed_ips[0]['subnet_id'] if current.fixed_ips else None
    ctx.cloud.call('Giving port %s the address %s' % (new_port, wanted), net.update_port,
                   new_port, fixed_ips=[{'subnet_id': subnet, 'ip_address': wanted}])


def _address_free(ctx: Any, network_id: str, address: str) -> bool:
    """Whether to ask Nova for this fixed IP: it is free, and the network is
    the project's own (Neutron lets only a network's owner choose addresses
    on it, so asking on a shared network would fail the server's build)."""
    try:
        network = ctx.cloud.call('Network %s' % network_id, ctx.cloud.conn.network.get_network,
                                 network_id)
        if network.project_id != ctx.cloud.project_id:
            return False
        used = ctx.cloud.call('Ports of network %s' % network_id, lambda: list(
            ctx.cloud.conn.network.ports(network_id=network_id)))
    except KarborError:
        return False
    return not any(ip.get('ip_address') == address for p in used for ip in p.fixed_ips or [])


def restore_floating_ips(ctx: Any, server_id: str, smeta: dict, chosen: list[dict] | str,
                         made: list[str]) -> list[dict]:
    """Re-associate each saved floating IP with the new server's port on the
    port or network ``nics`` chose for its saved port (``chosen``): the same
    address when it is free (an unassociated one that still exists is reused), else a new one from the same external network.
    New floating IPs are appended to ``made`` (deleted if the restore fails).
    Returns what was done, one entry per saved floating IP."""
    cloud, net = ctx.cloud, ctx.cloud.conn.network
    if ctx.parameters.get('restore_floating_ips') is False:
        return []
    ports = smeta.get('ports') or []
    new_ports = cloud.call('Ports of server %s' % server_id, lambda: list(
        net.ports(device_id=server_id)))
    done = []
    for fip in smeta.get('floating') or []:
        target = _matching_port(fip['port_id'], ports, chosen, new_ports)
        if target is None:
            raise KarborError('The restored server %s has no port on the network of floating IP '
                              '%s.' % (server_id, fip['address']))
        network = ctx.parameters.get('floating_network_id') or fip['floating_network_id']
        entry = _associate(ctx, fip, network, target, made)
        ctx.publish_new_resource(fip['id'], entry['id'])
        done.append(entry)
    return done


def _matching_port(saved_port_id: str, saved_ports: list[dict], chosen: list[dict] | str,
                   new_ports: list) -> Any:
    """The new server's port where the NIC made for this saved port landed."""
    index = next((i for i, p in enumerate(saved_ports) if p['id'] == saved_port_id), None)
    if index is not None and isinstance(chosen, list) and len(chosen) == len(saved_ports):
        nic = chosen[index]
        found = next((p for p in new_ports if p.id == nic.get('port')
                      or p.network_id == nic.get('uuid')), None)
        if found is not None:
            return found
    return new_ports[0] if len(new_ports) == 1 else None


def _associate(ctx: Any, fip: dict, network: str, port: Any, made: list[str]) -> dict:
    cloud, net = ctx.cloud, ctx.cloud.conn.network
    existing = cloud.call('Floating IP %s' % fip['address'], lambda: list(
        net.ips(floating_ip_address=fip['address'], floating_network_id=network)))
    if existing and not existing[0].port_id:
        cloud.call('Associating floating IP %s' % fip['address'], net.update_ip, existing[0],
                   port_id=port.id)
        return {'id': existing[0].id, 'address': fip['address'], 'saved': fip['address'],
                'how': 'reused'}
    attrs = {'floating_network_id': network, 'port_id': port.id}
    how = 'new address'
    if not existing and network == fip['floating_network_id']:
        attrs['floating_ip_address'] = fip['address']
        how = 'same address'
    try:
        new = cloud.call('Creating floating IP', net.create_ip, **attrs)
    except (Conflict, InvalidInput, KarborError):
        if 'floating_ip_address' not in attrs:
            raise
        attrs.pop('floating_ip_address')  # taken meanwhile: another from the same network
        how = 'new address'
        new = cloud.call('Creating floating IP', net.create_ip, **attrs)
    made.append(new.id)
    return {'id': new.id, 'address': new.floating_ip_address, 'saved': fip['address'], 'how': how}
