# -*- coding: utf-8 -*-
from __future__ import annotations

import textwrap

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, NotFound, PluginNotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    NOOP_PROVIDER_ID, OS_INFRA_PROVIDER_ID, ProviderRegistry, parse_provider_file)

SEED = textwrap.dedent('''\
    [provider]
    name = OS Infra Provider
    description = This provider uses OpenStack's own services (swift, cinder) as storage
    id = cf56bd3e-97a7-4078-b6d5-f36246333fd9
    plugin=karbor-volume-protection-plugin
    plugin=karbor-image-protection-plugin
    plugin=karbor-server-protection-plugin
    bank=karbor-swift-bank-plugin
    enabled=True

    [swift_client]
    swift_auth_url=http://127.0.0.1:5000/v3
    swift_user=admin
    swift_key=password
    swift_tenant_name=admin

    [swift_bank_plugin]
    lease_expire_window=120
    lease_renew_window=100
    lease_validity_window=100
    ''')


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_builtin_providers():
    registry = ProviderRegistry()
    ids = [p.id for p in registry.list()]
    assert NOOP_PROVIDER_ID in ids and OS_INFRA_PROVIDER_ID in ids
    noop = registry.get('No-Op Provider')
    assert noop.id == NOOP_PROVIDER_ID and noop.bank_kind == 'local'
    assert 'OS::Keystone::Project' in noop.plugins


def test_seed_ini_file_overrides_builtin(tmp_path):
    write(tmp_path, 'openstack-infra.conf', SEED)
    registry = ProviderRegistry(str(tmp_path))
    provider = registry.get(OS_INFRA_PROVIDER_ID)
    assert provider.source.endswith('openstack-infra.conf')
    assert provider.bank_kind == 'swift'
    assert sorted(provider.plugins) == ['OS::Cinder::Volume', 'OS::Glance::Image',
                                        'OS::Nova::Server']
    assert provider.config['swift_client']['swift_user'] == 'admin'
    # the seed's windows are inconsistent for our lease (renew 100 >= ... is fine, validity 100
    # equals renew); they are read as given
    assert provider.lease_windows() == {'expire_window': 120, 'renew_window': 100,
                                        'validity_window': 100}


def test_disabled_provider_is_skipped(tmp_path):
    write(tmp_path, 'x.conf', SEED.replace('enabled=True', 'enabled=False').replace(
        'cf56bd3e-97a7-4078-b6d5-f36246333fd9', '11111111-2222-3333-4444-555555555555'))
    with pytest.raises(NotFound):
        ProviderRegistry(str(tmp_path)).get('11111111-2222-3333-4444-555555555555')


def test_unknown_plugin_and_bank_are_clear_errors(tmp_path):
    text = SEED.replace('karbor-image-protection-plugin', 'karbor-frobnicate-plugin')
    path = write(tmp_path, 'a.conf', text)
    with pytest.raises(InvalidInput) as err:
        parse_provider_file(path)
    assert "unknown protection plugin 'karbor-frobnicate-plugin'" in err.value.msg
    path = write(tmp_path, 'b.conf', SEED.replace('bank=karbor-swift-bank-plugin', 'bank=tape'))
    with pytest.raises(InvalidInput) as err:
        parse_provider_file(path)
    assert "unknown bank 'tape'" in err.value.msg


@pytest.mark.parametrize('text, message', [
    ('[swift_client]\nx=1\n', 'no [provider] section'),
    ('[provider]\nname=x\nbank=swift\n', 'lacks id'),
    ('[provider]\nid=not-a-uuid\nname=x\nbank=swift\n', 'is not a UUID'),
    ('garbage without sections', 'cannot be read'),
])
def test_malformed_files(tmp_path, text, message):
    path = write(tmp_path, 'bad.conf', text)
    with pytest.raises(InvalidInput) as err:
        parse_provider_file(path)
    assert message in err.value.msg


def test_parameter_validation_against_schema():
    noop = ProviderRegistry().get(NOOP_PROVIDER_ID)
    noop.validate_parameters({'OS::Cinder::Volume': {'note': 'x'},
                              'OS::Cinder::Volume#abc': {'note': 'y'}}, 'options')
    with pytest.raises(InvalidInput) as err:
        noop.validate_parameters({'OS::Cinder::Volume': {'bogus': 1}}, 'options')
    assert "'bogus' is not in the provider's schema" in err.value.msg
    with pytest.raises(InvalidInput) as err:
        noop.validate_parameters({'OS::Cinder::Volume': {'note': 5}}, 'options')
    assert "is not of type 'string'" in err.value.msg
    os_infra = ProviderRegistry().get(OS_INFRA_PROVIDER_ID)
    with pytest.raises(PluginNotFound):
        os_infra.validate_parameters({'OS::Manila::Share': {}}, 'options')


def test_unknown_provider_lists_known_ones():
    with pytest.raises(NotFound) as err:
        ProviderRegistry().get('nope')
    assert NOOP_PROVIDER_ID in err.value.msg


def test_plugins_as_continuation_lines(tmp_path):
    path = write(tmp_path, 'c.conf', textwrap.dedent('''\
        [provider]
        id = 22222222-2222-3333-4444-555555555555
        name = Multi
        description = continuation
          lines that are not plugins
        plugin = karbor-noop-protection-plugin
            karbor-volume-protection-plugin
        bank = local
        '''))
    provider = parse_provider_file(path)
    assert provider.plugins['OS::Cinder::Volume'].name == 'karbor-volume-protection-plugin'
    assert provider.plugins['OS::Nova::Server'].name == 'karbor-noop-protection-plugin'
