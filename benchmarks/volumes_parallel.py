# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A checkpoint of 50 independent Cinder volumes against one of 1 volume, in one run.

Usage (test cloud running, from the repository root):
  OS_CLIENT_CONFIG_FILE=/tmp/karbor-cloud/clouds.yaml \\
  .venv/bin/python benchmarks/volumes_parallel.py [--volumes 50] [--repeat 2] [--max-workers 8] \\
  [--availability-zone bench]

Drives the engine API directly from Python (ProtectionEngine.protect with the
collection on sys.path), as the checkpoint module does, on the OS Infra
provider (Cinder backups into Swift). --max-workers is the engine's flow
worker bound; the modules use the engine's default (8). --availability-zone
creates every volume in that zone: on the test cloud, 'bench'
(KARBOR_CLOUD_BENCH_AZ=1 tests/cloud/up) backs up with a sparse-file driver
whose cost follows the data written, not the volume size.

Prints volumes_parallel_ratio = median time of the N-volume checkpoint /
median time of the 1-volume checkpoint (target <= 1.5), then where the time
of the N-volume checkpoint went: how many backups Cinder ran at once, how long
Cinder took per backup, and how late the plugin saw them finish.

Volumes are created and deleted concurrently and polled with one listing
call; everything the run made (checkpoints and their backups, volumes) is
deleted at the end, also when it fails or is interrupted.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import shutil
import statistics
import sys
import tempfile
import time
import uuid

import bench_util

bench_util.setup_collection_path()

import openstack  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.karbor.protection.plugins.module_utils.resources import (  # noqa: E402
    volume as cinder_plugin)
from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import (  # noqa: E402
    CloudSession)
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (  # noqa: E402
    ProtectionEngine)
from ansible_collections.karbor.protection.plugins.module_utils.engine.providers import (  # noqa: E402
    OS_INFRA_PROVIDER_ID)

VOLUME_TYPE = 'OS::Cinder::Volume'


class Volumes:
    """Bulk create/delete: concurrent API calls, one listing per poll."""

    def __init__(self, conn, prefix: str, zone: str | None = None) -> None:
        self.conn = conn
        self.prefix = prefix
        self.zone = zone
        self.ids: list[str] = []

    def _listing(self) -> dict[str, str]:
        return {v.id: v.status for v in self.conn.block_storage.volumes(details=True)
                if (v.name or '').startswith(self.prefix)}

    def create(self, count: int, size: int, timeout: float = 600) -> list[str]:
        def one(index: int) -> str:
            return self.conn.block_storage.create_volume(
                size=size, name='%s-%03d' % (self.prefix, index), availability_zone=self.zone).id
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for volume_id in pool.map(one, range(count)):
                self.ids.append(volume_id)
        deadline = time.monotonic() + timeout
        while True:
            statuses = self._listing()
            bad = [i for i in self.ids if statuses.get(i, '').startswith('error')]
            if bad:
                raise RuntimeError('volume(s) %s went to error' % ', '.join(bad))
            if all(statuses.get(i) == 'available' for i in self.ids):
                return list(self.ids)
            if time.monotonic() > deadline:
                raise RuntimeError('volumes not available after %ds' % timeout)
            time.sleep(1)

    def delete_all(self, timeout: float = 600) -> None:
        """Delete every volume with our prefix (also ones a failed create left)."""
        left = self._listing()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: self.conn.block_storage.delete_volume(i, ignore_missing=True),
                          [i for i, status in left.items() if status != 'deleting']))
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            time.sleep(1)
            left = self._listing()
        if left:
            print('WARNING: volumes left after cleanup: %s' % ', '.join(sorted(left)))


def raw_backups(conn, volume_ids: list[str], timeout: float = 3600) -> float:
    """The baseline: the same backups made straight through the SDK, all at once.

    Returns the time from the first create call until every backup is
    available (one listing per second), then deletes them.
    """
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        backup_ids = list(pool.map(lambda v: conn.block_storage.create_backup(
            volume_id=v, name='bench-raw-%s' % v[:8]).id, volume_ids))
    wanted = set(backup_ids)

    def listing() -> dict[str, str]:
        return {b.id: b.status for b in conn.block_storage.backups(details=True)
                if b.id in wanted}
    try:
        deadline = start + timeout
        while True:
            statuses = listing()
            if any(statuses.get(b) == 'error' for b in backup_ids):
                raise RuntimeError('a baseline backup went to error')
            if all(statuses.get(b) == 'available' for b in backup_ids):
                return time.monotonic() - start
            if time.monotonic() > deadline:
                raise RuntimeError('baseline backups not available after %ds' % timeout)
            time.sleep(1)
    finally:
        while True:  # a backup can only be deleted once it is available or error
            statuses = listing()
            if not statuses:
                break
            for backup_id, status in statuses.items():
                if status in ('available', 'error'):
                    conn.block_storage.delete_backup(backup_id, ignore_missing=True)
            if time.monotonic() > start + timeout:
                print('WARNING: baseline backups left: %s' % ', '.join(statuses))
                break
            time.sleep(1)


def instrument(record: dict) -> None:
    """Record, per volume, when the plugin's protect started (on_main) and ended.

    The plugin starts the backup in on_main and waits in on_complete, so the
    end is when on_complete returns (on_main's, for a plugin without it).
    """
    cls = cinder_plugin.CinderProtect
    real_main = cls.on_main
    real_complete = cls.on_complete if 'on_complete' in vars(cls) else None

    def on_main(self, ctx):
        start = time.time()
        try:
            return real_main(self, ctx)
        finally:
            record[ctx.resource.id] = (start, time.time())

    def on_complete(self, ctx):
        try:
            return real_complete(self, ctx)
        finally:
            record[ctx.resource.id] = (record.get(ctx.resource.id, (time.time(),))[0],
                                       time.time())
    cls.on_main = on_main
    if real_complete is not None:
        cls.on_complete = on_complete


def epoch(value) -> float:
    moment = value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(
        str(value).replace('Z', '+00:00'))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _e in spans] + [(e, -1) for _s, e in spans])
    best = current = 0
    for _moment, step in events:
        current += step
        best = max(best, current)
    return best


def analyse(conn, checkpoint, hooks: dict) -> str:
    """Where the time went, from Cinder's own backup timestamps and the hooks'."""
    backups = []
    for res_id in hooks:
        meta = checkpoint.resource_section(res_id).get_json('metadata')
        backup = conn.block_storage.get_backup(meta['backup_id'])
        backups.append((res_id, backup))
    service = [(epoch(b.created_at), epoch(b.updated_at)) for _r, b in backups]
    durations = [end - start for start, end in service]
    lags = [hooks[r][1] - epoch(b.updated_at) for r, b in backups]
    starts = [hooks[r][0] for r, _b in backups]
    return ('up to %d backups in progress at once in cinder (created, not yet available); per '
            'backup in cinder: median %.1fs, max %.1fs; '
            'backups created over %.1fs, all done %.1fs after the first was created; the plugin saw '
            'each finish a median %.1fs (max %.1fs) after cinder marked it available; plugin '
            'on_main calls started over %.1fs'
            % (max_overlap(service), statistics.median(durations), max(durations),
               max(s for s, _e in service) - min(s for s, _e in service),
               max(e for _s, e in service) - min(s for s, _e in service),
               statistics.median(lags), max(lags), max(starts) - min(starts)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--cloud', default='karbor-a')
    parser.add_argument('--volumes', type=int, default=50)
    parser.add_argument('--size-gib', type=int, default=1)
    parser.add_argument('--repeat', type=int, default=2)
    parser.add_argument('--max-workers', type=int, default=8,
                        help='the engine flow worker bound (the modules use 8)')
    parser.add_argument('--availability-zone', default=None,
                        help="the volumes' availability zone (default: the cloud's default)")
    parser.add_argument('--no-baseline', dest='baseline', action='store_false',
                        help='skip the raw SDK backups of the same volumes')
    args = parser.parse_args()
    conn = openstack.connect(cloud=args.cloud)
    tag = uuid.uuid4().hex[:6]
    volumes = Volumes(conn, 'bench-vol-%s' % tag, args.availability_zone)
    state = tempfile.mkdtemp(prefix='karbor-bench-volumes-')
    engine = ProtectionEngine(state_dir=state, cloud=CloudSession({'cloud': args.cloud}),
                              max_workers=args.max_workers)
    checkpoints: list[str] = []
    hooks: dict = {}
    instrument(hooks)
    one_times, many_times, notes = [], [], []
    raw_one, raw_many = [], []
    try:
        start = time.monotonic()
        ids = volumes.create(args.volumes + 1, args.size_gib)
        print('created %d volumes of %d GiB in %.1fs (availability zone %s)'
              % (len(ids), args.size_gib, time.monotonic() - start,
                 args.availability_zone or 'default'), flush=True)
        plans = {}
        for label, chosen in (('one', ids[:1]), ('many', ids[1:])):
            plans[label] = engine.plans.create({
                'name': 'bench-volumes-%s-%s' % (tag, label), 'provider_id': OS_INFRA_PROVIDER_ID,
                'resources': [{'id': i, 'type': VOLUME_TYPE} for i in chosen]})
        for round_no in range(args.repeat):
            # alternate the order, so neither always runs right after a cleanup
            order = ('one', 'many') if round_no % 2 == 0 else ('many', 'one')
            for label in order:
                if args.baseline:
                    chosen = [r['id'] for r in plans[label]['resources']]
                    raw = raw_backups(conn, chosen)
                    (raw_one if label == 'one' else raw_many).append(raw)
                    print('round %d: %d volume(s): raw SDK backups %.1fs'
                          % (round_no + 1, len(chosen), raw), flush=True)
                hooks.clear()
                start = time.monotonic()
                checkpoint = engine.protect(plans[label])
                elapsed = time.monotonic() - start
                checkpoints.append(checkpoint.id)
                if checkpoint.status != 'available':
                    sys.exit('the %s-volume checkpoint failed: %s'
                             % (len(plans[label]['resources']), checkpoint.data.get('error')))
                (one_times if label == 'one' else many_times).append(elapsed)
                if label == 'many':
                    notes.append(analyse(conn, checkpoint, dict(hooks)))
                print('round %d: %d volume(s): %.1fs' % (round_no + 1,
                                                         len(plans[label]['resources']), elapsed),
                      flush=True)
            for checkpoint_id in list(checkpoints):
                start = time.monotonic()
                engine.delete_checkpoint(OS_INFRA_PROVIDER_ID, checkpoint_id)
                checkpoints.remove(checkpoint_id)
            print('round %d: checkpoints deleted' % (round_no + 1), flush=True)
    finally:
        for checkpoint_id in checkpoints:
            try:
                engine.delete_checkpoint(OS_INFRA_PROVIDER_ID, checkpoint_id)
            except Exception as exc:  # pylint: disable=broad-except
                print('WARNING: checkpoint %s not deleted: %s' % (checkpoint_id, exc))
        volumes.delete_all()
        shutil.rmtree(state, ignore_errors=True)
    one, many = statistics.median(one_times), statistics.median(many_times)
    print('engine API from Python (ProtectionEngine.protect, max_workers=%d), OS Infra provider, '
          '%d GiB empty volumes in availability zone %s, %d rounds (medians); %s'
          % (args.max_workers, args.size_gib, args.availability_zone or 'default', args.repeat,
             bench_util.machine()))
    print('volumes_parallel_ratio=%.2f (%d volumes %.1fs, 1 volume %.1fs)'
          % (many / one, args.volumes, many, one))
    if args.baseline:
        base_one, base_many = statistics.median(raw_one), statistics.median(raw_many)
        print('cinder_alone_ratio=%.2f (the same backups straight through the SDK, all at once: '
              '%d volumes %.1fs, 1 volume %.1fs)' % (base_many / base_one, args.volumes,
                                                     base_many, base_one))
        print('engine_vs_cinder=%.2f (%d-volume checkpoint / raw SDK backups of the same volumes)'
              % (many / base_many, args.volumes))
    for note in notes:
        print('  %d volumes: %s' % (args.volumes, note))


if __name__ == '__main__':
    main()
