"""Run with the cloud's own venv: users, projects, roles and the service
catalog of the karbor test cloud (idempotent), or wait for readiness.

  identity_setup.py catalog SERVICE...   service users and endpoints
  identity_setup.py tenants              project-a, project-b, user 'member'
  identity_setup.py wait SECONDS WHAT... cinder | nova-compute | nova-hypervisor |
                                        quotas | flavor | bench-az | networks
"""
import os
import sys
import time

import openstack

PASSWORD = os.environ['KARBOR_CLOUD_PASSWORD']
CATALOG = {
    'swift': ('swift', 'object-store', 'http://127.0.0.1:8080/v1/AUTH_%(project_id)s'),
    'glance': ('glance', 'image', 'http://127.0.0.1:9292'),
    'cinder': ('cinderv3', 'block-storage', 'http://127.0.0.1:8776/v3/%(project_id)s'),
    'placement': ('placement', 'placement', 'http://127.0.0.1:8778'),
    'nova': ('nova', 'compute', 'http://127.0.0.1:8774/v2.1'),
    'neutron': ('neutron', 'network', 'http://127.0.0.1:9696'),
}
SERVICE_USERS = ('swift', 'glance', 'cinder', 'placement', 'nova', 'neutron')
# (name, cidr, network attributes): documentation ranges, no packet ever leaves a port
NETWORKS = (('private', '198.51.100.0/24', {'is_shared': True}),
            ('public', '203.0.113.0/24', {'is_router_external': True,
                                          'provider_network_type': 'flat',
                                          'provider_physical_network': 'public'}))


def admin():
    return openstack.connect(cloud='karbor-admin')


def role(ident, name):
    return ident.find_role(name) or ident.create_role(name=name)


def project(ident, name, description):
    return (ident.find_project(name, domain_id='default') or
            ident.create_project(name=name, domain_id='default', description=description))


def user(ident, name, default_project):
    found = ident.find_user(name, domain_id='default')
    if found is None:
        found = ident.create_user(name=name, password=PASSWORD, domain_id='default',
                                  default_project_id=default_project.id)
    return found


def catalog(services):
    ident = admin().identity
    service_project = project(ident, 'service', 'service users')
    roles = {r: role(ident, r) for r in ('admin', 'service', 'member', 'reader', 'ResellerAdmin')}
    for key in services:
        name, kind, url = CATALOG[key]
        if key in SERVICE_USERS:
            account = user(ident, key, service_project)
            for r in ('admin', 'service'):
                ident.assign_project_role_to_user(service_project, account, roles[r])
        service = (next(iter(ident.services(name=name)), None) or
                   ident.create_service(name=name, type=kind, is_enabled=True))
        present = {e.interface for e in ident.endpoints(service_id=service.id)}
        for interface in ('public', 'internal', 'admin'):
            if interface not in present:
                ident.create_endpoint(service_id=service.id, interface=interface, url=url,
                                      region_id='RegionOne')
        print('catalog: %-10s %-14s %s' % (name, kind, url))


def tenants():
    ident = admin().identity
    member = role(ident, 'member')
    reader = role(ident, 'reader')
    first = project(ident, 'project-a', 'karbor tests: project A')
    second = project(ident, 'project-b', 'karbor tests: project B')
    account = user(ident, 'member', first)
    for proj in (first, second):
        ident.assign_project_role_to_user(proj, account, member)
        ident.assign_project_role_to_user(proj, account, reader)
    print('tenants: user member (role member) in project-a and project-b')


def networks(conn):
    """The shared network 'private' the tests boot servers on, and the external network
    'public' for router gateways and floating IPs; admin's, idempotent."""
    for name, cidr, attrs in NETWORKS:
        net = conn.network.find_network(name) or conn.network.create_network(name=name, **attrs)
        if not list(conn.network.subnets(network_id=net.id)):
            prefix = cidr.rsplit('.', 1)[0]
            conn.network.create_subnet(
                name=name + '-subnet', network_id=net.id, ip_version=4, cidr=cidr,
                gateway_ip=prefix + '.1', is_dhcp_enabled=False,
                allocation_pools=[{'start': prefix + '.10', 'end': prefix + '.250'}])
        print('ready: network %s (%s)' % (name, cidr))


def wait(seconds, what):
    deadline = time.time() + seconds
    conn = admin()

    def until(label, check):
        while time.time() < deadline:
            try:
                if check():
                    print('ready: %s' % label)
                    return
            except Exception:  # pylint: disable=broad-except
                pass  # still starting
            time.sleep(1)
        raise SystemExit('timed out waiting for %s' % label)

    if 'cinder' in what:
        until('cinder backend pool', lambda: list(conn.block_storage.backend_pools()))
        until('cinder-backup', lambda: any(s.binary == 'cinder-backup' and s.state == 'up'
                                           for s in conn.block_storage.services()))
    if 'nova-compute' in what:
        until('nova-compute', lambda: any(s.binary == 'nova-compute' and s.state == 'up'
                                          for s in conn.compute.services()))
        until('placement provider', lambda: list(conn.placement.resource_providers()))
    if 'nova-hypervisor' in what:
        until('nova hypervisor', lambda: list(conn.compute.hypervisors()))
    if 'bench-az' in what:
        def bench_up():
            up = {(s.binary, s.host.split('@')[0]) for s in conn.block_storage.services()
                  if s.availability_zone == 'bench' and s.state == 'up'}
            pools = [p.name for p in conn.block_storage.backend_pools()]
            return ({('cinder-volume', 'karbor-bench'), ('cinder-backup', 'karbor-bench')} <= up
                    and any(p.startswith('karbor-bench@') for p in pools))
        until('availability zone bench (cinder-volume, cinder-backup karbor-bench)', bench_up)
        # cinder-api caches the zone list for an hour and refreshes it after a request for a
        # zone it does not know: make that request, or the first volume in 'bench' gets a 400
        try:
            conn.block_storage.delete_volume(conn.block_storage.create_volume(
                size=1, name='karbor-az-cache-refresh', availability_zone='karbor-no-such-zone'))
        except openstack.exceptions.BadRequestException:
            pass
    if 'networks' in what:
        until('neutron', lambda: list(conn.network.extensions()))
        networks(conn)
    if 'quotas' in what:
        # the tests make many backups, snapshots and servers: lift the limits
        for name in ('project-a', 'project-b', 'admin'):
            proj = conn.identity.find_project(name, domain_id='default')
            conn.set_volume_quotas(proj.id, volumes=-1, snapshots=-1, backups=-1, gigabytes=-1,
                                   backup_gigabytes=-1)
            conn.set_compute_quotas(proj.id, instances=-1, cores=-1, ram=-1)
            conn.network.update_quota(proj.id, networks=-1, subnets=-1, ports=-1, routers=-1,
                                      floating_ips=-1, security_groups=-1,
                                      security_group_rules=-1)
        print('ready: quotas lifted for project-a, project-b, admin')
    if 'flavor' in what:
        if not conn.compute.find_flavor('m1.tiny'):
            conn.compute.create_flavor(name='m1.tiny', ram=64, vcpus=1, disk=1, is_public=True)
        print('ready: flavor m1.tiny')


if __name__ == '__main__':
    command, args = sys.argv[1], sys.argv[2:]
    if command == 'catalog':
        catalog(args)
    elif command == 'tenants':
        tenants()
    elif command == 'wait':
        wait(float(args[0]), args[1:])
