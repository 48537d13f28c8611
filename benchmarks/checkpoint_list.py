# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The first page of a checkpoint listing at 10 and at 10,000 checkpoints, in one run.

Usage (from the repository root; the test cloud gives the project id, or --offline):
  OS_CLIENT_CONFIG_FILE=/tmp/karbor-cloud/clouds.yaml \\
  .venv/bin/python benchmarks/checkpoint_list.py [--bank local|swift] [--large 10000]

The bank is filled through the engine's own API (CheckpointCollection.create
and set_status, the writes a protect makes for a checkpoint's index and its
three index entries), not by module runs: the No-Op provider's local bank in a
temporary state_dir, or (--bank swift) a provider with the No-Op plugin and a
Swift bank in its own container. Checkpoints are spread over --days days and
--plans plans, newest last.

For each bank size it times engine.list_checkpoints (median of --repeat calls,
in process):
  first page        limit=--limit (10), no filter
  by plan           limit=--limit, one plan's checkpoints
  by date range     limit=--limit, the oldest 30 % of the days
  no limit          what checkpoint_info returns when limit is not set
and, unless --no-module, the first page through karbor.protection.checkpoint_info
(median per task; one ansible-playbook run alternates between a copy of the
small bank and the large one).

Prints checkpoint_list_ratio (first page at --large / at --small, target <= 2)
and the same ratio for the other cases.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid

import bench_util

bench_util.setup_collection_path()

# pylint: disable=wrong-import-position
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil  # noqa: E402
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (  # noqa: E402
    CheckpointCollection)
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import (  # noqa: E402
    CloudSession)
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (  # noqa: E402
    ProtectionEngine)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (  # noqa: E402
    NOOP_PROVIDER_ID)

SWIFT_PROVIDER_ID = '5b0c7e52-3d1f-4a55-9d34-0000000b3c4e'


class OfflineCloud(CloudSession):
    """A fixed project id, for --offline runs of the local bank (no Keystone)."""

    def __init__(self, project_id: str) -> None:
        super().__init__({})
        self._project = project_id

    @property
    def project_id(self) -> str:
        return self._project


_clock = threading.local()
_real_now = timeutil.now


def _bench_now() -> datetime.datetime:
    """The engine's clock, pinned per thread while the bank is filled."""
    return getattr(_clock, 'moment', None) or _real_now()


def fill(collection: CheckpointCollection, project_id: str, plans: list[dict],
         moments: list[datetime.datetime], workers: int) -> None:
    """One available checkpoint per moment, written as a protect writes it."""
    def one(item: tuple[int, datetime.datetime]) -> None:
        index, moment = item
        _clock.moment = moment
        try:
            checkpoint = collection.create(plans[index % len(plans)], project_id, 'bench',
                                           {'created_by': 'bench'})
            checkpoint.set_status('available')
        finally:
            _clock.moment = None
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, enumerate(moments)))


def spread(count: int, days: int, end: datetime.datetime) -> list[datetime.datetime]:
    step = days * 86400.0 / count
    return [end - datetime.timedelta(seconds=step * (count - i)) for i in range(count)]


def write_swift_provider(folder: str, container: str) -> None:
    with open(os.path.join(folder, 'bench-swift.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = bench checkpoint list\n'
                     'bank = karbor-swift-bank-plugin\nplugin = karbor-noop-protection-plugin\n'
                     '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                     % (SWIFT_PROVIDER_ID, container))


def measure(engine: ProtectionEngine, provider_id: str, plan_id: str,
            date_range: tuple[datetime.date, datetime.date], limit: int,
            repeat: int) -> dict[str, tuple[float, int]]:
    cases = {
        'first page': dict(limit=limit),
        'by plan': dict(limit=limit, plan_id=plan_id),
        'by date range': dict(limit=limit, start_date=date_range[0], end_date=date_range[1]),
        'no limit': dict(),
    }
    result = {}
    for name, filters in cases.items():
        engine.list_checkpoints(provider_id, **filters)  # warm the caches a real run also has
        runs = repeat if filters else max(1, repeat // 10)
        elapsed, found = bench_util.median_time(
            lambda f=filters: engine.list_checkpoints(provider_id, **f), runs)
        result[name] = (elapsed, len(found))
    return result


def module_first_pages(cloud: str, states: dict[int, str], providers_dir: str, provider_id: str,
                       limit: int, tasks: int = 10) -> dict[int, float]:
    """Median per-task time of checkpoint_info's first page for each bank size,
    the sizes' tasks interleaved in one ansible-playbook run so that load
    drift hits them alike."""
    plays = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'list %d #%d' % (size, i),
         'karbor.protection.checkpoint_info': {
             'cloud': cloud, 'state_dir': state, 'providers_dir': providers_dir,
             'provider_id': provider_id, 'limit': limit}}
        for i in range(tasks) for size, state in sorted(states.items())]}]
    _wall, records = bench_util.run_playbook(plays)
    return {size: statistics.median(bench_util.task_seconds(records, 'list %d #' % size))
            for size in states}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--cloud', default='karbor-a')
    parser.add_argument('--offline', action='store_true',
                        help='local bank only, a made-up project id, no module runs')
    parser.add_argument('--bank', choices=['local', 'swift'], default='local')
    parser.add_argument('--small', type=int, default=10)
    parser.add_argument('--large', type=int, default=10000)
    parser.add_argument('--limit', type=int, default=10, help='page size of the first page')
    parser.add_argument('--plans', type=int, default=5)
    parser.add_argument('--days', type=int, default=100)
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--workers', type=int, default=8, help='threads filling the bank')
    parser.add_argument('--no-module', dest='module', action='store_false')
    args = parser.parse_args()
    if args.offline and args.bank == 'swift':
        parser.error('--offline works with the local bank only')
    if args.bank == 'swift':
        args.module = False  # the module part copies the small bank, a local folder
    state = tempfile.mkdtemp(prefix='karbor-bench-cplist-')
    providers = tempfile.mkdtemp(prefix='karbor-bench-cplist-providers-')
    container = 'bench-cplist-%s' % uuid.uuid4().hex[:8]
    if args.offline:
        cloud = OfflineCloud(str(uuid.uuid4()).replace('-', ''))
        args.module = False
    else:
        cloud = CloudSession({'cloud': args.cloud})
    provider_id = NOOP_PROVIDER_ID
    if args.bank == 'swift':
        write_swift_provider(providers, container)
        provider_id = SWIFT_PROVIDER_ID
    timeutil.now = _bench_now
    engine = ProtectionEngine(state_dir=state, providers_dir=providers, cloud=cloud)
    project_id = engine.project_id
    collection = engine.checkpoints(engine.provider(provider_id))
    plans = [{'id': str(uuid.uuid4()), 'name': 'bench-%d' % i, 'resources': []}
             for i in range(args.plans)]
    moments = spread(args.large, args.days, _real_now())
    first = set(range(0, args.large, args.large // args.small))  # spread like the rest
    oldest = moments[0].date()
    date_range = (oldest, oldest + datetime.timedelta(days=int(args.days * 0.3) - 1))
    results, module_times, fill_times = {}, {}, {}
    small_state = state + '-small'
    try:
        for size, chosen in ((args.small, [m for i, m in enumerate(moments) if i in first]),
                             (args.large, [m for i, m in enumerate(moments) if i not in first])):
            start = time.monotonic()
            fill(collection, project_id, plans, chosen, args.workers)
            fill_times[size] = time.monotonic() - start
            results[size] = measure(engine, provider_id, plans[0]['id'], date_range, args.limit,
                                    args.repeat)
            if args.module and size == args.small:
                # a copy of the small bank, listed by the module next to the large one
                shutil.copytree(state, small_state)
            print('%d checkpoints (filled in %.1fs): %s' % (size, fill_times[size], ', '.join(
                '%s %.1f ms (%d found)' % (name, t * 1000, n)
                for name, (t, n) in results[size].items())), flush=True)
        if args.module:
            module_times = module_first_pages(args.cloud, {args.small: small_state,
                                                           args.large: state},
                                              providers, provider_id, args.limit)
    finally:
        timeutil.now = _real_now
        shutil.rmtree(small_state, ignore_errors=True)
        if args.bank == 'swift':
            start = time.monotonic()
            bench_util.empty_container(bench_util.swift_factory(cloud.conn), container,
                                       delete=True)
            print('Swift bank container deleted in %.1fs' % (time.monotonic() - start))
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(providers, ignore_errors=True)
    small, large = results[args.small], results[args.large]
    print('engine.list_checkpoints in process, %s bank, %d plans over %d days, page of %d, '
          'medians of %d calls; %s' % (args.bank, args.plans, args.days, args.limit, args.repeat,
                                       bench_util.machine()))
    print('checkpoint_list_ratio=%.2f (first page: %d checkpoints %.1f ms, %d checkpoints %.1f ms)'
          % (large['first page'][0] / small['first page'][0], args.large,
             large['first page'][0] * 1000, args.small, small['first page'][0] * 1000))
    for name in ('by plan', 'by date range', 'no limit'):
        print('checkpoint_list_ratio[%s]=%.2f (%.1f ms vs %.1f ms)'
              % (name, large[name][0] / small[name][0], large[name][0] * 1000,
                 small[name][0] * 1000))
    if module_times:
        print('checkpoint_info_module_ratio=%.2f (first page through ansible-playbook, tasks '
              'interleaved in one run, median per task: %d checkpoints %.3fs, %d checkpoints '
              '%.3fs)'
              % (module_times[args.large] / module_times[args.small], args.large,
                 module_times[args.large], args.small, module_times[args.small]))


if __name__ == '__main__':
    main()
