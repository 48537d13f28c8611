# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-task time of karbor modules against ansible.builtin.ping, in one playbook
run, with the catalog in Swift and in a local folder.

Usage (test cloud running, from the repository root):
  OS_CLIENT_CONFIG_FILE=/tmp/karbor-cloud/clouds.yaml \\
  .venv/bin/python benchmarks/module_overhead.py [--tasks 20] [--operations 20] [--cloud karbor-a]

Setup makes, in each catalog, a plan of the project on the No-Op provider and
--operations scheduled operations whose triggers fire twelve hours from now
(so nothing is due). Then one ansible-playbook process runs --tasks rounds of
these tasks, interleaved so that load drift hits all of them alike:
  ansible.builtin.ping
  karbor.protection.provider_info            (needs no cloud)
  karbor.protection.plan_info                (authenticates; reads the catalog)
  karbor.protection.checkpoint_info          (No-Op provider's local bank, limit 10)
  karbor.protection.scheduled_operation_run  (--operations operations, nothing due)
the last three once with catalog: swift (a container of its own) and once with
catalog: local. Per-task wall times come from the bench_timer callback
(benchmarks/callback_plugins).

Prints the median time of each, its ratio to ping, and the ratio of the Swift
catalog to the local one (target: <= 1.5); then where the time goes,
measured in fresh interpreters: importing the karbor module_utils, importing
openstacksdk, and one Keystone authentication.
"""
from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid

import bench_util

NOOP_PROVIDER_ID = 'b766f37c-d011-4026-8228-28730d734a3f'
CATALOGS = ('swift', 'local')
MEASURED = ('plan_info', 'checkpoint_info', 'scheduled_operation_run')


def plays(rounds: int, operations: int, cloud: str, state_dir: str, container: str,
          plan_name: str) -> list[dict]:
    hour = (datetime.datetime.now(datetime.timezone.utc).hour + 12) % 24
    setup, tasks = [], []
    for catalog in CATALOGS:
        common = {'cloud': cloud, 'state_dir': state_dir, 'catalog': catalog,
                  'catalog_container': container}
        setup += [
            {'name': 'setup %s: a plan of the project on the No-Op provider' % catalog,
             'karbor.protection.plan': dict(common, name=plan_name,
                                            provider_id=NOOP_PROVIDER_ID,
                                            resources=[{'id': '{{ project_id }}',
                                                        'type': 'OS::Keystone::Project'}])},
            {'name': 'setup %s: triggers that fire in twelve hours' % catalog,
             'karbor.protection.trigger': dict(common, name='bench-{{ item }}',
                                               pattern='FREQ=DAILY;BYHOUR=%d;BYMINUTE=0' % hour,
                                               format='calendar'),
             'loop': '{{ range(%d) | list }}' % operations},
            {'name': 'setup %s: scheduled operations' % catalog,
             'karbor.protection.scheduled_operation': dict(common, name='bench-{{ item }}',
                                                           trigger='bench-{{ item }}',
                                                           plan=plan_name),
             'loop': '{{ range(%d) | list }}' % operations},
        ]
    for i in range(rounds):
        tasks += [
            {'name': 'ping %d' % i, 'ansible.builtin.ping': {}},
            {'name': 'provider_info %d' % i,
             'karbor.protection.provider_info': {'id': NOOP_PROVIDER_ID, 'state_dir': state_dir}},
        ]
        for catalog in CATALOGS:
            common = {'cloud': cloud, 'state_dir': state_dir, 'catalog': catalog,
                      'catalog_container': container}
            tasks += [
                {'name': 'plan_info %s %d' % (catalog, i),
                 'karbor.protection.plan_info': dict(common, plan=plan_name)},
                {'name': 'checkpoint_info %s %d' % (catalog, i),
                 'karbor.protection.checkpoint_info': dict(common, provider_id=NOOP_PROVIDER_ID,
                                                           limit=10)},
                {'name': 'scheduled_operation_run %s %d' % (catalog, i),
                 'karbor.protection.scheduled_operation_run': common},
            ]
    return [{'hosts': 'localhost', 'gather_facts': False, 'tasks': setup + tasks}]


def fill_bank(state_dir: str, project_id: str, count: int = 10) -> None:
    """Ten available checkpoints in the No-Op provider's bank, written the engine's way."""
    from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
        CheckpointCollection)  # pylint: disable=import-outside-toplevel
    from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import (
        LocalBank)  # pylint: disable=import-outside-toplevel
    collection = CheckpointCollection(LocalBank(os.path.join(state_dir, 'bank')),
                                      NOOP_PROVIDER_ID)
    plan = {'id': str(uuid.uuid4()), 'name': 'bench', 'resources': []}
    for _index in range(count):
        collection.create(plan, project_id, 'bench').set_status('available')


def fresh_python(code: str, repeat: int = 5) -> float:
    """Median wall time of ``code`` in a new interpreter, minus an empty interpreter's."""
    def run(src: str) -> float:
        elapsed, _value = bench_util.median_time(lambda: subprocess.run(
            [sys.executable, '-c', src], check=True, env=dict(
                os.environ, PYTHONPATH=bench_util.COLLECTIONS)), repeat)
        return elapsed
    return run(code) - run('pass')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--cloud', default='karbor-a')
    parser.add_argument('--tasks', type=int, default=20, help='rounds of the measured tasks')
    parser.add_argument('--operations', type=int, default=20,
                        help='scheduled operations in each catalog')
    args = parser.parse_args()
    bench_util.setup_collection_path()
    import openstack  # pylint: disable=import-outside-toplevel

    conn = openstack.connect(cloud=args.cloud)
    project_id = conn.current_project_id
    state_dir = tempfile.mkdtemp(prefix='karbor-bench-overhead-')
    container = 'karbor-bench-catalog-%s' % uuid.uuid4().hex[:8]
    plan_name = 'bench-overhead-%s' % uuid.uuid4().hex[:6]
    try:
        fill_bank(state_dir, project_id)
        wall, records = bench_util.run_playbook(
            plays(args.tasks, args.operations, args.cloud, state_dir, container, plan_name),
            {'project_id': project_id})
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)  # the local catalog and bank
        bench_util.empty_container(bench_util.swift_factory(conn), container, delete=True)
    ping = statistics.median(bench_util.task_seconds(records, 'ping '))
    print('one ansible-playbook run, %d rounds, %d scheduled operations in each catalog, '
          '%.1fs in all; %s' % (args.tasks, args.operations, wall, bench_util.machine()))
    print('ansible.builtin.ping: median %.3fs per task' % ping)

    def median_of(prefix: str) -> float:
        values = bench_util.task_seconds(records, prefix)
        if len(values) != args.tasks:
            sys.exit('expected %d %s results, got %d' % (args.tasks, prefix, len(values)))
        return statistics.median(values)

    provider_info = median_of('provider_info ')
    print('module_overhead_ratio[provider_info]=%.2f (median %.3fs per task)'
          % (provider_info / ping, provider_info))
    for name in MEASURED:
        medians = {catalog: median_of('%s %s ' % (name, catalog)) for catalog in CATALOGS}
        for catalog in CATALOGS:
            print('module_overhead_ratio[%s, catalog %s]=%.2f (median %.3fs per task, '
                  '+%.3fs over ping)' % (name, catalog, medians[catalog] / ping,
                                         medians[catalog], medians[catalog] - ping))
        print('swift_catalog_ratio[%s]=%.2f (Swift catalog / local catalog; target <= 1.5)'
              % (name, medians['swift'] / medians['local']))
    # Where the extra time goes, each in a fresh interpreter like a module run.
    basic = fresh_python('import ansible.module_utils.basic')
    karbor = fresh_python('import ansible.module_utils.basic\n'
                          'from ansible_collections.karbor.protection.plugins.module_utils.module '
                          'import karbor_module') - basic
    sdk = fresh_python('import openstack')
    jsonschema = fresh_python('import jsonschema')
    auth = fresh_python('import openstack\nopenstack.connect(cloud=%r).authorize()'
                        % args.cloud) - sdk
    print('breakdown (fresh interpreters, medians of 5): import ansible.module_utils.basic %.3fs; '
          'then the karbor module_utils %.3fs; on first use, import openstack %.3fs and '
          'import jsonschema %.3fs; openstack.connect().authorize() %.3fs'
          % (basic, karbor, sdk, jsonschema, auth))


if __name__ == '__main__':
    main()
