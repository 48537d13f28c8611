"""The karbor test cloud: a real minimal OpenStack (2026.1 from PyPI) on 127.0.0.1.

  cloudctl.py up            install what is missing, configure, start what is not running
  cloudctl.py down [purge]  stop every service (purge: also wipe data, keep the venv)

Services: MariaDB, RabbitMQ and memcached (Debian packages, private instances), Keystone,
Glance, Cinder API, Placement and Nova API under gunicorn, Swift all-in-one,
cinder scheduler/volume/backup (sparse-file volumes, Swift backups), Nova
conductor/scheduler/compute (fake driver with real snapshots) and
neutron-server (ML2 without agents, ports bound by drivers/karbor_ml2_bind.py,
the L3 router plugin; networks 'private' and external 'public'). State lives under KARBOR_CLOUD_BASE (default /tmp/karbor-cloud).
KARBOR_CLOUD_BENCH_AZ=1 also starts the availability zone 'bench': one more
cinder-volume and cinder-backup (host karbor-bench) whose backups are sparse
files (drivers/karbor_sparse_backup.py); on a running cloud, only those two.
Each service runs in its own session (setsid), so stopping its process group
stops its children too.
"""
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.environ.get('KARBOR_CLOUD_BASE', '/tmp/karbor-cloud')
PASSWORD = os.environ.get('KARBOR_CLOUD_PASSWORD', 'karbor-secret')
VENV, ETC, DATA, LOG, RUN, BIN = (os.path.join(BASE, d) for d in
                                  ('venv', 'etc', 'data', 'log', 'run', 'bin'))
PYTHON = os.environ.get('KARBOR_CLOUD_PYTHON') or shutil.which('python3.11') or sys.executable
PACKAGES = ['keystone==29.*', 'glance==32.*', 'cinder==28.*', 'nova==33.*', 'neutron==28.*',
            'openstack-placement==15.*', 'swift==2.38.*', 'openstacksdk', 'gunicorn', 'PyMySQL']
# qemu-utils: Cinder runs qemu-img to create a volume from an image
DEBIAN = ['mariadb-server', 'rabbitmq-server', 'memcached', 'qemu-utils']
DB = 'mysql+pymysql://openstack:%s@127.0.0.1:3306' % PASSWORD
MQ = 'rabbit://guest:guest@127.0.0.1:5672/'
MEMCACHED = '127.0.0.1:11211'
STOP_ORDER = [['nova-compute', 'nova-scheduler', 'nova-conductor', 'nova-api', 'neutron',
               'cinder-backup', 'cinder-volume', 'cinder-scheduler', 'cinder-api', 'placement',
               'glance', 'swift-proxy', 'swift-object', 'swift-container', 'swift-account',
               'keystone'], ['rabbitmq', 'memcached'], ['epmd', 'mysqld']]
# opt-in availability zone 'bench' (cinder_bench); stopped first, not part of "all running"
BENCH_AZ = os.environ.get('KARBOR_CLOUD_BENCH_AZ', '') not in ('', '0')
SWIFT_WORKERS = int(os.environ.get('KARBOR_CLOUD_SWIFT_WORKERS') or 0)
# forked Swift workers drop privileges to a user: this one
SWIFT_USER = 'user = %s\n' % getpass.getuser() if SWIFT_WORKERS else ''
BENCH_SERVICES = ['cinder-backup-bench', 'cinder-volume-bench']
T0 = time.time()


def say(message):
    print('[%4ds] %s' % (time.time() - T0, message), flush=True)


def sh(*cmd, log='setup.log', env=None, check=True):
    with open(os.path.join(LOG, log), 'a') as out:
        return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=check)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text.lstrip('\n'))


def service_env():
    env = dict(os.environ)
    env['PATH'] = '%s:%s/bin:/usr/sbin:/usr/bin:/sbin:/bin' % (BIN, VENV)
    env['PYTHONPATH'] = os.path.join(HERE, 'drivers')
    env['OS_CLIENT_CONFIG_FILE'] = os.path.join(BASE, 'clouds.yaml')
    env['KARBOR_CLOUD_DATA'] = DATA
    env['KARBOR_CLOUD_PASSWORD'] = PASSWORD
    return env


# -- processes -------------------------------------------------------------------
def pid_of(name):
    try:
        with open(os.path.join(RUN, name + '.pid')) as handle:
            pid = int(handle.read())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start(name, *cmd, env=None):
    if pid_of(name):
        return
    out = open(os.path.join(LOG, name + '.out'), 'a')
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env or service_env(), start_new_session=True)
    with open(os.path.join(RUN, name + '.pid'), 'w') as handle:
        handle.write(str(proc.pid))
    say('started %s (pid %d)' % (name, proc.pid))


def gunicorn(name, port, module, threads=4):
    start(name, os.path.join(VENV, 'bin', 'gunicorn'), '--no-control-socket',
          '--chdir', os.path.join(BASE, 'wsgi'), '--bind', '127.0.0.1:%d' % port,
          '--workers', '1', '--threads', str(threads), '--timeout', '300',
          '--graceful-timeout', '5', '--keep-alive', '75', '--access-logfile', os.path.join(LOG, name + '-access.log'),
          module + ':application')


def wait_http(url, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise SystemExit('timed out waiting for %s; see %s' % (url, LOG))


def stop(names):
    pids = {}
    for name in names:
        pid = pid_of(name)
        if pid:
            try:
                os.killpg(pid, signal.SIGTERM)
            except OSError:
                os.kill(pid, signal.SIGTERM)
            pids[name] = pid
        path = os.path.join(RUN, name + '.pid')
        if os.path.exists(path):
            os.unlink(path)
    deadline = time.time() + 20
    while pids and time.time() < deadline:
        for name, pid in list(pids.items()):
            try:
                os.killpg(pid, 0)
            except OSError:
                say('stopped %s' % name)
                del pids[name]
        time.sleep(0.2)
    for name, pid in pids.items():
        say('killing %s' % name)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


# -- install ---------------------------------------------------------------------
def install():
    missing = [p for p in DEBIAN if subprocess.run(['dpkg', '-s', p], capture_output=True,
                                                   check=False).returncode != 0]
    if missing:
        say('apt-get install %s' % ' '.join(missing))
        policy = '/usr/sbin/policy-rc.d'
        temporary = not os.path.exists(policy)
        if temporary:  # keep apt from starting the system instances
            write(policy, '#!/bin/sh\nexit 101\n')
            os.chmod(policy, 0o755)
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        try:
            sh('apt-get', 'update', '-q', log='apt.log', env=env)
            sh('apt-get', 'install', '-y', '-q', '--no-install-recommends', *missing,
               log='apt.log', env=env)
        finally:
            if temporary:
                os.unlink(policy)
    constraints = os.path.join(HERE, 'upper-constraints-2026.1.txt')
    stamp_value = ' '.join(PACKAGES) + str(os.path.getmtime(constraints))
    stamp = os.path.join(VENV, '.karbor-cloud-stamp')
    if not os.path.exists(stamp) or open(stamp).read() != stamp_value:
        say('creating the services venv (pip install, 2026.1 constraints)')
        if not os.path.exists(os.path.join(VENV, 'bin', 'python')):
            sh(PYTHON, '-m', 'venv', VENV, log='pip.log')
        pip = os.path.join(VENV, 'bin', 'pip')
        sh(pip, 'install', '-q', '-U', 'pip', log='pip.log')
        sh(pip, 'install', '-q', '-c', constraints, *PACKAGES, log='pip.log')
        write(stamp, stamp_value)
    site = subprocess.run([os.path.join(VENV, 'bin', 'python'), '-c',
                           'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    shutil.copy(os.path.join(HERE, 'drivers', 'karbor_fake_compute.py'),
                os.path.join(site, 'nova', 'virt', 'karbor_fake_compute.py'))
    # ML2 loads mechanism drivers by entry point name only: declare ours (the module itself
    # comes from drivers/ on the services' PYTHONPATH)
    dist = os.path.join(site, 'karbor_cloud_drivers-0.dist-info')
    write(os.path.join(dist, 'METADATA'),
          'Metadata-Version: 2.1\nName: karbor-cloud-drivers\nVersion: 0\n')
    write(os.path.join(dist, 'entry_points.txt'),
          '[neutron.ml2.mechanism_drivers]\nkarbor_bind = karbor_ml2_bind:BindEverywhereDriver\n')
    write(os.path.join(BIN, 'sudo'), '#!/bin/sh\n# services already run as root\nexec "$@"\n')
    os.chmod(os.path.join(BIN, 'sudo'), 0o755)


# -- configuration -----------------------------------------------------------------
def auth_block(user, section=None):
    head = '[%s]\n' % section if section else ''
    return head + ('auth_url = http://127.0.0.1:5000\nauth_type = password\n'
                   'project_domain_name = Default\nuser_domain_name = Default\n'
                   'project_name = service\nregion_name = RegionOne\n'
                   'username = %s\npassword = %s\n' % (user, PASSWORD))


def authtoken(user):
    return ('[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:5000\n'
            'service_token_roles_required = true\n' + auth_block(user))


def clouds_yaml():
    def cloud(user, project):
        return ('    auth:\n      auth_url: http://127.0.0.1:5000/v3\n      username: %s\n'
                '      password: %s\n      project_name: %s\n      user_domain_name: Default\n'
                '      project_domain_name: Default\n    region_name: RegionOne\n'
                '    identity_api_version: 3\n' % (user, PASSWORD, project))
    write(os.path.join(BASE, 'clouds.yaml'),
          'clouds:\n  karbor-admin:\n' + cloud('admin', 'admin') +
          '  karbor-a:\n' + cloud('member', 'project-a') +
          '  karbor-b:\n' + cloud('member', 'project-b'))
    write(os.path.join(BASE, 'env.sh'), 'export OS_CLIENT_CONFIG_FILE=%s/clouds.yaml\n'
          'export KARBOR_CLOUD_BASE=%s\n' % (BASE, BASE))


def wsgi_wrappers():
    wrappers = {
        'keystone_app': ("os.environ.setdefault('OS_KEYSTONE_CONFIG_FILES', '%s/keystone/keystone.conf')"
                         % ETC, 'keystone.wsgi.api'),
        'glance_app': ("os.environ.setdefault('OS_GLANCE_CONFIG_DIR', '%s/glance')" % ETC,
                       'glance.wsgi.api'),
        'placement_app': ("os.environ.setdefault('OS_PLACEMENT_CONFIG_DIR', '%s/placement')" % ETC,
                          'placement.wsgi.api'),
        'nova_app': ("os.environ.setdefault('OS_NOVA_CONFIG_DIR', '%s/nova')" % ETC,
                     'nova.wsgi.osapi_compute'),
        'cinder_app': ("sys.argv = [sys.argv[0], '--config-file', '%s/cinder/cinder.conf', "
                       "'--log-file', '%s/cinder-api.log']" % (ETC, LOG), 'cinder.wsgi.api'),
        'neutron_app': ("os.environ.setdefault('OS_NEUTRON_CONFIG_DIR', '%s/neutron')\n"
                        "os.environ.setdefault('OS_NEUTRON_CONFIG_FILES', 'neutron.conf;ml2_conf.ini')"
                        % ETC, 'neutron.wsgi.api'),
    }
    for name, (setup, module) in wrappers.items():
        keep_argv = 'sys.argv' in setup
        write(os.path.join(BASE, 'wsgi', name + '.py'),
              'import os\nimport sys\n%s\n%sfrom %s import application  # noqa\n'
              % (setup, '' if keep_argv else 'sys.argv = sys.argv[:1]\n', module))


def rootwrap(service):
    src = os.path.join(VENV, 'etc', service)
    dst = os.path.join(ETC, service)
    shutil.rmtree(os.path.join(dst, 'rootwrap.d'), ignore_errors=True)
    shutil.copytree(os.path.join(src, 'rootwrap.d'), os.path.join(dst, 'rootwrap.d'))
    lines = []
    for line in open(os.path.join(src, 'rootwrap.conf')):
        if line.startswith('filters_path='):
            line = 'filters_path=%s/rootwrap.d\n' % dst
        elif line.startswith('exec_dirs='):
            line = 'exec_dirs=%s/bin,/sbin,/usr/sbin,/bin,/usr/bin,/usr/local/bin\n' % VENV
        lines.append(line)
    write(os.path.join(dst, 'rootwrap.conf'), ''.join(lines))
    shutil.copy(os.path.join(src, 'api-paste.ini'), dst)


# -- services ----------------------------------------------------------------------
def mariadb():
    conf = os.path.join(ETC, 'mysql', 'my.cnf')
    write(conf, """
[mysqld]
datadir = {d}/mysql
socket = {r}/mysqld.sock
pid-file = {r}/mysqld.pid-server
bind-address = 127.0.0.1
port = 3306
user = root
log-error = {l}/mysqld.err
skip-name-resolve
performance_schema = OFF
innodb_buffer_pool_size = 64M
innodb_flush_log_at_trx_commit = 2
max_connections = 1000
character-set-server = utf8mb4
[client]
socket = {r}/mysqld.sock
""".format(d=DATA, r=RUN, l=LOG))
    if not os.path.isdir(os.path.join(DATA, 'mysql', 'mysql')):
        os.makedirs(os.path.join(DATA, 'mysql'), exist_ok=True)
        sh('mariadb-install-db', '--defaults-file=' + conf, '--skip-test-db',
           '--auth-root-authentication-method=socket')
    start('mysqld', 'mariadbd', '--defaults-file=' + conf)
    for _attempt in range(150):
        if subprocess.run(['mariadb-admin', '--defaults-file=' + conf, 'ping'],
                          capture_output=True, check=False).returncode == 0:
            break
        time.sleep(0.2)
    sql = ["CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY '%s';" % PASSWORD,
           "GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1';"]
    sql += ['CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8mb4;' % db
            for db in ('keystone', 'glance', 'cinder', 'placement', 'nova_api', 'nova', 'nova_cell0',
                       'neutron')]
    subprocess.run(['mariadb', '--defaults-file=' + conf], input='\n'.join(sql), text=True,
                   check=True)
    say('mariadb ready')


def rabbitmq():
    conf_dir = os.path.join(ETC, 'rabbitmq')
    write(os.path.join(conf_dir, 'rabbitmq.conf'),
          'listeners.tcp.default = 127.0.0.1:5672\nloopback_users.guest = true\n'
          'log.file.level = warning\nvm_memory_high_watermark.absolute = 512MiB\n'
          'disk_free_limit.absolute = 50MB\n')
    write(os.path.join(conf_dir, 'enabled_plugins'), '[].\n')
    write(os.path.join(conf_dir, 'rabbitmq-env.conf'), '\n')
    env = service_env()
    os.makedirs(os.path.join(DATA, 'rabbitmq'), exist_ok=True)
    env.update({
        'HOME': os.path.join(DATA, 'rabbitmq'), 'RABBITMQ_NODENAME': 'rabbit@localhost',
        'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1', 'RABBITMQ_NODE_PORT': '5672',
        'RABBITMQ_DIST_PORT': '25672', 'ERL_EPMD_ADDRESS': '127.0.0.1', 'ERL_EPMD_PORT': '4369',
        'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS': '-kernel inet_dist_use_interface {127,0,0,1}',
        'RABBITMQ_CTL_ERL_ARGS': '-kernel inet_dist_use_interface {127,0,0,1}',
        'RABBITMQ_CONF_ENV_FILE': os.path.join(conf_dir, 'rabbitmq-env.conf'),
        'RABBITMQ_CONFIG_FILE': os.path.join(conf_dir, 'rabbitmq.conf'),
        'RABBITMQ_ENABLED_PLUGINS_FILE': os.path.join(conf_dir, 'enabled_plugins'),
        'RABBITMQ_MNESIA_BASE': os.path.join(DATA, 'rabbitmq', 'mnesia'),
        'RABBITMQ_LOG_BASE': os.path.join(LOG, 'rabbitmq'),
        'RABBITMQ_PID_FILE': os.path.join(RUN, 'rabbitmq.beam-pid')})
    # our own epmd in the foreground, or erlang leaves a daemon behind
    start('epmd', 'epmd', '-address', '127.0.0.1', '-port', '4369', env=env)
    time.sleep(0.3)
    start('rabbitmq', '/usr/lib/rabbitmq/bin/rabbitmq-server', env=env)
    sh('/usr/lib/rabbitmq/bin/rabbitmqctl', '-q', 'wait', '--timeout', '120',
       os.path.join(RUN, 'rabbitmq.beam-pid'), env=env)
    say('rabbitmq ready')


def memcached():
    # The Swift proxy's account and container info cache, as in every Swift
    # deployment: without it each request asks the account and container
    # servers first (measured: a 100-byte PUT cost 19 ms of CPU across the
    # servers, 13 ms with the cache).
    host, port = MEMCACHED.split(':')
    user = ['-u', getpass.getuser()] if os.geteuid() == 0 else []
    start('memcached', '/usr/bin/memcached', '-l', host, '-p', port, '-U', '0', '-m', '64',
          *user)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                raise SystemExit('memcached did not start; see %s/memcached.out' % LOG)
            time.sleep(0.1)
    say('memcached ready')


def keystone():
    conf = os.path.join(ETC, 'keystone', 'keystone.conf')
    write(conf, """
[DEFAULT]
log_file = {l}/keystone.log
[database]
connection = {db}/keystone?charset=utf8mb4
[token]
provider = fernet
[fernet_tokens]
key_repository = {e}/keystone/fernet-keys
[fernet_receipts]
key_repository = {e}/keystone/fernet-keys
[credential]
key_repository = {e}/keystone/credential-keys
[cache]
enabled = true
backend = dogpile.cache.memory
""".format(l=LOG, db=DB, e=ETC))
    manage = [os.path.join(VENV, 'bin', 'keystone-manage'), '--config-file', conf]
    env = service_env()
    sh(*manage, 'db_sync', env=env)
    for what, folder in (('fernet_setup', 'fernet-keys'), ('credential_setup', 'credential-keys')):
        if not os.path.exists(os.path.join(ETC, 'keystone', folder, '0')):
            sh(*manage, what, '--keystone-user', 'root', '--keystone-group', 'root', env=env)
    url = 'http://127.0.0.1:5000/v3/'
    sh(*manage, 'bootstrap', '--bootstrap-password', PASSWORD, '--bootstrap-username', 'admin',
       '--bootstrap-project-name', 'admin', '--bootstrap-role-name', 'admin',
       '--bootstrap-service-name', 'keystone', '--bootstrap-region-id', 'RegionOne',
       '--bootstrap-admin-url', url, '--bootstrap-internal-url', url,
       '--bootstrap-public-url', url, env=env)
    gunicorn('keystone', 5000, 'keystone_app')
    wait_http('http://127.0.0.1:5000/v3')
    identity('catalog', 'swift', 'glance', 'cinder', 'placement', 'nova', 'neutron')
    identity('tenants')
    say('keystone ready')


def identity(*args):
    subprocess.run([os.path.join(VENV, 'bin', 'python'), os.path.join(HERE, 'identity_setup.py'),
                    *args], env=service_env(), check=True)


def swift():
    conf_dir = os.path.join(ETC, 'swift')
    os.makedirs(os.path.join(DATA, 'swift', 'node', 'd1'), exist_ok=True)
    os.makedirs(os.path.join(DATA, 'swift', 'recon'), exist_ok=True)
    write(os.path.join(conf_dir, 'swift.conf'),
          '[swift-hash]\nswift_hash_path_suffix = karbor\nswift_hash_path_prefix = karbor\n'
          '[storage-policy:0]\nname = Policy-0\ndefault = yes\n')
    for kind, port in (('object', 6200), ('container', 6201), ('account', 6202)):
        write(os.path.join(conf_dir, '%s-server.conf' % kind), """
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {p}
workers = {w}
{u}devices = {d}/swift/node
mount_check = false
disable_fallocate = true
swift_dir = {c}
log_name = {k}-server
[pipeline:main]
pipeline = healthcheck recon {k}-server
[app:{k}-server]
use = egg:swift#{k}
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:recon]
use = egg:swift#recon
recon_cache_path = {d}/swift/recon
[{k}-replicator]
[{k}-auditor]
[{k}-updater]
[object-expirer]
""".format(p=port, d=DATA, c=conf_dir, k=kind, w=SWIFT_WORKERS if kind == 'object' else 0,
           u=SWIFT_USER if kind == 'object' else ''))
        if not os.path.exists(os.path.join(conf_dir, '%s.ring.gz' % kind)):
            builder = os.path.join(VENV, 'bin', 'swift-ring-builder')
            ring = os.path.join(conf_dir, '%s.builder' % kind)
            sh(builder, ring, 'create', '8', '1', '1')
            sh(builder, ring, 'add', '--region', '1', '--zone', '1', '--ip', '127.0.0.1',
               '--port', str(port), '--device', 'd1', '--weight', '1')
            sh(builder, ring, 'rebalance')
    filters = ['catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging', 'cache',
               'listing_formats', 'bulk', 'tempurl', 'authtoken', 'keystoneauth', 'copy',
               'container-quotas', 'account-quotas', 'slo', 'dlo', 'versioned_writes', 'symlink']
    simple = '\n'.join('[filter:%s]\nuse = egg:swift#%s' % (f, f.replace('-', '_'))
                       for f in filters if f not in ('authtoken', 'keystoneauth', 'cache'))
    write(os.path.join(conf_dir, 'proxy-server.conf'), """
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = 8080
workers = {w}
{u}swift_dir = {c}
log_name = proxy-server
[pipeline:main]
pipeline = {pipeline} proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = http://127.0.0.1:5000
{auth}delay_auth_decision = true
service_token_roles_required = true
[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member, swiftoperator
reseller_admin_role = ResellerAdmin
[filter:cache]
use = egg:swift#memcache
memcache_servers = {memcached}
{simple}
""".format(c=conf_dir, pipeline=' '.join(filters), auth=auth_block('swift'), simple=simple,
           w=SWIFT_WORKERS, u=SWIFT_USER, memcached=MEMCACHED))
    for kind in ('object', 'container', 'account', 'proxy'):
        start('swift-' + kind, os.path.join(VENV, 'bin', 'swift-%s-server' % kind),
              os.path.join(conf_dir, '%s-server.conf' % kind), '-v')
    wait_http('http://127.0.0.1:8080/healthcheck')
    say('swift ready')


def glance():
    conf_dir = os.path.join(ETC, 'glance')
    for folder in ('images', 'staging', 'tasks', 'cache', 'locks'):
        os.makedirs(os.path.join(DATA, 'glance', folder), exist_ok=True)
    os.makedirs(conf_dir, exist_ok=True)
    shutil.copy(os.path.join(VENV, 'etc', 'glance', 'glance-api-paste.ini'), conf_dir)
    write(os.path.join(conf_dir, 'glance-api.conf'), """
[DEFAULT]
log_file = {l}/glance-api.log
bind_host = 127.0.0.1
bind_port = 9292
enabled_backends = fs:file
worker_self_reference_url = http://127.0.0.1:9292
image_cache_dir = {d}/glance/cache
[database]
connection = {db}/glance?charset=utf8mb4
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = {d}/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = {d}/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = {d}/glance/tasks/
{token}[paste_deploy]
flavor = keystone
config_file = {c}/glance-api-paste.ini
[oslo_concurrency]
lock_path = {d}/glance/locks
""".format(l=LOG, d=DATA, db=DB, c=conf_dir, token=authtoken('glance')))
    sh(os.path.join(VENV, 'bin', 'glance-manage'), '--config-file',
       os.path.join(conf_dir, 'glance-api.conf'), 'db_sync', env=service_env())
    gunicorn('glance', 9292, 'glance_app')
    wait_http('http://127.0.0.1:9292/')
    say('glance ready')


def placement():
    conf = os.path.join(ETC, 'placement', 'placement.conf')
    write(conf, '[DEFAULT]\nlog_file = %s/placement-api.log\n[placement_database]\n'
          'connection = %s/placement?charset=utf8mb4\n[api]\nauth_strategy = keystone\n%s'
          % (LOG, DB, authtoken('placement')))
    sh(os.path.join(VENV, 'bin', 'placement-manage'), '--config-file', conf, 'db', 'sync',
       env=service_env())
    gunicorn('placement', 8778, 'placement_app')


def neutron_config():
    """Write neutron.conf and ml2_conf.ini, then start the schema migration in the
    background: on a fresh database its ~140 alembic steps take about 8 s, which overlap
    with the start of the other services instead of adding to it. Returns the migration
    process, or None when Neutron is already running."""
    conf_dir = os.path.join(ETC, 'neutron')
    os.makedirs(os.path.join(DATA, 'neutron', 'locks'), exist_ok=True)
    os.makedirs(conf_dir, exist_ok=True)
    shutil.copy(os.path.join(VENV, 'etc', 'neutron', 'api-paste.ini'), conf_dir)
    write(os.path.join(conf_dir, 'neutron.conf'), """
[DEFAULT]
host = karbor-cloud
log_file = {l}/neutron-server.log
state_path = {d}/neutron
auth_strategy = keystone
transport_url = {mq}
core_plugin = ml2
service_plugins = router
allow_overlapping_ips = true
# no DHCP agent: no DHCP provisioning block, scheduling or notifications
enable_traditional_dhcp = false
dhcp_agent_notification = false
# Nova gets network-vif-plugged and network-changed (a floating IP shows up in the
# server's addresses); it does not wait for them (vif_plugging_timeout = 0)
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
[database]
connection = {db}/neutron?charset=utf8mb4
{token}{nova}[oslo_concurrency]
lock_path = {d}/neutron/locks
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
""".format(l=LOG, d=DATA, mq=MQ, db=DB, token=authtoken('neutron'),
           nova=auth_block('neutron', 'nova')))
    write(os.path.join(conf_dir, 'ml2_conf.ini'), """
[ml2]
# 'local' segments need no agent and no data plane; 'flat' is the external network's
type_drivers = local,flat
project_network_types = local
mechanism_drivers = karbor_bind
extension_drivers = port_security
[ml2_type_flat]
flat_networks = public
[securitygroup]
enable_security_group = true
""")
    # Members may ask for a given floating IP address (Neutron's default: admins only), so
    # that a restore can keep a server's public address; oslo.policy finds policy.yaml
    # beside neutron.conf and rereads it when it changes.
    write(os.path.join(conf_dir, 'policy.yaml'),
          '"create_floatingip:floating_ip_address": "rule:admin_only or role:member"\n')
    if pid_of('neutron'):
        return None
    out = open(os.path.join(LOG, 'neutron-db-manage.log'), 'a')
    return subprocess.Popen([os.path.join(VENV, 'bin', 'neutron-db-manage'), '--config-file',
                             os.path.join(conf_dir, 'neutron.conf'), '--config-file',
                             os.path.join(conf_dir, 'ml2_conf.ini'), 'upgrade', 'heads'],
                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=service_env())


def neutron(migration):
    if migration is not None:
        if migration.wait() != 0:
            raise SystemExit('karbor-cloud: neutron-db-manage upgrade failed (exit %d); see '
                             '%s/neutron-db-manage.log' % (migration.returncode, LOG))
        say('neutron database migrated')
    gunicorn('neutron', 9696, 'neutron_app')


def cinder():
    conf_dir = os.path.join(ETC, 'cinder')
    for folder in ('volumes', 'locks', 'backups'):
        os.makedirs(os.path.join(DATA, 'cinder', folder), exist_ok=True)
    rootwrap('cinder')
    shutil.copy(os.path.join(VENV, 'etc', 'cinder', 'resource_filters.json'), conf_dir)
    conf = os.path.join(conf_dir, 'cinder.conf')
    write(conf, """
[DEFAULT]
host = karbor-cloud
my_ip = 127.0.0.1
state_path = {d}/cinder
transport_url = {mq}
auth_strategy = keystone
api_paste_config = {c}/api-paste.ini
resource_query_filters_file = {c}/resource_filters.json
rootwrap_config = {c}/rootwrap.conf
osapi_volume_listen = 127.0.0.1
enabled_backends = file
default_volume_type = __DEFAULT__
glance_api_servers = http://127.0.0.1:9292
report_interval = 5
periodic_interval = 10
backend_stats_polling_interval = 10
graceful_shutdown_timeout = 5
backup_driver = cinder.backup.drivers.swift.SwiftBackupDriver
backup_swift_auth = per_user
backup_swift_container = volumebackups
backup_compression_algorithm = zlib
backup_workers = 1
[file]
volume_driver = karbor_file_volume.SparseFileDriver
volume_backend_name = file
karbor_volume_dir = {d}/cinder/volumes
[database]
connection = {db}/cinder?charset=utf8mb4
[oslo_concurrency]
lock_path = {d}/cinder/locks
[coordination]
backend_url = file://{d}/cinder/coordination
{token}{service}{nova}[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
""".format(d=DATA, mq=MQ, c=conf_dir, db=DB, token=authtoken('cinder'),
           service='[service_user]\nsend_service_user_token = true\n' + auth_block('cinder'),
           nova=auth_block('nova', 'nova')))
    env = service_env()
    sh(os.path.join(VENV, 'bin', 'cinder-manage'), '--config-file', conf, 'db', 'sync', env=env)
    gunicorn('cinder-api', 8776, 'cinder_app')
    # the scheduler's queue must exist before cinder-volume reports its pools
    start('cinder-scheduler', os.path.join(VENV, 'bin', 'cinder-scheduler'), '--config-file', conf,
          '--log-file', os.path.join(LOG, 'cinder-scheduler.log'))
    for _attempt in range(100):
        try:
            if 'Starting cinder-scheduler node' in open(os.path.join(LOG, 'cinder-scheduler.log')).read():
                break
        except OSError:
            pass
        time.sleep(0.2)
    time.sleep(1)
    for name in ('cinder-volume', 'cinder-backup'):
        start(name, os.path.join(VENV, 'bin', name), '--config-file', conf,
              '--log-file', os.path.join(LOG, name + '.log'))
    wait_http('http://127.0.0.1:8776/')


def cinder_bench():
    """The availability zone 'bench': cinder-volume (the same file driver, host
    karbor-bench) and cinder-backup with the sparse backup driver; cinder.conf
    plus an override file, so the other services' configuration is untouched."""
    os.makedirs(os.path.join(DATA, 'cinder', 'sparse-backups'), exist_ok=True)
    conf = os.path.join(ETC, 'cinder', 'cinder.conf')
    bench = os.path.join(ETC, 'cinder', 'cinder-bench.conf')
    write(bench, """
[DEFAULT]
host = karbor-bench
storage_availability_zone = bench
backup_driver = karbor_sparse_backup.SparseBackupDriver
karbor_sparse_backup_dir = {d}/cinder/sparse-backups
# the default 15 exists for the chunked drivers' 50 MB buffers; this driver reads 1 MiB at a time
backup_max_operations = 0
""".format(d=DATA))
    for name in BENCH_SERVICES[::-1]:
        start(name, os.path.join(VENV, 'bin', name[:-len('-bench')]), '--config-file', conf,
              '--config-file', bench, '--log-file', os.path.join(LOG, name + '.log'))
    identity('wait', '120', 'bench-az')


def nova():
    conf_dir = os.path.join(ETC, 'nova')
    for folder in ('instances', 'locks'):
        os.makedirs(os.path.join(DATA, 'nova', folder), exist_ok=True)
    rootwrap('nova')
    conf = os.path.join(conf_dir, 'nova.conf')
    write(conf, """
[DEFAULT]
host = karbor-cloud
my_ip = 127.0.0.1
state_path = {d}/nova
instances_path = {d}/nova/instances
transport_url = {mq}
compute_driver = karbor_fake_compute.SnapshottingFakeDriver
rootwrap_config = {c}/rootwrap.conf
osapi_compute_listen = 127.0.0.1
metadata_listen = 127.0.0.1
enabled_apis = osapi_compute
report_interval = 5
graceful_shutdown_timeout = 5
# no agent plugs anything: do not wait for network-vif-plugged events
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
[wsgi]
api_paste_config = {c}/api-paste.ini
[api]
auth_strategy = keystone
[api_database]
connection = {db}/nova_api?charset=utf8mb4
[database]
connection = {db}/nova?charset=utf8mb4
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[oslo_concurrency]
lock_path = {d}/nova/locks
{token}{service}{placement}{cinder}os_region_name = RegionOne
[glance]
region_name = RegionOne
{neutron}[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
[vnc]
enabled = false
""".format(d=DATA, mq=MQ, c=conf_dir, db=DB, token=authtoken('nova'),
           service='[service_user]\nsend_service_user_token = true\n' + auth_block('nova'),
           placement=auth_block('placement', 'placement'), cinder=auth_block('cinder', 'cinder'),
           neutron=auth_block('nova', 'neutron')))
    manage = [os.path.join(VENV, 'bin', 'nova-manage'), '--config-file', conf]
    env = service_env()
    sh(*manage, 'api_db', 'sync', env=env)
    sh(*manage, 'cell_v2', 'map_cell0', '--database_connection',
       '%s/nova_cell0?charset=utf8mb4' % DB, env=env)
    cells = subprocess.run(manage + ['cell_v2', 'list_cells'], capture_output=True, text=True,
                           env=env, check=False).stdout
    if ' cell1 ' not in cells:
        sh(*manage, 'cell_v2', 'create_cell', '--name', 'cell1', env=env)
    sh(*manage, 'db', 'sync', env=env)
    wait_http('http://127.0.0.1:8778/')
    gunicorn('nova-api', 8774, 'nova_app')
    for name in ('nova-conductor', 'nova-scheduler', 'nova-compute'):
        start(name, os.path.join(VENV, 'bin', name), '--config-file', conf,
              '--log-file', os.path.join(LOG, name + '.log'))
    wait_http('http://127.0.0.1:8774/')
    return manage


def up():
    for folder in (ETC, DATA, LOG, RUN, BIN):
        os.makedirs(folder, exist_ok=True)
    if all(pid_of(n) for group in STOP_ORDER for n in group):
        if BENCH_AZ and not all(pid_of(n) for n in BENCH_SERVICES):
            cinder_bench()
            say('started the bench availability zone; the rest was already running')
        else:
            say('already running; clouds.yaml: %s/clouds.yaml' % BASE)
        return
    install()
    installed = time.time()
    say('install done in %ds' % (installed - T0))
    clouds_yaml()
    wsgi_wrappers()
    mariadb()
    migration = neutron_config()
    rabbitmq()
    memcached()
    keystone()
    swift()
    glance()
    placement()
    cinder()
    neutron(migration)
    manage = nova()
    wait_http('http://127.0.0.1:9696/')
    identity('wait', '300', 'cinder', 'nova-compute', 'networks')
    sh(*manage, 'cell_v2', 'discover_hosts', env=service_env())
    identity('wait', '120', 'nova-hypervisor', 'flavor', 'quotas')
    if BENCH_AZ:
        cinder_bench()
    done = time.time()
    say('karbor-cloud: install %ds, start %ds, total %ds'
        % (installed - T0, done - installed, done - T0))
    print('clouds.yaml: %s/clouds.yaml (clouds karbor-admin, karbor-a, karbor-b)' % BASE)


def down(purge=False):
    for group in [BENCH_SERVICES] + STOP_ORDER:
        stop(group)
    if os.path.isdir(RUN):
        stop([f[:-4] for f in os.listdir(RUN) if f.endswith('.pid')])
    if purge:
        for folder in (ETC, DATA, LOG, RUN, BIN, os.path.join(BASE, 'wsgi')):
            shutil.rmtree(folder, ignore_errors=True)
        for name in ('clouds.yaml', 'env.sh'):
            if os.path.exists(os.path.join(BASE, name)):
                os.unlink(os.path.join(BASE, name))
        say('purged %s (the venv is kept)' % BASE)


if __name__ == '__main__':
    if len(sys.argv) < 2 or sys.argv[1] not in ('up', 'down'):
        raise SystemExit(__doc__)
    if sys.argv[1] == 'up':
        try:
            up()
        except subprocess.CalledProcessError as exc:
            raise SystemExit('karbor-cloud: %s failed (exit %s); logs in %s'
                             % (' '.join(map(str, exc.cmd[:3])), exc.returncode, LOG))
    else:
        down(purge=len(sys.argv) > 2 and sys.argv[2] == 'purge')
