# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Providers: a bank plus one protection plugin per resource type.

Built-in providers always exist; more are read from Karbor-format INI files
(``*.conf``) in a providers.d folder. A file with a built-in's id replaces
that built-in, which is how an operator points the OS Infra Provider at
another Swift account.
"""

from __future__ import annotations

import configparser
import os
import uuid
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, NotFound, PluginNotFound)
from ansible_collections.karbor.protection.plugins.module_utils.storage.registry import (
    BANK_NAMES, lease_section)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources.registry import (
    OS_PLUGINS, PLUGIN_CLASSES)
from ansible_collections.karbor.protection.plugins.module_utils.common.schema import (
    split_parameter_key, validate_value)

NOOP_PROVIDER_ID = 'b766f37c-d011-4026-8228-28730d734a3f'
OS_INFRA_PROVIDER_ID = 'cf56bd3e-97a7-4078-b6d5-f36246333fd9'
OS_INFRA_FS_PROVIDER_ID = '6659007d-6f66-4a0f-9cb4-17d6aded0bb9'


class Provider:
    """A configured provider; its bank is opened on first use."""

    def __init__(self, provider_id: str, name: str, description: str, plugin_names: list[str],
                 bank_name: str, config: dict[str, dict[str, str]], source: str) -> None:
        self.id = provider_id
        self.name = name
        self.description = description
        self.bank_name = bank_name
        self.config = config
        self.source = source
        self.plugins: dict[str, ProtectionPlugin] = {}
        for plugin_name in plugin_names:
            cls = PLUGIN_CLASSES.get(plugin_name)
            if cls is None:
                raise InvalidInput('Provider %s (%s): unknown protection plugin %r; known plugins: '
                                   '%s.' % (name, source, plugin_name, ', '.join(sorted(
                                       n for n in PLUGIN_CLASSES if n.startswith('karbor-')))))
            plugin = cls(config)
            for rtype in plugin.get_supported_resources_types():
                self.plugins[rtype] = plugin  # later plugins win, as in Karbor
        if bank_name not in BANK_NAMES:
            raise InvalidInput('Provider %s (%s): unknown bank %r; use one of: %s.'
                               % (name, source, bank_name, ', '.join(sorted(BANK_NAMES))))
        self._bank: Bank | None = None

    @property
    def bank_kind(self) -> str:
        return BANK_NAMES[self.bank_name].kind

    def plugin_for(self, resource_type: str) -> ProtectionPlugin:
        try:
            return self.plugins[resource_type]
        except KeyError:
            raise PluginNotFound('Provider %s (%s) has no protection plugin for resource type %s; '
                                 'it supports: %s. Choose another provider or remove the resource.'
                                 % (self.name, self.id, resource_type,
                                    ', '.join(sorted(self.plugins)) or 'nothing'))

    def extended_info_schema(self) -> dict[str, dict]:
        schema: dict[str, dict] = {'options_schema': {}, 'restore_schema': {},
                                   'saved_info_schema': {}}
        for rtype, plugin in sorted(self.plugins.items()):
            schema['options_schema'][rtype] = plugin.get_options_schema(rtype)
            schema['restore_schema'][rtype] = plugin.get_restore_schema(rtype)
            schema['saved_info_schema'][rtype] = plugin.get_saved_info_schema(rtype)
        return schema

    def validate_parameters(self, parameters: dict[str, Any] | None, kind: str) -> dict:
        """Check ``{"<type>[#<id>]": {...}}`` against the options or restore schema."""
        parameters = parameters or {}
        if not isinstance(parameters, dict):
            raise InvalidInput('parameters must be a dict keyed by "<resource type>" or '
                               '"<resource type>#<resource id>".')
        for key, value in parameters.items():
            rtype, _rid = split_parameter_key(key)
            plugin = self.plugin_for(rtype)
            schema = (plugin.get_options_schema(rtype) if kind == 'options'
                      else plugin.get_restore_schema(rtype))
            if not isinstance(value, dict):
                raise InvalidInput('parameters[%r] must be a dict of %s settings.' % (key, kind))
            validate_value(schema, value, 'parameters[%r]' % key)
        return parameters

    def bank(self, state_dir: str, cloud_factory: Callable[[], Any]) -> Bank:
        if self._bank is None:
            self._bank = BANK_NAMES[self.bank_name].open(self.id, self.config, state_dir,
                                                         cloud_factory)
        return self._bank

    def lease_windows(self) -> dict[str, int]:
        section = lease_section(self.config)
        try:
            return {'expire_window': int(section.get('lease_expire_window', 120)),
                    'renew_window': int(section.get('lease_renew_window', 30)),
                    'validity_window': int(section.get('lease_validity_window', 20))}
        except ValueError:
            raise InvalidInput('Provider %s: lease_* windows must be integers (seconds).' % self.name)

    def to_api(self, extended: bool = True) -> dict[str, Any]:
        view = {'id': self.id, 'name': self.name, 'description': self.description,
                'bank': self.bank_kind, 'plugins': sorted({p.name for p in self.plugins.values()}),
                'resource_types': sorted(self.plugins)}
        if extended:
            view['extended_info_schema'] = self.extended_info_schema()
        return view


def builtin_providers() -> list[Provider]:
    return [
        Provider(NOOP_PROVIDER_ID, 'No-Op Provider',
                 'Protects every resource type without moving data (engine and bank tests).',
                 ['karbor-noop-protection-plugin'], 'local', {}, 'built-in'),
        Provider(OS_INFRA_PROVIDER_ID, 'OS Infra Provider',
                 'Cinder backups, Glance image data, Nova servers and Keystone projects into a '
                 'Swift bank on the same cloud.',
                 OS_PLUGINS, 'swift', {}, 'built-in'),
        Provider(OS_INFRA_FS_PROVIDER_ID, 'OS Infra Provider with local file system bank',
                 'The OS Infra plugins with the embedded local file-system bank.',
                 OS_PLUGINS, 'local', {}, 'built-in'),
    ]


def _multi_values(text: str, section: str, option: str) -> list[str]:
    """Every value of a repeated option (oslo.config MultiStr, as Karbor's
    ``plugin=`` lines); configparser alone keeps only the last one."""
    values: list[str] = []
    current, last_key = None, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in '#;':
            continue
        if line.startswith('[') and line.endswith(']'):
            current, last_key = line[1:-1].strip(), None
            continue
        if current != section:
            continue
        if raw[:1] in ' \t':
            if last_key == option:  # continuation of a multi-line value
                values.extend(v.strip() for v in line.split(',') if v.strip())
            continue
        key, sep, value = line.partition('=')
        last_key = key.strip() if sep else None
        if last_key == option:
            values.extend(v.strip() for v in value.split(',') if v.strip())
    return values


def parse_provider_file(path: str) -> Provider | None:
    """One Karbor providers.d INI file; None when ``enabled`` is false."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
        parser.read_string(text, source=path)
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise InvalidInput('Provider file %s cannot be read: %s' % (path, exc))
    if not parser.has_section('provider'):
        raise InvalidInput('Provider file %s has no [provider] section.' % path)
    section = parser['provider']
    missing = [k for k in ('id', 'name', 'bank') if not section.get(k, '').strip()]
    if missing:
        raise InvalidInput('Provider file %s: [provider] lacks %s.' % (path, ', '.join(missing)))
    if section.get('enabled', 'true').strip().lower() in ('false', 'no', '0', 'off'):
        return None
    provider_id = section['id'].strip()
    try:
        uuid.UUID(provider_id)
    except ValueError:
        raise InvalidInput('Provider file %s: id %r is not a UUID.' % (path, provider_id))
    plugins = _multi_values(text, 'provider', 'plugin')
    config = {name: dict(parser[name]) for name in parser.sections() if name != 'provider'}
    return Provider(provider_id, section['name'].strip(), section.get('description', '').strip(),
                    plugins, section['bank'].strip(), config, path)


class ProviderRegistry:
    """Built-in providers overlaid with those of a providers.d folder."""

    def __init__(self, providers_dir: str | None = None) -> None:
        self.providers: dict[str, Provider] = {p.id: p for p in builtin_providers()}
        if providers_dir:
            if not os.path.isdir(providers_dir):
                raise InvalidInput('providers_dir %s is not a folder.' % providers_dir)
            for name in sorted(os.listdir(providers_dir)):
                if name.endswith('.conf'):
                    provider = parse_provider_file(os.path.join(providers_dir, name))
                    if provider is not None:
                        self.providers[provider.id] = provider

    def list(self) -> list[Provider]:
        return [self.providers[k] for k in sorted(self.providers)]

    def get(self, provider_id: str) -> Provider:
        provider = self.providers.get(provider_id)
        if provider is None:
            by_name = [p for p in self.providers.values() if p.name == provider_id]
            if len(by_name) == 1:
                return by_name[0]
            raise NotFound('Provider %r does not exist; known providers: %s.' % (
                provider_id, ', '.join('%s (%s)' % (p.id, p.name) for p in self.list())))
        return provider
