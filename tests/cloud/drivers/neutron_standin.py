"""A small stateful stand-in for the Neutron API (WSGI app under gunicorn).

Nova needs ports on a network to boot a server, and the openstacksdk cloud
layer asks for networks; this answers those calls with one shared network
(``private``, 198.51.100.0/24, a documentation range: no packet is ever
sent), per-project default security groups, and ports that bind when Nova
sets ``binding:host_id``. State survives restarts in a JSON file.
"""
import ipaddress
import json
import os
import threading
import urllib.parse
import uuid

STATE_PATH = os.path.join(os.environ.get('KARBOR_CLOUD_DATA', '/tmp/karbor-cloud/data'),
                          'neutron-standin.json')
SUBNET = ipaddress.ip_network('198.51.100.0/24')
STAMP = '2026-01-01T00:00:00Z'
LOCK = threading.Lock()
COLLECTIONS = {'networks': 'network', 'subnets': 'subnet', 'ports': 'port',
               'security-groups': 'security_group', 'floatingips': 'floatingip',
               'security-group-rules': 'security_group_rule', 'routers': 'router'}
IGNORED_QUERY = {'fields', 'limit', 'marker', 'sort_key', 'sort_dir', 'page_reverse'}


def _fresh_state():
    net, sub = str(uuid.uuid4()), str(uuid.uuid4())
    common = {'tenant_id': 'shared', 'project_id': 'shared', 'description': '', 'tags': [],
              'created_at': STAMP, 'updated_at': STAMP, 'revision_number': 1}
    return {
        'networks': {net: dict(common, id=net, name='private', status='ACTIVE', shared=True,
                               admin_state_up=True, mtu=1500, subnets=[sub],
                               port_security_enabled=True, availability_zones=['nova'],
                               **{'router:external': False, 'provider:network_type': 'local'})},
        'subnets': {sub: dict(common, id=sub, name='private-subnet', network_id=net,
                              cidr=str(SUBNET), ip_version=4, gateway_ip=str(SUBNET[1]),
                              enable_dhcp=False, dns_nameservers=[], host_routes=[],
                              allocation_pools=[{'start': str(SUBNET[10]),
                                                 'end': str(SUBNET[250])}])},
        'ports': {}, 'security-groups': {}, 'floatingips': {}, 'security-group-rules': {},
        'routers': {},
    }


def _load():
    try:
        with open(STATE_PATH) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return _fresh_state()


STATE = _load()


def _save():
    tmp = STATE_PATH + '.tmp'
    with open(tmp, 'w') as handle:
        json.dump(STATE, handle)
    os.replace(tmp, STATE_PATH)


def _error(status, kind, message):
    return status, {'NeutronError': {'type': kind, 'message': message, 'detail': ''}}


def _default_group(project):
    groups = STATE['security-groups']
    for group in groups.values():
        if group['project_id'] == project and group['name'] == 'default':
            return group
    gid = str(uuid.uuid4())
    groups[gid] = {'id': gid, 'name': 'default', 'description': 'default', 'stateful': True,
                   'tenant_id': project, 'project_id': project, 'security_group_rules': [],
                   'tags': [], 'created_at': STAMP, 'updated_at': STAMP, 'revision_number': 1}
    return groups[gid]


def _matches(item, key, wanted):
    if key == 'fixed_ips':
        pairs = [w.partition('=') for w in wanted]
        return any(str(ip.get(k)) == v for k, _s, v in pairs for ip in item.get('fixed_ips', []))
    value = item.get(key)
    if isinstance(value, list):
        return any(str(v) in wanted for v in value)
    if isinstance(value, bool) or value is None:
        return str(value).lower() in [w.lower() for w in wanted]
    return str(value) in wanted


def _free_ip():
    used = {ip['ip_address'] for port in STATE['ports'].values() for ip in port['fixed_ips']}
    for host in list(SUBNET.hosts())[9:250]:
        if str(host) not in used:
            return str(host)
    raise RuntimeError('no address left')


def _bind(port):
    bound = bool(port.get('binding:host_id'))
    port['status'] = 'ACTIVE' if bound else 'DOWN'
    port['binding:vif_type'] = 'ovs' if bound else 'unbound'
    port['binding:vif_details'] = ({'port_filter': True, 'ovs_hybrid_plug': False,
                                    'datapath_type': 'system', 'bridge_name': 'br-int'}
                                   if bound else {})


def _new_port(body, project):
    network = STATE['networks'].get(body.get('network_id'))
    if network is None:
        return _error('404 Not Found', 'NetworkNotFound', 'network not found')
    owner = body.pop('project_id', None) or body.pop('tenant_id', None) or project
    subnet = network['subnets'][0]
    fixed = body.pop('fixed_ips', None) or [{}]
    pid = str(uuid.uuid4())
    mac = 'fa:16:3e:%s' % ':'.join(pid.replace('-', '')[i:i + 2] for i in (0, 2, 4))
    port = {'id': pid, 'name': '', 'network_id': network['id'], 'tenant_id': owner,
            'project_id': owner, 'admin_state_up': True, 'device_id': '', 'device_owner': '',
            'mac_address': mac, 'security_groups': [], 'port_security_enabled': True,
            'binding:host_id': '', 'binding:vnic_type': 'normal', 'binding:profile': {},
            'allowed_address_pairs': [], 'extra_dhcp_opts': [], 'description': '', 'tags': [],
            'dns_name': '', 'dns_assignment': [], 'qos_policy_id': None,
            'resource_request': None, 'created_at': STAMP, 'updated_at': STAMP,
            'revision_number': 1, 'propagate_uplink_status': False}
    port.update(body)
    port['fixed_ips'] = [{'subnet_id': f.get('subnet_id', subnet),
                          'ip_address': f.get('ip_address') or _free_ip()} for f in fixed]
    if not port['security_groups']:
        port['security_groups'] = [_default_group(owner)['id']]
    _bind(port)
    STATE['ports'][pid] = port
    return '201 Created', {'port': port}


def _dispatch(method, parts, query, body, project):
    if not parts:
        return '200 OK', {'versions': [{'id': 'v2.0', 'status': 'CURRENT', 'links': [
            {'rel': 'self', 'href': 'http://127.0.0.1:9696/v2.0/'}]}]}
    if parts[0] == 'extensions':
        return '200 OK', {'extensions': []}
    if parts[0] == 'quotas':
        return '200 OK', {'quota': {k: -1 for k in ('network', 'subnet', 'port', 'router',
                                                    'floatingip', 'security_group')}}
    kind = parts[0]
    if kind not in COLLECTIONS:
        return _error('404 Not Found', 'HTTPNotFound', 'not provided by the stand-in')
    store = STATE[kind]
    singular = COLLECTIONS[kind]
    plural = kind.replace('-', '_')
    if kind == 'security-groups' and project:
        _default_group(project)
    if method == 'GET':
        if len(parts) == 1:
            items = [i for i in store.values()
                     if all(_matches(i, k, v) for k, v in query.items() if k not in IGNORED_QUERY)]
            return '200 OK', {plural: items}
        if parts[1] in store:
            return '200 OK', {singular: store[parts[1]]}
        return _error('404 Not Found', 'NotFound', '%s %s not found' % (singular, parts[1]))
    if kind != 'ports':
        return _error('400 Bad Request', 'BadRequest', 'read-only in the stand-in')
    if method == 'POST' and len(parts) == 1:
        if 'ports' in body:
            created = []
            for item in body['ports']:
                status, result = _new_port(item, project)
                if not status.startswith('201'):
                    return status, result
                created.append(result['port'])
            return '201 Created', {'ports': created}
        return _new_port(body.get('port', {}), project)
    if len(parts) == 2 and parts[1] in store:
        if method == 'PUT':
            port = store[parts[1]]
            change = body.get('port', {})
            port.update(change)
            if 'binding:host_id' in change:
                _bind(port)
            port['revision_number'] += 1
            return '200 OK', {'port': port}
        if method == 'DELETE':
            del store[parts[1]]
            return '204 No Content', None
    return _error('404 Not Found', 'PortNotFound', 'port not found')


def application(environ, start_response):
    parts = [p for p in environ.get('PATH_INFO', '/').split('/') if p]
    if parts and parts[0] == 'v2.0':
        parts = parts[1:]
    if parts and parts[-1].endswith('.json'):
        parts[-1] = parts[-1][:-5]
    query = urllib.parse.parse_qs(environ.get('QUERY_STRING', ''))
    try:
        length = int(environ.get('CONTENT_LENGTH') or 0)
        body = json.loads(environ['wsgi.input'].read(length) or b'{}') if length else {}
    except ValueError:
        body = {}
    with LOCK:
        status, result = _dispatch(environ['REQUEST_METHOD'], parts, query, body,
                                   environ.get('HTTP_X_PROJECT_ID', ''))
        if environ['REQUEST_METHOD'] != 'GET':
            _save()
    data = b'' if result is None else json.dumps(result).encode()
    headers = [('Content-Length', str(len(data)))]
    if data:
        headers.append(('Content-Type', 'application/json'))
    start_response(status, headers)
    return [data]
