# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of plan and restore parameters against plugin JSON schemas.

Karbor checked only key names and stored every value as a string; we
validate values too (with jsonschema) and keep native JSON types.
"""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput

# jsonschema is imported on first validation (about 30 ms a module run otherwise).


def split_parameter_key(key: str) -> tuple[str, str | None]:
    """``"OS::Cinder::Volume#<id>"`` -> (type, id); ``"OS::Cinder::Volume"`` -> (type, None)."""
    if not isinstance(key, str) or not key:
        raise InvalidInput('Parameter key %r is not valid: use "<resource type>" or '
                           '"<resource type>#<resource id>".' % (key,))
    rtype, _sep, rid = key.partition('#')
    if _sep and not rid:
        raise InvalidInput('Parameter key %r has an empty resource id after "#".' % key)
    return rtype, (rid or None)


def validate_value(schema: dict, value: object, where: str) -> None:
    """Raise InvalidInput naming the offending field when ``value`` does not fit."""
    try:
        import jsonschema
    except ImportError:
        raise InvalidInput('The jsonschema Python library is required to validate %s; '
                           'install it (pip install jsonschema).' % where)
    validator_cls = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_cls(schema).iter_errors(value), key=lambda e: list(e.path))
    if not errors:
        return
    error = errors[0]
    allowed = sorted((schema.get('properties') or {}).keys())
    if error.validator == 'additionalProperties':
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        raise InvalidInput('%s: %s not in the provider\'s schema; allowed: %s.' % (
            where, ', '.join(repr(e) for e in extra) + (' is' if len(extra) == 1 else ' are'),
            ', '.join(allowed) or 'none'))
    path = '.'.join(str(p) for p in error.path)
    raise InvalidInput('%s: %s%s' % (where, ('%s: ' % path) if path else '', error.message))


def merged_parameters(parameters: dict, resource_type: str, resource_id: str) -> dict:
    """Type-level parameters overridden by ``type#id`` ones (Karbor's order)."""
    merged = dict(parameters.get(resource_type) or {})
    merged.update(parameters.get('%s#%s' % (resource_type, resource_id)) or {})
    return merged
