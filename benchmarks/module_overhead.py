# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-task time of karbor modules against ansible.builtin.ping, in one playbook run.

Usage (test cloud running, from the repository root):
  OS_CLIENT_CONFIG_FILE=/tmp/karbor-cloud/clouds.yaml \\
  .venv/bin/python benchmarks/module_overhead.py [--tasks 30] [--cloud karbor-a]

One ansible-playbook process runs --tasks rounds of four tasks, interleaved so
that load drift hits all of them alike:
  ansible.builtin.ping
  karbor.protection.provider_info    (needs no cloud)
  karbor.protection.plan_info        (No-Op provider, local catalog; authenticates)
  karbor.protection.checkpoint_info  (No-Op provider's local bank, limit 10; authenticates)
Per-task wall times come from the bench_timer callback (benchmarks/callback_plugins).

Prints the median time of each and its ratio to ping, then where the time
goes, measured in fresh interpreters: importing the karbor module_utils
(openstacksdk, jsonschema and the other heavy libraries are imported on
first use, not by this import), importing openstacksdk, and one Keystone
authentication.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid

import bench_util

NOOP_PROVIDER_ID = 'b766f37c-d011-4026-8228-28730d734a3f'


def plays(rounds: int, cloud: str, state_dir: str, plan_name: str) -> list[dict]:
    common = {'cloud': cloud, 'state_dir': state_dir}
    setup = [{'name': 'setup: a plan of the project itself on the No-Op provider',
              'karbor.protection.plan': dict(common, name=plan_name,
                                             provider_id=NOOP_PROVIDER_ID,
                                             resources=[{'id': '{{ project_id }}',
                                                         'type': 'OS::Keystone::Project'}])},
             ]
    tasks = []
    for i in range(rounds):
        tasks += [
            {'name': 'ping %d' % i, 'ansible.builtin.ping': {}},
            {'name': 'provider_info %d' % i,
             'karbor.protection.provider_info': {'id': NOOP_PROVIDER_ID, 'state_dir': state_dir}},
            {'name': 'plan_info %d' % i, 'karbor.protection.plan_info': dict(common,
                                                                             plan=plan_name)},
            {'name': 'checkpoint_info %d' % i,
             'karbor.protection.checkpoint_info': dict(common, provider_id=NOOP_PROVIDER_ID,
                                                       limit=10)},
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
    parser.add_argument('--tasks', type=int, default=30, help='tasks of each kind')
    args = parser.parse_args()
    bench_util.setup_collection_path()
    import openstack  # pylint: disable=import-outside-toplevel

    project_id = openstack.connect(cloud=args.cloud).current_project_id
    state_dir = tempfile.mkdtemp(prefix='karbor-bench-overhead-')
    plan_name = 'bench-overhead-%s' % uuid.uuid4().hex[:6]
    try:
        fill_bank(state_dir, project_id)
        wall, records = bench_util.run_playbook(
            plays(args.tasks, args.cloud, state_dir, plan_name), {'project_id': project_id})
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)  # plan and bank live only there
    ping = statistics.median(bench_util.task_seconds(records, 'ping '))
    print('one ansible-playbook run, %d tasks of each kind, %.1fs in all; %s'
          % (args.tasks, wall, bench_util.machine()))
    print('ansible.builtin.ping: median %.3fs per task' % ping)
    for name in ('provider_info', 'plan_info', 'checkpoint_info'):
        values = bench_util.task_seconds(records, name + ' ')
        if len(values) != args.tasks:
            sys.exit('expected %d %s results, got %d' % (args.tasks, name, len(values)))
        print('module_overhead_ratio[%s]=%.2f (median %.3fs per task, +%.3fs over ping)'
              % (name, statistics.median(values) / ping, statistics.median(values),
                 statistics.median(values) - ping))
    # Where the extra time goes, each in a fresh interpreter like a module run.
    basic = fresh_python('import ansible.module_utils.basic')
    karbor = fresh_python('import ansible.module_utils.basic\n'
                          'from ansible_collections.karbor.protection.plugins.module_utils '
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
