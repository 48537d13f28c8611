# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.module.karbor_module import (
    NAME_MAX_LENGTH, check_name)


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
