# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The same options, types, aliases and defaults as openstack.cloud's.
    DOCUMENTATION = r'''
options:
  cloud:
    description:
      - The cloud to connect to. A string names a cloud of a clouds.yaml file; a dict is a
        whole cloud configuration, as one entry of clouds.yaml would be.
      - Can be left out when I(auth) is given, when C(OS_*) environment variables are set, or
        when clouds.yaml holds exactly one cloud (which is what AWX's OpenStack credential
        writes).
    type: raw
  auth:
    description:
      - Credentials for the auth plugin, for example I(auth_url), I(username), I(password),
        I(project_name), I(user_domain_name) and I(project_domain_name) for password auth.
      - Not needed when I(cloud) or C(OS_*) environment variables provide them.
    type: dict
  auth_type:
    description:
      - The keystoneauth plugin to use, such as C(password) or C(v3applicationcredential).
        I(auth) must then hold that plugin's fields.
    type: str
  region_name:
    description:
      - The region whose endpoints are used.
    type: str
  wait:
    description:
      - Whether to wait until the operation has finished.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the operation to finish.
    type: int
    default: 180
  api_timeout:
    description:
      - Seconds the HTTP layer waits for an API answer. Not set by default.
    type: int
  validate_certs:
    description:
      - Whether TLS certificates of the API endpoints are verified.
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - Path to a CA bundle used to verify the API endpoints.
    type: str
    aliases: [cacert]
  client_cert:
    description:
      - Path to a client TLS certificate.
    type: str
    aliases: [cert]
  client_key:
    description:
      - Path to the private key of I(client_cert).
    type: str
    aliases: [key]
  interface:
    description:
      - Which endpoint of the service catalog to use.
    type: str
    choices: [admin, internal, public]
    default: public
    aliases: [endpoint_type]
requirements:
  - python >= 3.11
  - openstacksdk >= 4.0
notes:
  - Connection settings are resolved by openstacksdk, from clouds.yaml
    (C(OS_CLIENT_CONFIG_FILE), C(~/.config/openstack/clouds.yaml), C(/etc/openstack/clouds.yaml)),
    then C(OS_*) environment variables, then these options.
'''

    ENGINE = r'''
options:
  state_dir:
    description:
      - Folder of the embedded local bank (C(<state_dir>/bank)) and, when I(catalog) is
        C(local), of the catalog (C(<state_dir>/catalog)).
      - Defaults to the C(KARBOR_STATE_DIR) environment variable, else
        C(~/.local/share/karbor-protection).
    type: path
  catalog:
    description:
      - Where the catalog lives. The catalog holds the plans, restores, triggers, scheduled
        operations and operation logs of the project, and the scheduler's claims, cursors and
        the name locks of concurrent runs.
      - C(swift) keeps it in a Swift container of the project's own account (I(catalog_container)),
        so that every runner (AWX jobs on any node, a laptop, cron) sees the same plans and runs
        a scheduled fire time exactly once. Nothing is kept on the runner.
      - C(local) keeps it in C(<state_dir>/catalog) on this machine only.
      - C(auto) is C(swift) when the cloud has an object-store endpoint, else C(local) (a cloud
        without Swift, or no cloud configured at all).
      - With an encryption key the catalog is encrypted with it, as the banks are.
      - Defaults to the C(KARBOR_CATALOG) environment variable, else C(auto).
      - To move an existing local catalog into Swift, see the M(karbor.protection.catalog_migrate)
        module.
    type: str
    choices: [auto, swift, local]
  catalog_container:
    description:
      - The Swift container of the catalog when it is in Swift. It is created private (no ACL)
        in the project's account on first use.
      - Defaults to the C(KARBOR_CATALOG_CONTAINER) environment variable, else C(karbor-catalog).
    type: str
  providers_dir:
    description:
      - Folder of Karbor-format provider files (C(*.conf)), read in addition to the built-in
        providers. A file with a built-in provider's id replaces that provider.
      - Defaults to the C(KARBOR_PROVIDERS_DIR) environment variable.
    type: path
  encryption_key_file:
    description:
      - File holding the bank encryption key, 32 random bytes as base64 (or hex, or raw), for
        example made with C(openssl rand -base64 32).
      - With a key, every object the provider's bank stores (checkpoint metadata, resource
        graphs, saved info, image chunks, leases) is encrypted with AES-256-GCM before it leaves
        this host, and chunk names are keyed HMACs instead of content hashes. Object names,
        sizes and times stay visible to the bank. See the operator guide.
      - A bank is either encrypted or not. A bank written with a key can only be used with
        the same key; a run with another key, or none, fails before it changes anything.
        A lost key makes the bank's checkpoints unrecoverable.
      - Defaults to the C(KARBOR_ENCRYPTION_KEY_FILE) environment variable. Mutually exclusive
        with I(encryption_key).
    type: path
  encryption_key:
    description:
      - The bank encryption key itself, base64 (or hex), for example from an Ansible Vault
        variable. Same meaning as I(encryption_key_file).
      - Defaults to the C(KARBOR_ENCRYPTION_KEY) environment variable.
    type: str
'''


def _target_options(documentation: str, prefix: str, skip: tuple[str, ...]) -> str:
    """The connection options of DOCUMENTATION renamed ``<prefix><name>`` for
    the target cloud of a copy or a restore: one source of truth for their types, choices
    and aliases (their names and descriptions say they are the target's)."""
    import yaml  # comes with ansible-core
    options = yaml.safe_load(documentation)['options']
    target = {}
    for name, option in options.items():
        if name in skip:
            continue
        option = dict(option)
        option.pop('default', None)
        option['description'] = [
            'Of the target cloud (of a copy, or of a restore elsewhere): %s'
            % option['description'][0]] + list(option['description'][1:]) + [
                'Left out, the value of I(%s) is used%s.' % (
                    name, ' unless I(%scloud), I(%sauth) or I(%sauth_type) is set'
                    % (prefix, prefix, prefix) if name in ('cloud', 'auth', 'auth_type') else '')]
        if name in ('cloud', 'auth', 'auth_type'):
            option['description'][-1] = ('A target needs one of I(%scloud) and I(%sauth); the '
                                         "source's credentials are never used for the target."
                                         % (prefix, prefix))
        if 'aliases' in option:
            option['aliases'] = [prefix + alias for alias in option['aliases']]
        target[prefix + name] = option
    return yaml.safe_dump({'options': target}, default_flow_style=False, sort_keys=True)


ModuleDocFragment.TARGET = _target_options(ModuleDocFragment.DOCUMENTATION, 'target_',
                                           ('wait', 'timeout'))
