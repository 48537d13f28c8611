# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Karbor's nested request forms, accepted beside the flat options.

Why: an operator copying Karbor's walkthrough writes a trigger as
``{type: time, properties: {pattern, format, ...}}`` and a scheduled
operation with ``operation_definition: {plan_id, provider_id, ...}``. Both
forms mean the same record; a value given both ways must agree.
"""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput


def _as_int(value: Any) -> int:
    return int(value)


def flatten_form(params: dict[str, Any], nested: str, fields: dict[str, str],
                 casts: dict[str, Callable[[Any], Any]] | None = None) -> None:
    """Move ``params[nested]``'s keys onto their flat options (``fields`` maps
    a nested key to its option), in place, before the module runs."""
    given = params.get(nested)
    if not given:
        return
    unknown = sorted(set(given) - set(fields))
    if unknown:
        raise InvalidInput('%s has no key %s; it takes %s.' % (
            nested, ', '.join(unknown), ', '.join(sorted(fields))))
    for key, option in fields.items():
        value = given.get(key)
        if value is None:
            continue
        cast = (casts or {}).get(key)
        if cast is not None:
            try:
                value = cast(value)
            except (TypeError, ValueError):
                raise InvalidInput('%s.%s must be a whole number; got %r.' % (nested, key, value))
        if params.get(option) is not None and params[option] != value:
            raise InvalidInput('%s is given twice with different values (%s: %r, %s.%s: %r); '
                               'give it once.' % (option, option, params[option], nested, key,
                                                  value))
        params[option] = value


def trigger_properties(params: dict[str, Any]) -> None:
    flatten_form(params, 'properties', {k: k for k in ('pattern', 'format', 'start_time',
                                                       'end_time', 'window', 'timezone')},
                 {'window': _as_int})


def operation_definition(params: dict[str, Any]) -> None:
    flatten_form(params, 'operation_definition',
                 {'plan_id': 'plan', 'provider_id': 'provider_id',
                  'max_backups': 'max_backups', 'retention_duration': 'retention_duration',
                  'target_provider_id': 'target_provider_id', 'count': 'count',
                  'level': 'level', 'data_subset': 'data_subset'},
                 {'max_backups': _as_int, 'retention_duration': _as_int, 'count': _as_int,
                  'data_subset': _as_int})
