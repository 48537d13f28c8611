# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dynamic plan resources: a JMESPath expression over the project's
protectable instances, resolved again at every checkpoint.

The expression sees a list of instances, each
``{"id", "type", "name", "status", "metadata", "tags"}`` (``metadata`` is a
volume's or server's metadata, an image's properties), and must give back
a list of such instances (or of objects with ``id`` and ``type``), e.g.
``[?type=='OS::Cinder::Volume' && metadata.backup=='daily']``.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - requirements.txt has it
    HAS_JMESPATH = False
    JMESPathError = Exception

EXAMPLE = "[?type=='OS::Cinder::Volume' && metadata.backup=='daily']"


class ResourceQuery:
    """A compiled ``resource_query``; bad expressions fail at plan time."""

    def __init__(self, expression: str) -> None:
        if not HAS_JMESPATH:
            raise InvalidInput('resource_query needs the jmespath library; install it '
                               '(pip install jmespath).')
        if not isinstance(expression, str) or not expression.strip():
            raise InvalidInput('resource_query must be a JMESPath expression, such as %s.'
                               % EXAMPLE)
        self.expression = expression
        try:
            self._compiled = jmespath.compile(expression)
        except JMESPathError as exc:
            raise InvalidInput('resource_query %r is not valid JMESPath: %s'
                               % (expression, str(exc).replace('\n', ' ')))

    def select(self, instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Plan resource entries ({id, type, name}) of the matching instances."""
        try:
            found = self._compiled.search(instances)
        except JMESPathError as exc:
            raise InvalidInput('resource_query %r failed: %s' % (self.expression, exc))
        if found is None:
            return []
        if isinstance(found, dict):
            found = [found]
        if not isinstance(found, list):
            raise InvalidInput('resource_query %r gave %s; it must give a list of instances '
                               '(objects with id and type), such as %s.'
                               % (self.expression, type(found).__name__, EXAMPLE))
        known = {(i['type'], i['id']): i for i in instances}
        selected, seen = [], set()
        for item in found:
            if not isinstance(item, dict) or (item.get('type'), item.get('id')) not in known:
                raise InvalidInput('resource_query %r gave %r, which is not one of the project\'s '
                                   'protectable instances; select whole instances, such as %s.'
                                   % (self.expression, item, EXAMPLE))
            key = (item['type'], item['id'])
            if key not in seen:
                seen.add(key)
                selected.append({'id': item['id'], 'type': item['type'],
                                 'name': known[key].get('name') or ''})
        return selected
