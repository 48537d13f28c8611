# -*- coding: utf-8 -*-
"""Modules import their heavy third-party libraries on first use, not at start.

Every task pays for what its module imports: openstacksdk alone took about a third of a
second, although provider_info never reaches the cloud and the No-Op provider needs no SDK.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.storage import encrypted_bank as bank_crypto
from ansible_collections.karbor.protection.plugins.module_utils.engine import time_trigger as trigger
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankError, InvalidInput, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (
    OS_INFRA_PROVIDER_ID, ProviderRegistry)
from ansible_collections.karbor.protection.plugins.module_utils.common.schema import validate_value

PACKAGE = 'ansible_collections.karbor.protection.plugins'
MODULES_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'modules')
HEAVY = ('openstack', 'keystoneauth1', 'swiftclient', 'requests', 'jsonschema', 'cryptography',
         'croniter', 'dateutil')


def imported_after(code: str) -> list[str]:
    """The HEAVY top-level packages in sys.modules after ``code`` runs in a fresh interpreter."""
    probe = code + '\nimport json, sys\nprint(json.dumps(sorted({n.split(".")[0] for n in ' \
        'sys.modules} & set(%r))))' % (HEAVY,)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_importing_every_module_imports_no_heavy_library():
    names = sorted(n[:-3] for n in os.listdir(MODULES_DIR) if n.endswith('.py'))
    assert 'provider_info' in names and 'checkpoint_info' in names
    code = '\n'.join('import %s.modules.%s' % (PACKAGE, name) for name in names)
    assert imported_after(code) == []


def test_listing_providers_needs_no_sdk():
    code = ('from %s.module_utils.engine.providers import ProviderRegistry\n'
            '[p.to_api() for p in ProviderRegistry().list()]' % PACKAGE)
    assert imported_after(code) == []


def test_the_swift_bank_is_imported_when_opened():
    provider = ProviderRegistry().get(OS_INFRA_PROVIDER_ID)
    bank = provider.bank('/nonexistent', lambda: None)
    assert type(bank).__name__ == 'SwiftBank'


def test_missing_openstacksdk_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'openstack', None)  # makes ``import openstack`` fail
    with pytest.raises(KarborError, match=r'openstacksdk Python library is required.*'
                                          r'pip install openstacksdk'):
        CloudSession({'cloud': 'anything'}).conn


def test_missing_jsonschema_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'jsonschema', None)
    with pytest.raises(InvalidInput, match='jsonschema Python library is required to validate '
                                           'parameters'):
        validate_value({'type': 'object'}, {}, 'parameters')


def test_missing_cryptography_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(bank_crypto, '_CRYPTO', None)
    monkeypatch.setitem(sys.modules, 'cryptography.exceptions', None)
    with pytest.raises(BankError, match='Bank encryption needs the Python library "cryptography"'):
        bank_crypto.derive_keys(b'k' * bank_crypto.KEY_SIZE)


@pytest.mark.parametrize('library, call, message', [
    ('croniter', lambda: trigger.check_crontab('0 2 * * *'), 'croniter library is required'),
    ('dateutil', lambda: trigger.TimeTrigger('FREQ=DAILY', 'calendar'),
     'python-dateutil library is required')])
def test_missing_trigger_libraries_are_clear_errors(monkeypatch, library, call, message):
    monkeypatch.setitem(sys.modules, library, None)
    with pytest.raises(KarborError, match=message):
        call()
