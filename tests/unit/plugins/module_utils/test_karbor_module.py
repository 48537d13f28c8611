# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    NAME_MAX_LENGTH, KarborModule, check_name, checkpoint_argument_spec)


@pytest.mark.parametrize('name', [None, '', 'nightly', 'план-ünïcødé-✓', 'x' * NAME_MAX_LENGTH])
def test_names_that_are_accepted(name):
    check_name(name, 'name')


def test_oversized_name_is_refused():
    with pytest.raises(InvalidInput, match='name is 256 characters long; use at most 255'):
        check_name('x' * (NAME_MAX_LENGTH + 1), 'name')


@pytest.mark.parametrize('name', ['a\nb', 'tab\there', 'bell\x07', 'nul\x00', 'del\x7f'])
def test_control_characters_are_refused(name):
    with pytest.raises(InvalidInput, match='contains control characters'):
        check_name(name, 'name')


class _Plans:
    """Plans by name; counts look-ups, which checkpoint_provider_id makes only when needed."""

    def __init__(self):
        self.looked_up = []

    def get(self, name):
        self.looked_up.append(name)
        return {'id': 'plan-1', 'name': name, 'provider_id': 'provider-of-plan'}


class _Engine:
    def __init__(self):
        self.plans = _Plans()


def _module(**params):
    module = object.__new__(KarborModule)
    module.params = dict(dict(provider_id=None, plan=None, checkpoint_id='cp-1'), **params)
    module._engine = _Engine()
    return module


def test_checkpoint_spec_names_the_checkpoint_as_before():
    assert checkpoint_argument_spec(required=True) == dict(
        provider_id=dict(type='str'), plan=dict(type='str'),
        checkpoint_id=dict(type='str', required=True, aliases=['checkpoint']))
    assert checkpoint_argument_spec(required=False)['checkpoint_id']['required'] is False


def test_provider_id_wins_and_the_plan_is_not_read():
    module = _module(provider_id='given', plan='db')
    assert module.checkpoint_provider_id() == 'given'
    assert module.engine.plans.looked_up == []


def test_the_plan_gives_the_provider():
    module = _module(plan='db')
    assert module.checkpoint_provider_id() == 'provider-of-plan'
    assert module.engine.plans.looked_up == ['db']


def test_a_plan_record_already_read_is_used():
    module = _module(plan='db')
    assert module.checkpoint_provider_id({'provider_id': 'from-record'}) == 'from-record'
    assert module.engine.plans.looked_up == []


def test_without_provider_or_plan_it_says_what_to_set():
    with pytest.raises(InvalidInput, match=r'Set provider_id \(or plan\) of checkpoint cp-1\.'):
        _module().checkpoint_provider_id()
