# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One base class for every module: options, engine, errors.

Auth options are openstack.cloud's (same names, types, aliases, defaults),
so ``module_defaults`` written for openstack.cloud work here too.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.karbor.protection.plugins.module_utils.storage.encrypted_bank import load_key
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import (
    AUTH_OPTIONS, CloudSession)
from ansible_collections.karbor.protection.plugins.module_utils.engine.catalog_location import (
    CATALOG_MODES)
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    FlowError, InvalidInput, KarborError)

NAME_MAX_LENGTH = 255  # Karbor's API limit on names


def check_name(value: str | None, option: str) -> None:
    """Names are stored and shown everywhere (bank indices, logs, AWX): refuse what Karbor's
    API refused (over 255 characters) and control characters, before anything is written."""
    if value is None:
        return
    if len(value) > NAME_MAX_LENGTH:
        raise InvalidInput('%s is %d characters long; use at most %d.'
                           % (option, len(value), NAME_MAX_LENGTH))
    bad = sorted({'%r' % ch for ch in value if ord(ch) < 32 or ord(ch) == 127})
    if bad:
        raise InvalidInput('%s %r contains control characters (%s); use printable characters.'
                           % (option, value, ', '.join(bad)))


def openstack_argument_spec() -> dict[str, Any]:
    return dict(
        cloud=dict(type='raw'),
        auth=dict(type='dict', no_log=True),
        auth_type=dict(type='str'),
        region_name=dict(type='str'),
        validate_certs=dict(type='bool', aliases=['verify']),
        ca_cert=dict(type='str', aliases=['cacert']),
        client_cert=dict(type='str', aliases=['cert']),
        client_key=dict(type='str', no_log=True, aliases=['key']),
        wait=dict(type='bool', default=True),
        timeout=dict(type='int', default=180),
        api_timeout=dict(type='int'),
        interface=dict(type='str', default='public', choices=['public', 'internal', 'admin'],
                       aliases=['endpoint_type']),
    )


def prefixed_connection_spec(prefix: str) -> dict[str, Any]:
    """openstack_argument_spec()'s connection options renamed ``<prefix><name>`` (aliases
    too), for a module that also talks to a second cloud (a copy's target)."""
    spec = {}
    for name, option in openstack_argument_spec().items():
        if name not in AUTH_OPTIONS:
            continue
        option = dict(option)
        option.pop('default', None)  # unset: the source's value is used
        if 'aliases' in option:
            option['aliases'] = [prefix + alias for alias in option['aliases']]
        spec[prefix + name] = option
    return spec


#: prefix of the connection options of the other project or cloud a module writes into
TARGET_PREFIX = 'target_'


def target_connection_spec() -> dict[str, Any]:
    """The target_* connection options (a copy's or a restore's other project or cloud)."""
    return prefixed_connection_spec(TARGET_PREFIX)


def prefixed_connection_params(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The connection options given with ``prefix``; any left unset take the
    module's own value, except the credentials (cloud, auth, auth_type), which
    are the target's alone when any of them is set."""
    own = {name: params.get(prefix + name) for name in AUTH_OPTIONS}
    if not any(own[name] is not None for name in ('cloud', 'auth', 'auth_type')):
        raise InvalidInput('Set %scloud or %sauth: the credentials of the target cloud '
                           '(they may name the same cloud).' % (prefix, prefix))
    for name in AUTH_OPTIONS:
        if own[name] is None and name not in ('cloud', 'auth', 'auth_type'):
            own[name] = params.get(name)
    return own


def checkpoint_argument_spec(required: bool) -> dict[str, Any]:
    """provider_id, plan and checkpoint_id: how a module names the checkpoint it works on
    (see KarborModule.checkpoint_provider_id); ``required``: checkpoint_id must be given."""
    return dict(
        provider_id=dict(type='str'),
        plan=dict(type='str'),
        checkpoint_id=dict(type='str', required=required, aliases=['checkpoint']),
    )


def engine_argument_spec() -> dict[str, Any]:
    return dict(
        state_dir=dict(type='path', fallback=(env_fallback, ['KARBOR_STATE_DIR'])),
        catalog=dict(type='str', choices=list(CATALOG_MODES),
                     fallback=(env_fallback, ['KARBOR_CATALOG'])),
        catalog_container=dict(type='str', fallback=(env_fallback, ['KARBOR_CATALOG_CONTAINER'])),
        providers_dir=dict(type='path', fallback=(env_fallback, ['KARBOR_PROVIDERS_DIR'])),
        encryption_key_file=dict(type='path', no_log=False,
                                 fallback=(env_fallback, ['KARBOR_ENCRYPTION_KEY_FILE'])),
        encryption_key=dict(type='str', no_log=True,
                            fallback=(env_fallback, ['KARBOR_ENCRYPTION_KEY'])),
    )


class KarborModule:
    """Subclasses set ``argument_spec``/``module_kwargs`` and implement ``run()``."""

    argument_spec: dict[str, Any] = {}
    module_kwargs: dict[str, Any] = {}
    default_timeout: int | None = None
    #: options naming an object the module creates; checked by check_name() before run()
    name_options: tuple[str, ...] = ()
    #: whole-number options that must be 0 or more; checked before run()
    count_options: tuple[str, ...] = ()
    #: catalog kind ('plans', ...) of the named record the module finds or creates: run() is
    #: then called under the engine's name lock, so two runs of one new name make one record
    catalog_kind: str | None = None

    def __init__(self) -> None:
        spec = openstack_argument_spec()
        spec.update(engine_argument_spec())
        if self.default_timeout is not None:
            spec['timeout'] = dict(type='int', default=self.default_timeout)
        spec.update(self.argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                                    **self.module_kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self._engine: ProtectionEngine | None = None

    @property
    def engine(self) -> ProtectionEngine:
        if self._engine is None:
            self._engine = ProtectionEngine(
                state_dir=self.params.get('state_dir'),
                providers_dir=self.params.get('providers_dir'),
                cloud=CloudSession(self.params),
                timeout=self.params.get('timeout') or 180,
                catalog=self.params.get('catalog') or 'auto',
                catalog_container=self.params.get('catalog_container'),
                encryption_key=load_key(self.params.get('encryption_key_file'),
                                        self.params.get('encryption_key')))
        return self._engine

    def engine_for(self, prefix: str) -> ProtectionEngine:
        """An engine on the cloud of the ``<prefix>cloud``/``<prefix>auth`` options (see
        prefixed_connection_spec), with this module's providers, state and key."""
        return ProtectionEngine(
            state_dir=self.params.get('state_dir'),
            providers_dir=self.params.get('providers_dir'),
            cloud=CloudSession(prefixed_connection_params(self.params, prefix)),
            timeout=self.params.get('timeout') or 180,
            catalog=self.params.get('catalog') or 'auto',
            catalog_container=self.params.get('catalog_container'),
            encryption_key=load_key(self.params.get('encryption_key_file'),
                                    self.params.get('encryption_key')))

    def target_engine(self, required: bool = False) -> ProtectionEngine | None:
        """The engine of the target_* cloud; None when no target_* option is set
        (and none is ``required``). Missing target credentials fail now, before
        anything runs; the connection itself is made on first use."""
        if not required and all(self.params.get(name) is None
                                for name in target_connection_spec()):
            return None
        return self.engine_for(TARGET_PREFIX)

    def checkpoint_provider_id(self, plan: dict[str, Any] | None = None) -> str:
        """The provider whose bank holds the checkpoint (see checkpoint_argument_spec):
        I(provider_id), else the provider of ``plan`` (the plan option's record, looked up
        only when needed). A checkpoint is only found in its provider's bank, so neither
        fails here, before anything is read."""
        provider_id = self.params.get('provider_id')
        if not provider_id:
            if plan is None and self.params.get('plan'):
                plan = self.engine.plans.get(self.params['plan'])
            provider_id = (plan or {}).get('provider_id')
        if not provider_id:
            raise InvalidInput('Set provider_id (or plan) of checkpoint %s.'
                               % self.params.get('checkpoint_id'))
        return provider_id

    def run(self) -> dict[str, Any]:
        raise NotImplementedError

    def __call__(self) -> None:
        try:
            for option in self.name_options:
                check_name(self.params.get(option), option)
            for option in self.count_options:
                if self.params[option] < 0:
                    raise InvalidInput('%s must be 0 or more.' % option)
            lock = self.engine.name_lock(
                self.catalog_kind, self.params.get('name') or self.params.get('id') or '') \
                if self.catalog_kind else contextlib.nullcontext()
            with lock:
                result = self.run() or {}
        except FlowError as exc:
            self.module.fail_json(msg=exc.msg, failures=exc.failures)
        except KarborError as exc:
            self.module.fail_json(msg=exc.msg)
        except Exception as exc:  # pylint: disable=broad-except
            self.module.fail_json(msg='Unexpected %s: %s. This is a bug in karbor.protection; '
                                  'please report it with the task that caused it.'
                                  % (type(exc).__name__, exc))
        result.setdefault('changed', False)
        self.module.exit_json(**result)
