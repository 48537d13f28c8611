# -*- coding: utf-8 -*-
from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import FlowError
from ansible_collections.karbor.protection.plugins.module_utils.flow.executor import FlowExecutor
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    HOOKS, Operation)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource


class Recording(Operation):
    """Defines every hook; the executor records the calls."""

    def on_prepare_begin(self, ctx):
        pass

    def on_prepare_finish(self, ctx):
        pass

    def on_main(self, ctx):
        pass

    def on_complete(self, ctx):
        pass


def run(roots, hook_fn=None, workers=4, operations=None):
    events = []
    lock = threading.Lock()
    ops = operations or {r: Recording() for r in G.resources(roots)}

    def run_hook(res, hook, op):
        if hook_fn:
            hook_fn(res, hook)
        with lock:
            events.append((res.id, hook))

    FlowExecutor(workers).run(roots, ops, run_hook)
    return events


def tree():
    server = Resource('OS::Nova::Server', 'S')
    v1 = Resource('OS::Cinder::Volume', 'V1')
    v2 = Resource('OS::Cinder::Volume', 'V2')
    img = Resource('OS::Glance::Image', 'I')
    table = {server: [v1, v2, img]}
    return G.build_graph([server], lambda r: table.get(r, []))


def test_karbor_link_rules_are_respected():
    events = run(tree())
    pos = {e: i for i, e in enumerate(events)}
    assert len(events) == 16
    for child in ('V1', 'V2', 'I'):
        assert pos[('S', 'on_prepare_begin')] < pos[(child, 'on_prepare_begin')]
        assert pos[(child, 'on_prepare_finish')] < pos[('S', 'on_prepare_finish')]
        assert pos[(child, 'on_complete')] < pos[('S', 'on_complete')]
    for res in ('S', 'V1', 'V2', 'I'):
        chain = [pos[(res, h)] for h in HOOKS]
        assert chain == sorted(chain)


def test_independent_mains_run_in_parallel():
    resources = [Resource('OS::Cinder::Volume', 'v%d' % i) for i in range(4)]
    roots = G.build_graph(resources, lambda r: [])
    barrier = threading.Barrier(4, timeout=5)

    def hook_fn(res, hook):
        if hook == 'on_main':
            barrier.wait()  # deadlocks (BrokenBarrierError) unless all 4 mains overlap

    run(roots, hook_fn, workers=4)


def test_pool_is_bounded():
    resources = [Resource('OS::Cinder::Volume', 'v%d' % i) for i in range(6)]
    roots = G.build_graph(resources, lambda r: [])
    active = []
    peak = [0]
    lock = threading.Lock()

    def hook_fn(res, hook):
        if hook == 'on_main':
            with lock:
                active.append(res)
                peak[0] = max(peak[0], len(active))
            time.sleep(0.05)
            with lock:
                active.remove(res)

    run(roots, hook_fn, workers=2)
    assert peak[0] == 2


def test_parent_main_runs_alongside_children_mains():
    server = Resource('OS::Nova::Server', 'S')
    vol = Resource('OS::Cinder::Volume', 'V')
    roots = G.build_graph([server], lambda r: [vol] if r == server else [])
    barrier = threading.Barrier(2, timeout=5)

    def hook_fn(res, hook):
        if hook == 'on_main':
            barrier.wait()

    run(roots, hook_fn, workers=2)


def test_failure_skips_dependents_but_finishes_independent_work():
    server = Resource('OS::Nova::Server', 'S')
    vol = Resource('OS::Cinder::Volume', 'V')
    other = Resource('OS::Cinder::Volume', 'W')
    table = {server: [vol]}
    roots = G.build_graph([server, other], lambda r: table.get(r, []))

    def hook_fn(res, hook):
        if res.id == 'V' and hook == 'on_main':
            raise RuntimeError('backup exploded')

    events = []
    with pytest.raises(FlowError) as err:
        def recorder(res, hook, op):
            hook_fn(res, hook)
            events.append((res.id, hook))
        FlowExecutor(2).run(roots, {r: Recording() for r in G.resources(roots)}, recorder)
    assert 'OS::Cinder::Volume#V' in err.value.failures
    assert 'backup exploded' in err.value.failures['OS::Cinder::Volume#V']
    assert ('W', 'on_complete') in events
    assert ('S', 'on_complete') not in events
    assert ('V', 'on_complete') not in events


def test_undefined_hooks_are_not_scheduled():
    class MainOnly(Operation):
        def on_main(self, ctx):
            pass

    res = Resource('OS::Cinder::Volume', 'v')
    roots = G.build_graph([res], lambda r: [])
    events = run(roots, operations={res: MainOnly()})
    assert events == [('v', 'on_main')]
