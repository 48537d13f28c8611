# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each type of scheduled operation keeps in its operation_definition,
checked when the operation is created or changed, so that a bad definition
fails before anything is written and never at 2 a.m. in a scheduled run."""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import Provider
from ansible_collections.karbor.protection.plugins.module_utils.engine.retention import (
    normalize_limit)
from ansible_collections.karbor.protection.plugins.module_utils.engine.verify import (
    verify_options)

OPERATION_TYPES = ('protect', 'retention_protect', 'copy', 'verify')
#: the operation_definition keys of each type besides plan_id and provider_id; a key of
#: another type is refused, so a definition never holds an option that does nothing
TYPE_KEYS: dict[str, tuple[str, ...]] = {
    'protect': (),
    'retention_protect': ('max_backups', 'retention_duration'),
    'copy': ('target_provider_id', 'count'),
    'verify': ('level', 'data_subset', 'count'),
}
OPTION_KEYS = tuple(sorted({key for keys in TYPE_KEYS.values() for key in keys}))
DEFINITION_KEYS = ('plan_id', 'provider_id') + OPTION_KEYS


def _whole(value: Any, name: str, what: str) -> int:
    """A whole number (Karbor's definitions may hold numbers as strings)."""
    if isinstance(value, bool):
        raise InvalidInput('%s is %s; got %r.' % (name, what, value))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput('%s is %s; got %r.' % (name, what, value))


def _count(definition: dict[str, Any], op_type: str) -> int:
    value = definition.get('count')
    what = ('how many of the plan\'s newest available checkpoints each fire time %s: a whole '
            'number of 1 or more' % ('copies' if op_type == 'copy' else 'verifies'))
    count = 1 if value in (None, '') else _whole(value, 'count', what)
    if count < 1:
        raise InvalidInput('count is %s; got %r.' % (what, value))
    return count


def _retention(definition: dict[str, Any], _provider: Callable[[str], Provider]) -> None:
    definition['max_backups'] = normalize_limit(definition.get('max_backups'), 'max_backups')
    definition['retention_duration'] = normalize_limit(definition.get('retention_duration'),
                                                       'retention_duration')


def _copy(definition: dict[str, Any], provider: Callable[[str], Provider]) -> None:
    """The target provider resolved to its id now: a name that means nothing
    fails here, not at the first fire time. The target's cloud is not known
    until a run gives its credentials."""
    definition['count'] = _count(definition, 'copy')
    if not definition.get('target_provider_id'):
        raise InvalidInput('A copy operation needs target_provider_id: the provider (id or '
                           'name) of the bank its checkpoints are copied into.')
    try:
        definition['target_provider_id'] = provider(str(definition['target_provider_id'])).id
    except NotFound as exc:
        raise NotFound('target_provider_id: %s' % exc.msg)


def _verify(definition: dict[str, Any], _provider: Callable[[str], Provider]) -> None:
    """Level and subset checked by the verify flow's own verify_options."""
    definition['count'] = _count(definition, 'verify')
    level = definition.get('level') or 'bank'
    subset = definition.get('data_subset')
    subset = None if subset in (None, '') else _whole(
        subset, 'data_subset', 'the percentage of chunks read at level data: a whole number '
        'from 1 to 100')
    verify_options(level, subset)
    definition['level'] = level
    if subset is None:
        definition.pop('data_subset', None)
    else:
        definition['data_subset'] = subset


NORMALIZERS: dict[str, Callable[[dict[str, Any], Callable[[str], Provider]], None]] = {
    'retention_protect': _retention, 'copy': _copy, 'verify': _verify}


def normalize_definition(op_type: str, definition: dict[str, Any],
                         provider: Callable[[str], Provider]) -> dict[str, Any]:
    """The type's own keys checked and given their defaults; keys of other
    types refused (as max_backups on protect always was)."""
    unknown = sorted(set(definition) - set(DEFINITION_KEYS))
    if unknown:
        raise InvalidInput('operation_definition has no key %s; it takes %s.'
                           % (', '.join(unknown), ', '.join(DEFINITION_KEYS)))
    for key in OPTION_KEYS:
        if key in TYPE_KEYS[op_type]:
            continue
        if definition.get(key) not in (None, ''):
            owners = [t for t in OPERATION_TYPES if key in TYPE_KEYS[t]]
            raise InvalidInput('%s applies to %s operations only; use operation_type %s or '
                               'leave it out.' % (key, ' and '.join(owners),
                                                  ' or '.join(owners)))
        definition.pop(key, None)
    normalize = NORMALIZERS.get(op_type)
    if normalize is not None:
        normalize(definition, provider)
    return definition
