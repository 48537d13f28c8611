# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource graph: dependency expansion, loop detection, ordering and
Karbor's ``resource_graph`` serialization.

A parent depends on its children (a server on its volumes): children are
handled first. Roots are the resources nobody depends on.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    GraphLoopError, BankCorrupted)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource


class GraphNode:
    """One resource and the nodes it depends on."""

    __slots__ = ('value', 'child_nodes')

    def __init__(self, value: Resource, child_nodes: list['GraphNode'] | None = None) -> None:
        self.value = value
        self.child_nodes = child_nodes or []

    def __repr__(self) -> str:
        return 'GraphNode(%s, %d children)' % (self.value.key, len(self.child_nodes))


DependentsFn = Callable[[Resource], Iterable[Resource]]


def build_graph(start: Iterable[Resource], get_dependents: DependentsFn) -> list[GraphNode]:
    """Expand ``start`` with every dependent (transitively) and return the roots.

    Shared dependents become one node referenced by each parent. A cycle
    raises GraphLoopError naming the resources on it.
    """
    nodes: dict[Resource, GraphNode] = {}
    gray: list[Resource] = []
    black: set[Resource] = set()

    def visit(res: Resource) -> GraphNode:
        if res in black:
            return nodes[res]
        if res in gray:
            loop = gray[gray.index(res):] + [res]
            raise GraphLoopError('The resources depend on each other in a loop: %s; '
                                 'remove one of them from the plan.'
                                 % ' -> '.join(r.key for r in loop))
        gray.append(res)
        node = nodes.setdefault(res, GraphNode(res))
        seen = set()
        for child in get_dependents(res):
            if child in seen or child == res:
                continue
            seen.add(child)
            node.child_nodes.append(visit(child))
        gray.pop()
        black.add(res)
        return node

    ordered = []
    for res in start:
        if res not in nodes:
            ordered.append(res)
        visit(res)
    children = {id(c) for n in nodes.values() for c in n.child_nodes}
    roots = []
    for res in ordered:
        node = nodes[res]
        if id(node) not in children and node not in roots:
            roots.append(node)
    return roots


def iter_nodes(roots: Iterable[GraphNode]) -> Iterator[GraphNode]:
    """Every node once, children before their parents (post-order)."""
    seen: set[int] = set()

    def walk(node: GraphNode) -> Iterator[GraphNode]:
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in node.child_nodes:
            yield from walk(child)
        yield node

    for root in roots:
        yield from walk(root)


def resources(roots: Iterable[GraphNode]) -> list[Resource]:
    """All resources of the graph, children first."""
    return [n.value for n in iter_nodes(roots)]


def parents_of(roots: Iterable[GraphNode]) -> dict[Resource, list[Resource]]:
    """Map each resource to the resources that depend on it."""
    result: dict[Resource, list[Resource]] = {}
    for node in iter_nodes(roots):
        result.setdefault(node.value, [])
        for child in node.child_nodes:
            result.setdefault(child.value, []).append(node.value)
    return result


def serialize(roots: Iterable[GraphNode]) -> str:
    """Karbor's packed form: ``[{"0x<sid>": [type, id, name, extra]}, [[parent, [children]]]]``.

    Sids are given in post-order, so adjacency lists children before parents.
    """
    sids: dict[int, str] = {}
    packed_nodes = {}
    adjacency = []
    for node in iter_nodes(roots):
        sid = hex(len(sids))
        sids[id(node)] = sid
        value = node.value
        packed_nodes[sid] = [value.type, value.id, value.name, value.extra_info or {}]
        if node.child_nodes:
            adjacency.append([sid, [sids[id(c)] for c in node.child_nodes]])
    return json.dumps([packed_nodes, adjacency], sort_keys=True)


def deserialize(data: str | list) -> list[GraphNode]:
    """Rebuild the roots from :func:`serialize` output (also Karbor 3-tuples)."""
    try:
        packed = json.loads(data) if isinstance(data, str) else data
        packed_nodes, adjacency = packed
        nodes = {}
        for sid, item in packed_nodes.items():
            extra = item[3] if len(item) > 3 else {}
            nodes[sid] = GraphNode(Resource(type=item[0], id=item[1], name=item[2] or '',
                                            extra_info=extra or {}))
        child_sids = set()
        for parent, children in adjacency:
            nodes[parent].child_nodes = [nodes[c] for c in children]
            child_sids.update(children)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise BankCorrupted('The checkpoint resource graph cannot be read (%s); '
                            'the checkpoint index is damaged.' % exc)
    order = sorted(nodes, key=lambda s: int(s, 16))
    return [nodes[s] for s in order if s not in child_sids]
