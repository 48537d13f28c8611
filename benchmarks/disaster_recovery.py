# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disaster-recovery throughput (restores and copies) against raw SDK data movement, in one run.

Usage (test cloud running, from the repository root):
  OS_CLIENT_CONFIG_FILE=/tmp/karbor-cloud/clouds.yaml \\
  PYTHONPATH=collections python benchmarks/disaster_recovery.py [--size-mib 256] [--repeat 3]
  [--quick] [--only image,volume,copy] [--profile] [--processes]

Prints, per measurement, the median product and baseline seconds over --repeat rounds (the
two alternate which runs first), the throughput ratio baseline time / product time, the MiB
moved and the load average before and after:
  image_restore_throughput_ratio   engine.restore of an image checkpoint / the same chunk
                                   objects read from Swift and streamed into a new Glance
                                   image (target >= 0.9)
  volume_restore_throughput_ratio  engine.restore of a volume kept in the bank (backup_mode
                                   bank) / its chunks read from the bank into a temporary
                                   Glance image, a volume made from it, the image deleted
                                   (target >= 0.9)
  copy_throughput_ratio            engine.copy_checkpoints of the image checkpoint into a new
                                   container / swiftclient GET + PUT of the same objects into
                                   a new container, 8 threads each (target >= 0.9)
  recopy_fraction                  bytes a second copy of the unchanged checkpoint sent /
                                   its bytes (bytes_sent / (bytes_sent + bytes_skipped) of the
                                   copy's own result; target <= 0.01)

Everything it creates (images, volumes, containers, temporary folders) is deleted at the
end, also after an error or Ctrl-C.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import cProfile
import functools
import io
import os
import pstats
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid

import openstack

import bench_util

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.engine import copy as copy_flow
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import (
    ProtectionEngine)
from ansible_collections.karbor.protection.plugins.module_utils.resources import (
    image as image_plugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources import volume_bank
from ansible_collections.karbor.protection.plugins.module_utils.storage import object_copy
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import chunk_key

MIB = 1024 * 1024
GIB = 1024 * MIB
COPY_WORKERS = 8  # object_copy.copy_objects' default, which engine/copy.py uses


# -- raw baselines: plain openstacksdk and swiftclient ----------------------------------
class RawChunks(io.RawIOBase):
    """The named Swift objects, in order, as one file-like body (with a length, so the
    upload has a Content-Length), ``prefetch`` objects fetched ahead by as many threads:
    the product's restore reader does the same, plus a sha256 check of every chunk."""

    def __init__(self, swift, container, names, size, prefetch):
        super().__init__()
        self.swift, self.container, self.names, self.size = swift, container, names, size
        self.pool = concurrent.futures.ThreadPoolExecutor(prefetch)
        self.window = prefetch
        self.pending, self.next, self.view = [], 0, memoryview(b'')

    def __len__(self):
        return self.size

    def readable(self):
        return True

    def _get(self, name):
        return self.swift().get_object(self.container, name)[1]

    def _fill(self):
        while len(self.pending) < self.window and self.next < len(self.names):
            self.pending.append(self.pool.submit(self._get, self.names[self.next]))
            self.next += 1

    def readinto(self, target):
        while not self.view.nbytes:
            self._fill()
            if not self.pending:
                return 0
            self.view = memoryview(self.pending.pop(0).result())
            self._fill()
        size = min(len(target), len(self.view))
        target[:size] = self.view[:size]
        self.view = self.view[size:]
        return size

    def close(self):
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)
        super().close()


def raw_image_from_chunks(conn, swift, container, names, size, name, prefetch):
    """A new Glance image streamed from the chunk objects; the image once active."""
    from openstack.image.v2 import image as sdk_image  # pylint: disable=import-outside-toplevel
    image = sdk_image.Image(name=name, disk_format='raw', container_format='bare').create(
        conn.image)
    body = RawChunks(swift, container, names, size, prefetch)
    try:
        response = image.upload(conn.image, data=body, size=size)
        if response.status_code >= 400:
            raise RuntimeError('upload of %s: HTTP %d' % (image.id, response.status_code))
    finally:
        body.close()
    return conn.image.wait_for_status(image, 'active', failures=['killed'], wait=600)


def raw_volume_from_chunks(conn, swift, container, names, size, name, gib, prefetch):
    """Chunks -> temporary image -> a new volume made from it (available) -> image deleted:
    the path a bank-mode restore takes, with the SDK's own waits. The volume's id."""
    image = raw_image_from_chunks(conn, swift, container, names, size, name + '-image', prefetch)
    try:
        volume = conn.block_storage.create_volume(size=gib, name=name, image_id=image.id)
        conn.block_storage.wait_for_status(volume, 'available', failures=['error'], wait=1800)
    finally:
        conn.image.delete_image(image, ignore_missing=True)
    return volume.id


def raw_copy(swift, source, target, names, workers):
    """GET each object from ``source`` and PUT it (with its sha256 metadata) into the new
    container ``target``."""
    swift().put_container(target)

    def one(name):
        headers, body = swift().get_object(source, name)
        meta = {k: v for k, v in headers.items() if k.lower() == 'x-object-meta-sha256'}
        swift().put_object(target, name, contents=body, content_length=len(body), headers=meta)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(one, n) for n in names]:
            future.result()


# -- what the run makes, and its clean-up -----------------------------------------------
class Made:
    """Everything the run creates, deleted by ``clean()`` whatever happened; images and
    volumes are also found by name (a run interrupted inside a create never learnt the id)."""

    def __init__(self, conn, swift, tag):
        self.conn, self.swift, self.tag = conn, swift, tag
        self.images, self.volumes, self.containers, self.dirs = [], [], [], []
        self.checkpoints = []  # their temporary objects are named after them

    def ours(self, name):
        return bool(name) and (self.tag in name or any(c in name for c in self.checkpoints))

    def drop_volume(self, volume_id):
        volume = self.conn.block_storage.find_volume(volume_id, ignore_missing=True)
        if volume is None:
            return
        if volume.status not in ('available', 'error', 'error_restoring', 'error_extending'):
            try:
                self.conn.block_storage.wait_for_status(
                    volume, 'available', failures=['error'], wait=600)
            except Exception:  # pylint: disable=broad-except
                pass
        self.conn.block_storage.delete_volume(volume, ignore_missing=True)
        self.conn.block_storage.wait_for_delete(volume, wait=600)

    def clean(self):
        conn = self.conn
        steps = []
        images = set(self.images)
        volumes = set(self.volumes)
        try:
            images.update(i.id for i in conn.image.images() if self.ours(i.name))
            volumes.update(v.id for v in conn.block_storage.volumes(details=False)
                           if self.ours(v.name))
            snapshots = [s for s in conn.block_storage.snapshots(details=False)
                         if self.ours(s.name)]
        except Exception as exc:  # pylint: disable=broad-except
            print('clean-up: listing failed: %s' % exc, file=sys.stderr)
            snapshots = []
        for image_id in images:
            steps.append(('image %s' % image_id,
                          lambda i=image_id: conn.image.delete_image(i, ignore_missing=True)))
        for snapshot in snapshots:  # (before the volumes: a volume with snapshots stays)
            steps.append(('snapshot %s' % snapshot.id, lambda s=snapshot: (
                conn.block_storage.delete_snapshot(s, ignore_missing=True),
                conn.block_storage.wait_for_delete(s, wait=600))))
        for volume_id in volumes:
            steps.append(('volume %s' % volume_id, lambda v=volume_id: self.drop_volume(v)))
        for container in self.containers:
            steps.append(('container %s' % container, lambda c=container: (
                bench_util.empty_container(self.swift, c, delete=True))))
        for folder in self.dirs:
            steps.append(('folder %s' % folder, lambda f=folder: shutil.rmtree(
                f, ignore_errors=True)))
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # pylint: disable=broad-except
                print('clean-up of %s failed: %s' % (what, exc), file=sys.stderr)


def write_provider(folder, name, container, plugin, chunk, workers):
    provider_id = str(uuid.uuid4())
    with open(os.path.join(folder, provider_id + '.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = %s\nbank = swift\nplugin = %s\n'
                     '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                     '[image_backup_plugin]\nbackup_image_object_size = %d\n'
                     'upload_concurrency = %d\n'
                     % (provider_id, name, plugin, container, chunk, workers))
    return provider_id


# -- measurement ------------------------------------------------------------------------
class Measurement:
    """Per-round product and baseline times of one measurement, with the load average
    before and after each round, client CPU seconds and the machine's busy share."""

    def __init__(self, name, label, target, baseline_label):
        self.name, self.label, self.target, self.baseline_label = name, label, target, \
            baseline_label
        self.times = {'product': [], 'baseline': []}
        self.cpu = {'product': [], 'baseline': []}
        self.busy = {'product': [], 'baseline': []}
        self.data_path = []  # the plugin's own part of each product run (seconds)
        self.load = []  # (before, after) per round
        self.mib = 0.0
        self.profile = None

    def run(self, side, func, procs=None):
        cpu, meter = time.process_time(), bench_util.MachineCPU()
        start = time.monotonic()
        value = func()
        self.times[side].append(time.monotonic() - start)
        self.cpu[side].append(time.process_time() - cpu)
        self.busy[side].append(meter.busy())
        if procs is not None:
            print('  CPU seconds of the busiest processes during the %s %s: %s' % (
                self.name, side, ', '.join('%s %.2f' % (n, c) for n, c in procs.top(8))))
        return value

    def round(self, round_no, product, baseline, profile=False, processes=False):
        """Both sides once, the first one alternating with the round."""
        before = os.getloadavg()[0]
        order = [('product', product), ('baseline', baseline)]
        if round_no % 2:
            order.reverse()
        for side, func in order:
            procs = bench_util.ProcessCPU() if processes else None
            if profile and side == 'product':
                with ThreadsProfile() as self.profile:
                    self.run(side, func, procs)
            else:
                self.run(side, func, procs)
        self.load.append((before, os.getloadavg()[0]))
        print('  round %d %s: product %.2fs, baseline %.2fs (%s first), load %.2f -> %.2f'
              % (round_no + 1, self.name, self.times['product'][-1],
                 self.times['baseline'][-1], order[0][0], before, self.load[-1][1]),
              flush=True)

    def report(self):
        if not self.times['product'] or not self.times['baseline']:
            print('%s: not measured' % self.name)
            return
        product = statistics.median(self.times['product'])
        base = statistics.median(self.times['baseline'])
        ratios = [b / p for b, p in zip(self.times['baseline'], self.times['product'])]
        print('%s: %s' % (self.name, self.label))
        print('  baseline: %s' % self.baseline_label)
        print('  %.1f MiB, %d rounds: product %.2f s (%.1f MiB/s), baseline %.2f s (%.1f MiB/s) '
              '(medians)' % (self.mib, len(self.times['product']), product, self.mib / product,
                             base, self.mib / base))
        if self.data_path:
            print('  the plugin\'s part of the product run (medians): %.2f s, ratio %.2f without '
                  'the engine\'s bookkeeping' % (statistics.median(self.data_path),
                                                 base / statistics.median(self.data_path)))
        print('  client CPU s (medians): product %.2f, baseline %.2f; machine CPU busy: product '
              '%.0f%%, baseline %.0f%%' % (
                  statistics.median(self.cpu['product']), statistics.median(self.cpu['baseline']),
                  100 * statistics.median(self.busy['product']),
                  100 * statistics.median(self.busy['baseline'])))
        print('  load average (1 min) before/after each round: %s' % ', '.join(
            '%.2f/%.2f' % pair for pair in self.load))
        print('%s_throughput_ratio=%.2f (baseline time / product time of the medians; median '
              'of the per-round ratios %.2f: %s; target >= %.1f)' % (
                  self.name, base / product, statistics.median(ratios),
                  ' '.join('%.2f' % r for r in ratios), self.target), flush=True)

    def show_profile(self):
        if self.profile is not None:
            self.profile.show(self.name)


class ThreadsProfile:
    """cProfile of the thread that starts it and of every thread started meanwhile (the
    flow's workers, the chunk readers, the copy pool): one profiler per thread, merged."""

    def __init__(self):
        self.profiles = []

    def _hook(self, _frame, _event, _arg):
        sys.setprofile(None)
        profile = cProfile.Profile()
        self.profiles.append(profile)
        profile.enable()

    def __enter__(self):
        threading.setprofile(self._hook)
        first = cProfile.Profile()
        self.profiles.append(first)
        first.enable()
        return self

    def __exit__(self, *exc):
        self.profiles[0].disable()
        threading.setprofile(None)

    def show(self, what):
        stats = pstats.Stats(self.profiles[0], stream=sys.stdout)
        for profile in self.profiles[1:]:
            try:
                stats.add(profile)
            except (TypeError, ValueError):
                pass
        print('cProfile of the last %s product run, %d threads merged (top 15 by own time, '
              'then by cumulative time):' % (what, len(self.profiles)))
        stats.sort_stats('tottime').print_stats(15)
        stats.sort_stats('cumulative').print_stats(15)
        print('... and of its main thread alone (the sequential steps; karbor code, top 30 by '
              'cumulative time):')
        alone = pstats.Stats(self.profiles[0], stream=sys.stdout)
        alone.sort_stats('cumulative').print_stats('module_utils', 30)


def time_data_path(owner, record):
    """Also time ``owner.on_main`` (a restore plugin's own part) of each product run."""
    real = owner.on_main

    def on_main(self, ctx):
        start = time.monotonic()
        try:
            return real(self, ctx)
        finally:
            record.append(time.monotonic() - start)
    owner.on_main = on_main


def time_copy_objects(record):
    """Also time the data objects' part of each product copy (the copy_objects call over the
    chunks; the reference lists, sections and index are the bookkeeping)."""
    real = object_copy.copy_objects

    def copy_objects(source, target, keys, dry_run=False, workers=COPY_WORKERS, listed=None,
                     stored=None):
        start = time.monotonic()
        keys = list(keys)
        try:
            return real(source, target, keys, dry_run, workers, listed, stored)
        finally:
            if any(k.startswith('/chunks/') for k in keys):
                record.append(time.monotonic() - start)
    copy_flow.copy_objects = copy_objects


def stop_on_term(_signum, _frame):
    raise KeyboardInterrupt('SIGTERM')


# -- the run ----------------------------------------------------------------------------
def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--cloud', default='karbor-a')
    parser.add_argument('--size-mib', type=int, default=256,
                        help='the image (and the random data at the start of the volume)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--quick', action='store_true',
                        help='32 MiB, 1 round, no warm-up (under two minutes)')
    parser.add_argument('--chunk-mib', type=int, default=8)
    parser.add_argument('--concurrency', type=int, default=8,
                        help='the image plugin\'s upload_concurrency (restores read ahead half '
                             'as many chunks)')
    parser.add_argument('--only', default='image,volume,copy',
                        help='comma-separated measurements to run (image, volume, copy)')
    parser.add_argument('--profile', action='store_true',
                        help='cProfile the last product run of each measurement (all its threads)')
    parser.add_argument('--processes', action='store_true',
                        help='CPU seconds of the busiest processes during each side of the '
                             'last round')
    args = parser.parse_args()
    if args.quick:
        args.size_mib, args.repeat = 32, 1
    args.only = set(args.only.split(','))
    unknown = args.only - {'image', 'volume', 'copy'}
    if unknown:
        parser.error('--only: unknown measurement(s) %s' % ', '.join(sorted(unknown)))
    return args


def restored_id(record):
    if record.get('status') != 'success':
        raise RuntimeError('restore %s: %s' % (record.get('status'), record.get('error')))
    return next(iter(record['new_resources'].values()))


def main():  # pylint: disable=too-many-locals,too-many-statements,too-many-branches
    args = parse_args()
    signal.signal(signal.SIGTERM, stop_on_term)
    # (a shell starts background jobs with SIGINT ignored: take it back, so an interrupt
    # always reaches the clean-up)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    size, chunk = args.size_mib * MIB, args.chunk_mib * MIB
    prefetch = max(1, args.concurrency // 2)  # image_chunks.upload_chunks' read ahead
    volume_gib = max(1, -(-size // GIB))
    tag = 'bench-dr-%s' % uuid.uuid4().hex[:8]
    started = time.monotonic()
    print('disaster_recovery: %s, %d MiB, %d round(s), chunk %d MiB, %s'
          % (tag, args.size_mib, args.repeat, args.chunk_mib, bench_util.machine()), flush=True)
    conn = openstack.connect(cloud=args.cloud)
    swift = bench_util.swift_factory(conn)
    made = Made(conn, swift, tag)
    image_m = Measurement(
        'image_restore', 'engine.restore of a one-image checkpoint into a new image', 0.9,
        'the same chunk objects GET from Swift (%d ahead) streamed into a new Glance image, '
        'waited for active' % prefetch)
    volume_m = Measurement(
        'volume_restore', 'engine.restore of a %d GiB volume kept in the bank (backup_mode '
        'bank) into a new volume' % volume_gib, 0.9,
        'its chunks GET from the bank (%d ahead) into a temporary Glance image, a volume '
        'created from it and waited for available (SDK wait, 2 s polls), the image deleted'
        % prefetch)
    copy_m = Measurement(
        'copy', 'engine.copy_checkpoints of the image checkpoint into a new container', 0.9,
        'swiftclient GET + PUT of the same objects into a new container, %d threads (the '
        'product\'s copy uses a pool of %d too)' % (COPY_WORKERS, COPY_WORKERS))
    time_data_path(image_plugin.GlanceRestore, image_m.data_path)
    time_data_path(volume_bank.BankVolumeRestore, volume_m.data_path)
    time_copy_objects(copy_m.data_path)
    fractions = []
    try:
        folder = tempfile.mkdtemp(prefix='karbor-bench-dr-')
        made.dirs.append(folder)
        providers = os.path.join(folder, 'providers')
        os.makedirs(providers)
        image_container, volume_container = tag + '-image-bank', tag + '-volume-bank'
        catalog = tag + '-catalog'
        made.containers += [image_container, volume_container, catalog]
        image_provider = write_provider(providers, tag + '-image', image_container,
                                        'karbor-image-protection-plugin', chunk,
                                        args.concurrency)
        volume_provider = write_provider(providers, tag + '-volume', volume_container,
                                         'karbor-volume-protection-plugin', chunk,
                                         args.concurrency)
        copy_targets = []
        for index in range(args.repeat + 1):  # a fresh target per round (and the warm-up)
            container = '%s-copy-%d' % (tag, index)
            made.containers.append(container)
            copy_targets.append((write_provider(providers, '%s-copy-%d' % (tag, index),
                                                container, 'karbor-image-protection-plugin',
                                                chunk, args.concurrency), container))
        engine = ProtectionEngine(state_dir=os.path.join(folder, 'state'),
                                  providers_dir=providers,
                                  cloud=CloudSession({'cloud': args.cloud}),
                                  catalog='swift', catalog_container=catalog)

        # the source image and its checkpoint
        image = conn.image.create_image(name=tag + '-source', disk_format='raw',
                                        container_format='bare', allow_duplicates=True)
        made.images.append(image.id)
        image.upload(conn.image, data=io.BytesIO(os.urandom(size)), size=size)
        conn.image.wait_for_status(image, 'active', failures=['killed'], wait=600)
        image_plan = engine.plans.create({
            'name': tag + '-image', 'provider_id': image_provider,
            'resources': [{'id': image.id, 'type': 'OS::Glance::Image'}]})
        checkpoint = engine.protect(image_plan)
        made.checkpoints.append(checkpoint.id)
        if checkpoint.status != 'available':
            sys.exit('protect of the image failed: %s' % checkpoint.data.get('error'))
        meta = checkpoint.resource_section(image.id).get_json('metadata')
        image_names = [chunk_key(d).lstrip('/') for d in meta['chunks']]
        print('image checkpoint %s: %d chunks, %.1f s since the start'
              % (checkpoint.id, len(image_names), time.monotonic() - started), flush=True)
        image_m.mib = meta['size'] / MIB

        # the volume kept in the bank (random bytes at its start: made from the image)
        volume_cp = volume_names = volume_meta = None
        if 'volume' in args.only:
            volume = conn.block_storage.create_volume(size=volume_gib, name=tag + '-source',
                                                      image_id=image.id)
            made.volumes.append(volume.id)
            conn.block_storage.wait_for_status(volume, 'available', failures=['error'],
                                               wait=1800)
            volume_plan = engine.plans.create({
                'name': tag + '-volume', 'provider_id': volume_provider,
                'resources': [{'id': volume.id, 'type': 'OS::Cinder::Volume'}],
                'parameters': {'OS::Cinder::Volume': {'backup_mode': 'bank', 'force': True}}})
            volume_cp = engine.protect(volume_plan)
            made.checkpoints.append(volume_cp.id)
            if volume_cp.status != 'available':
                sys.exit('protect of the volume failed: %s' % volume_cp.data.get('error'))
            volume_meta = volume_cp.resource_section(volume.id).get_json('metadata')
            volume_names = [chunk_key(d).lstrip('/') for d in volume_meta['chunks']]
            volume_m.mib = volume_meta['data_size'] / MIB
            print('volume checkpoint %s: %d chunks (%d distinct), %.1f s since the start'
                  % (volume_cp.id, len(volume_names), len(set(volume_names)),
                     time.monotonic() - started), flush=True)

        def product_image_restore(round_no):
            record = engine.restore(image_provider, checkpoint.id, {
                'OS::Glance::Image': {'restore_name': '%s-restored-%d' % (tag, round_no)}})
            made.images.append(restored_id(record))

        def baseline_image_restore(round_no):
            restored = raw_image_from_chunks(conn, swift, image_container, image_names,
                                             meta['size'], '%s-raw-%d' % (tag, round_no),
                                             prefetch)
            made.images.append(restored.id)

        def product_volume_restore(round_no):
            record = engine.restore(volume_provider, volume_cp.id, {
                'OS::Cinder::Volume': {'restore_name': '%s-restored-%d' % (tag, round_no)}})
            made.volumes.append(restored_id(record))

        def baseline_volume_restore(round_no):
            made.volumes.append(raw_volume_from_chunks(
                conn, swift, volume_container, volume_names, volume_meta['data_size'],
                '%s-raw-%d' % (tag, round_no), volume_gib, prefetch))

        copies = {}

        def product_copy(round_no):
            target_provider, _container = copy_targets[round_no + 1]
            copies[round_no] = engine.copy_checkpoints(
                engine, image_provider, target_provider, [checkpoint.id],
                {'cloud': args.cloud, 'project_name': None})

        copy_names = []

        def baseline_copy(round_no):
            target = '%s-rawcopy-%d' % (tag, round_no)
            made.containers.append(target)
            raw_copy(swift, image_container, target, copy_names, COPY_WORKERS)

        def drop_images():
            for image_id in made.images[1:]:
                conn.image.delete_image(image_id, ignore_missing=True)
            del made.images[1:]

        def drop_volumes():
            for volume_id in made.volumes[1:]:
                made.drop_volume(volume_id)
            del made.volumes[1:]

        if 'copy' in args.only:
            # the object list of the baseline: what a copy writes into an empty container
            engine.copy_checkpoints(engine, image_provider, copy_targets[0][0], [checkpoint.id],
                                    {'cloud': args.cloud, 'project_name': None})
            copy_m.data_path.clear()
            # the objects a copy reads: the checkpoint's (reference lists, chunks, sections),
            # its index.json and its indices (which the copy writes under the target's id)
            source_bank = object_copy.raw(engine.bank(engine.provider(image_provider)))
            copy_names[:] = [k.lstrip('/') for k in object_copy.checkpoint_objects(
                source_bank, checkpoint.id) + ['/checkpoints/%s/index.json' % checkpoint.id] +
                list(checkpoint.index_keys())]
            written = swift().get_container(copy_targets[0][1], full_listing=True)[1]
            copy_m.mib = sum(o['bytes'] for o in written) / MIB
            if len(written) != len(copy_names):
                sys.exit('a copy wrote %d objects, the baseline would copy %d'
                         % (len(written), len(copy_names)))
        if not args.quick:  # warm-up: connections, caches, the restore path once
            if 'image' in args.only:
                product_image_restore(-1)
                baseline_image_restore(-1)
                drop_images()
                image_m.data_path.clear()
            if 'copy' in args.only:
                baseline_copy(-1)
                bench_util.empty_container(swift, made.containers.pop(), delete=True)
        print('set-up done, %.1f s since the start' % (time.monotonic() - started), flush=True)

        for round_no in range(args.repeat):
            last = round_no == args.repeat - 1
            flags = {'profile': args.profile and last, 'processes': args.processes and last}
            if 'image' in args.only:
                image_m.round(round_no, functools.partial(product_image_restore, round_no),
                              functools.partial(baseline_image_restore, round_no), **flags)
                drop_images()
            if 'volume' in args.only:
                volume_m.round(round_no, functools.partial(product_volume_restore, round_no),
                               functools.partial(baseline_volume_restore, round_no), **flags)
                drop_volumes()
            if 'copy' in args.only:
                copy_m.round(round_no, functools.partial(product_copy, round_no),
                             functools.partial(baseline_copy, round_no), **flags)
                first = copies[round_no]
                if first['bytes_sent'] == 0:
                    sys.exit('the copy of round %d sent nothing: %s' % (round_no + 1, first))
                again = engine.copy_checkpoints(engine, image_provider,
                                                copy_targets[round_no + 1][0], [checkpoint.id],
                                                {'cloud': args.cloud, 'project_name': None})
                copy_m.data_path.pop()  # (the re-copy's; only the first copy's count)
                total = again['bytes_sent'] + again['bytes_skipped']
                fractions.append(again['bytes_sent'] / float(total))
                print('  round %d re-copy: sent %d of %d bytes (%d objects sent, %d skipped)'
                      % (round_no + 1, again['bytes_sent'], total, again['objects_sent'],
                         again['objects_skipped']), flush=True)
                bench_util.empty_container(swift, copy_targets[round_no + 1][1], delete=True)
                bench_util.empty_container(swift, made.containers[-1], delete=True)
    except KeyboardInterrupt:
        print('interrupted: cleaning up (this takes a while; interrupting again leaves things '
              'behind)', file=sys.stderr, flush=True)
        raise
    finally:
        made.clean()
    print('disaster_recovery: %d MiB image, %d round(s) (medians), chunk %d MiB, %s, %.0f s in '
          'all' % (args.size_mib, args.repeat, args.chunk_mib, bench_util.machine(),
                   time.monotonic() - started))
    for measurement in (image_m, volume_m, copy_m):
        if measurement.name.split('_')[0] in args.only:
            measurement.report()
    if fractions:
        print('recopy_fraction=%.4f (a second copy of the unchanged checkpoint into the target '
              'that has it: bytes_sent / (bytes_sent + bytes_skipped), median of %s; target '
              '<= 0.01)' % (statistics.median(fractions),
                            ' '.join('%.4f' % f for f in fractions)))
    for measurement in (image_m, volume_m, copy_m):
        measurement.show_profile()


if __name__ == '__main__':
    main()
