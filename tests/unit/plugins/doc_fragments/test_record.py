# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest
import yaml

from ansible_collections.karbor.protection.plugins.doc_fragments.record import ModuleDocFragment
from ansible_collections.karbor.protection.plugins.module_utils.module.record_state import (
    state_argument_spec)

KINDS = {'PLAN': ('Plan', 'a plan', 'the plan'), 'TRIGGER': ('Trigger', 'a trigger', 'the trigger'),
         'SCHEDULED_OPERATION': ('Operation', 'an operation', 'the operation')}


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_fragment_documents_state_argument_spec(kind):
    """Every option of state_argument_spec(), with its type, default and choices."""
    options = yaml.safe_load(getattr(ModuleDocFragment, kind))['options']
    for name, spec in state_argument_spec().items():
        assert options[name]['type'] == spec['type']
        assert options[name].get('default') == spec.get('default')
        assert options[name].get('choices') == spec.get('choices')


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_fragment_is_worded_for_its_record(kind):
    label, article, noun = KINDS[kind]
    options = yaml.safe_load(getattr(ModuleDocFragment, kind))['options']
    assert options['name']['description'] == [
        '%s name, unique in the project. Required to create %s.' % (label, article),
        'At most 255 characters, without control characters.']
    assert options['id']['description'] == [
        '%s id, to update, rename or delete %s by id.' % (label, article)]
    assert options['state']['description'][0].startswith(
        'C(present) creates or updates %s, C(absent) deletes it' % noun)
    assert ('description' in options) == (kind != 'TRIGGER')


def test_an_operation_keeps_its_logs():
    options = yaml.safe_load(ModuleDocFragment.SCHEDULED_OPERATION)['options']
    assert options['state']['description'] == [
        'C(present) creates or updates the operation, C(absent) deletes it (with its claims; '
        'its operation logs stay).']
