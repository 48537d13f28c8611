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
      - Folder of the engine's local state, the catalog of plans, restores, triggers and
        scheduled operations (C(<state_dir>/catalog)) and the embedded local bank
        (C(<state_dir>/bank)).
      - Defaults to the C(KARBOR_STATE_DIR) environment variable, else
        C(~/.local/share/karbor-protection).
    type: path
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
