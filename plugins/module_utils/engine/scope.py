# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a checkpoint taken now protects: a plan's fixed resources plus
what its resource_query selects at this moment, checked to exist, expanded
into the resource graph through the protectables."""

from __future__ import annotations

from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.resources.selection import (
    ResourceQuery)


def query_resources(engine: Any, provider: Any, expression: str) -> list[dict]:
    """What a plan's resource_query selects now, among the instances of
    the types the provider can protect."""
    return ResourceQuery(expression).select(
        engine.protectables.describe_instances(provider.plugins))


def plan_resources(engine: Any, provider: Any, plan: dict[str, Any]) -> list[dict]:
    """The plan's resources for a checkpoint taken now."""
    resources = list(plan.get('resources') or [])
    if plan.get('resource_query'):
        have = {(r['type'], r['id']) for r in resources}
        resources += [r for r in query_resources(engine, provider, plan['resource_query'])
                      if (r['type'], r['id']) not in have]
        if not resources:
            raise InvalidInput('The resource_query %r of plan %s matches no resource now; '
                               'nothing was protected. Check it with '
                               'karbor.protection.protectable_info (query option).'
                               % (plan['resource_query'], plan.get('name') or plan['id']))
    return resources


def check_resources_exist(engine: Any, resources: list[dict]) -> None:
    """Fail before the bank is touched when a plan resource is gone or
    unusable (a few looked up, many listed once per type)."""
    by_type: dict[str, list[str]] = {}
    for item in resources:
        by_type.setdefault(item['type'], []).append(str(item['id']))
    for rtype, ids in sorted(by_type.items()):
        if rtype not in engine.protectables.types():
            continue  # no protectable for the type: the provider's plugin decides
        present = engine.protectables.usable_instances(rtype, ids)
        gone = [i for i in ids if i not in present]
        if gone:
            raise NotFound('Plan resource %s %s does not exist in this project any more '
                           '(or cannot be protected in its current status); update the plan '
                           '(check with karbor.protection.protectable_info). Nothing was '
                           'protected.' % (rtype, ', '.join(gone)))


def plan_graph(engine: Any, provider: Any, plan: dict[str, Any],
               resources: list[dict] | None = None) -> list[G.GraphNode]:
    """The resource graph of a checkpoint taken now; ``resources`` when the
    caller has already resolved ``plan_resources``."""
    if resources is None:
        resources = plan_resources(engine, provider, plan)
    # A resource_query's picks were listed (usable ones only) just now:
    # only the plan's fixed resources still need the existence check.
    check_resources_exist(engine, list(plan.get('resources') or [])
                          if plan.get('resource_query') else resources)
    start = [Resource.from_dict(r) for r in resources]
    # A dependent the provider has no plugin for is left out (a server's network on a
    # provider file without the network plugin); a plan resource of such a type still fails.
    roots = G.build_graph(start, lambda parent: [
        d for d in engine.protectables.get_dependents(parent) if d.type in provider.plugins])
    for res in G.resources(roots):
        provider.plugin_for(res.type)
    return roots
