# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image protect throughput against a raw Glance-to-Swift copy, in one run.

Usage (test cloud running, from the repository root):
  OS_CLIENT_CONFIG_FILE=/tmp/karbor-cloud/clouds.yaml \\
  PYTHONPATH=collections python benchmarks/image_protect.py [--size-mib 256] [--repeat 3]

Prints (medians of --repeat rounds; the measurements rotate which runs first):
  image_protect_throughput_ratio       protect speed / baseline speed (target >= 0.9)
  second_checkpoint_reupload_fraction  bytes a second checkpoint of the unchanged image
                                       wrote to the bank / image size (target <= 0.01)

The baseline downloads the same image from Glance and PUTs it into a scratch
Swift container with plain swiftclient, cut into the same chunks, with the
same number of threads and the same number of chunks in memory. The protect
is a full engine.protect() of a one-image plan on a provider with a Swift
bank (its own container), including the checkpoint's own bookkeeping.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid

import openstack

import bench_util

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.engine.facade import ProtectionEngine
from ansible_collections.karbor.protection.plugins.module_utils.storage import bank as bank_module
from ansible_collections.karbor.protection.plugins.module_utils.resources import image as glance_plugin
from ansible_collections.karbor.protection.plugins.module_utils.resources.glance_calls import READ_BLOCK
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_pipeline import (
    fixed_chunks)

MIB = 1024 * 1024


def baseline(conn, swift, image_id, container, chunk, workers, hashed=False):
    """Download from Glance, PUT each chunk to Swift with a bounded pool.
    ``hashed``: also take each chunk's sha256 before its PUT (the least any
    content-addressed copy must do: the ceiling for the plugin)."""
    slots = threading.Semaphore(workers + 1)
    errors = []

    def put(index, data):
        try:
            name = hashlib.sha256(data).hexdigest() if hashed else 'chunk-%06d' % index
            swift().put_object(container, name, contents=data, content_length=len(data))
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)
        finally:
            slots.release()

    start = time.monotonic()
    response = conn.image.download_image(image_id, stream=True)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for index, data in enumerate(fixed_chunks(response.iter_content(READ_BLOCK), chunk)):
            slots.acquire()
            pool.submit(put, index, data)
    if errors:
        raise errors[0]
    return time.monotonic() - start


class Timeline:
    """Start and end of every bank primitive and cloud call of one protect,
    relative to its start (``--timeline``): where the time before the first
    upload and after the last one goes."""

    def __init__(self):
        self.events = []
        self.start = None
        self.lock = threading.Lock()

    def wrap(self, owner, name, label):
        real = getattr(owner, name)

        def timed(*args, **kwargs):
            began = time.monotonic()
            try:
                return real(*args, **kwargs)
            finally:
                if self.start is not None:
                    what = label(args, kwargs)
                    with self.lock:
                        self.events.append((began - self.start, time.monotonic() - self.start,
                                            threading.current_thread().name, what))
        setattr(owner, name, timed)

    def install(self):
        from ansible_collections.karbor.protection.plugins.module_utils.storage.swift_bank import (
            SwiftBank)
        for name in ('_put', '_get', '_exists', '_delete', '_list', '_claim'):
            self.wrap(SwiftBank, name,
                      lambda a, k, n=name: '%s %s%s' % (n[1:], a[1], ' (%d B)' % len(a[2]) if n in (
                          '_put', '_claim') else ''))
        self.wrap(CloudSession, 'call', lambda a, k: 'cloud: %s' % a[1])

    def begin(self):
        self.events, self.start = [], time.monotonic()

    def show(self, total):
        self.start = None
        print('timeline of the last protect (ms from its start; %.0f ms in all):' % (total * 1e3))
        uploads = sorted(e for e in self.events if e[3].startswith('put /chunks/'))
        for began, ended, thread, what in sorted(self.events):
            if what.startswith('put /chunks/') and uploads and \
                    began not in (uploads[0][0], uploads[-1][0]):
                continue
            print('  %7.1f %7.1f  %-18s %s' % (began * 1e3, ended * 1e3, thread[:18], what))
        if uploads:
            print('  (%d chunk uploads from %.0f to %.0f ms; first and last shown)' % (
                len(uploads), uploads[0][0] * 1e3, max(e[1] for e in uploads) * 1e3))


def time_plugin(record):
    """Also time the plugin's own part (GlanceProtect.on_main) of each protect."""
    real = glance_plugin.GlanceProtect.on_main

    def on_main(self, ctx):
        start = time.monotonic()
        try:
            return real(self, ctx)
        finally:
            record.append(time.monotonic() - start)
    glance_plugin.GlanceProtect.on_main = on_main


def show_processes(what, procs):
    print('CPU seconds of the busiest processes during the %s: %s' % (
        what, ', '.join('%s %.2f' % (name, cpu) for name, cpu in procs.top(8))))


def write_provider(folder, provider_id, container, chunk, workers):
    with open(os.path.join(folder, provider_id + '.conf'), 'w', encoding='utf-8') as handle:
        handle.write('[provider]\nid = %s\nname = image-bench\nbank = karbor-swift-bank-plugin\n'
                     'plugin = karbor-image-protection-plugin\n'
                     '[swift_bank_plugin]\nbank_swift_object_container = %s\n'
                     '[image_backup_plugin]\nbackup_image_object_size = %d\n'
                     'upload_concurrency = %d\n' % (provider_id, container, chunk, workers))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--cloud', default='karbor-a')
    parser.add_argument('--size-mib', type=int, default=256)
    parser.add_argument('--chunk-mib', type=int, default=8)
    parser.add_argument('--concurrency', type=int, default=8)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--timeline', action='store_true',
                        help='print every bank and cloud call of the last protect')
    parser.add_argument('--hashed-baseline', action='store_true',
                        help='also time the baseline with a sha256 of each chunk (the ceiling '
                             'for any content-addressed copy on this machine)')
    parser.add_argument('--free-hash', action='store_true',
                        help='diagnostic only: name chunks by the sha256 of their first 4 KiB, '
                             'so the protect pays no hashing CPU; what the engine costs apart '
                             'from the content addressing')
    parser.add_argument('--processes', action='store_true',
                        help='print the CPU seconds of the busiest processes during the '
                             'baseline and the protect of the last round')
    args = parser.parse_args()
    if args.free_hash:
        # Unique for random bytes; the bank is never read back here.
        bank_module.Bank.content_digest = lambda _bank, data: hashlib.sha256(data[:4096]).hexdigest()
    chunk = args.chunk_mib * MIB
    size = args.size_mib * MIB
    conn = openstack.connect(cloud=args.cloud)
    swift = bench_util.swift_factory(conn)
    image = conn.image.create_image(name='bench-%s' % uuid.uuid4().hex[:6], disk_format='raw',
                                    container_format='bare', allow_duplicates=True)
    tag = uuid.uuid4().hex[:8]
    scratch = 'bench-baseline-%s' % tag
    bank_container = 'bench-bank-%s' % tag
    providers = tempfile.mkdtemp(prefix='karbor-bench-providers-')
    state = tempfile.mkdtemp(prefix='karbor-bench-state-')
    provider_id = str(uuid.uuid4())
    write_provider(providers, provider_id, bank_container, chunk, args.concurrency)
    base_times, protect_times, fractions, plugin_times = [], [], [], []
    on_main_times = []
    base_cpu, protect_cpu = [], []  # this process's CPU seconds (all threads)
    base_busy, protect_busy = [], []  # share of the machine's cores busy meanwhile
    hashed_times = []
    time_plugin(on_main_times)
    timeline = Timeline() if args.timeline else None
    if timeline:
        timeline.install()
    try:
        image.upload(conn.image, data=io.BytesIO(os.urandom(size)), size=size)
        conn.image.wait_for_status(image, 'active', failures=['killed'], wait=600)
        swift().put_container(scratch)
        engine = ProtectionEngine(state_dir=state, providers_dir=providers,
                                  cloud=CloudSession({'cloud': args.cloud}))
        plan = engine.plans.create({'name': 'bench', 'provider_id': provider_id,
                                   'resources': [{'id': image.id, 'type': 'OS::Glance::Image'}]})
        engine.protect(plan)  # warm-up: connections, container creation
        for checkpoint in engine.list_checkpoints(provider_id):
            engine.delete_checkpoint(provider_id, checkpoint.id)
        for round_no in range(args.repeat):
            # Rotate the order of the measurements, so a load change on the
            # shared cores or a warm cache does not always favour the same
            # one; ratios are taken per round.
            def run_protect():
                start, cpu, meter = time.monotonic(), time.process_time(), bench_util.MachineCPU()
                procs = bench_util.ProcessCPU()
                if timeline:
                    timeline.begin()
                done = engine.protect(plan)
                protect_times.append(time.monotonic() - start)
                if timeline and round_no == args.repeat - 1:
                    timeline.show(protect_times[-1])
                elif timeline:
                    timeline.start = None
                protect_cpu.append(time.process_time() - cpu)
                protect_busy.append(meter.busy())
                if args.processes and round_no == args.repeat - 1:
                    show_processes('protect', procs)
                return done

            def run_baseline():
                cpu, meter = time.process_time(), bench_util.MachineCPU()
                procs = bench_util.ProcessCPU()
                base_times.append(baseline(conn, swift, image.id, scratch, chunk,
                                           args.concurrency))
                base_cpu.append(time.process_time() - cpu)
                base_busy.append(meter.busy())
                if args.processes and round_no == args.repeat - 1:
                    show_processes('baseline', procs)
                bench_util.empty_container(swift, scratch)

            def run_hashed():
                hashed_times.append(baseline(conn, swift, image.id, scratch, chunk,
                                             args.concurrency, hashed=True))
                bench_util.empty_container(swift, scratch)

            order = [run_baseline, run_protect] + ([run_hashed] if args.hashed_baseline else [])
            shift = round_no % len(order)
            first = None
            for step in order[shift:] + order[:shift]:
                done = step()
                if step is run_protect:
                    first = done
            plugin_times.append(on_main_times[-1])
            if first.status != 'available':
                sys.exit('protect failed: %s' % first.data.get('error'))
            if first.data['progress']['bytes_uploaded'] != size:
                sys.exit('the first checkpoint of round %d uploaded %d bytes, not %d'
                         % (round_no, first.data['progress']['bytes_uploaded'], size))
            second = engine.protect(plan)
            fractions.append(second.data['progress']['bytes_uploaded'] / float(size))
            engine.delete_checkpoint(provider_id, second.id)
            engine.delete_checkpoint(provider_id, first.id)
            print('round %d: baseline %.2fs, protect %.2fs (plugin %.2fs), second checkpoint '
                  'uploaded %d bytes' % (round_no + 1, base_times[-1], protect_times[-1],
                                         plugin_times[-1],
                                         second.data['progress']['bytes_uploaded']), flush=True)
    finally:
        bench_util.empty_container(swift, scratch, delete=True)
        bench_util.empty_container(swift, bank_container, delete=True)
        conn.image.delete_image(image, ignore_missing=True)
        shutil.rmtree(providers, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
    mb = size / 1e6
    base = statistics.median(base_times)
    protect = statistics.median(protect_times)
    print('image %d MiB of random bytes, chunk %d MiB, %d threads, %d rounds (medians), '
          'load average %.2f%s' % (args.size_mib, args.chunk_mib, args.concurrency, args.repeat,
                                   os.getloadavg()[0], ', FREE HASH (diagnostic: chunks named by '
                                   'their first 4 KiB)' if args.free_hash else ''))
    ratios = [b / p for b, p in zip(base_times, protect_times)]
    print('image_protect_throughput_ratio=%.2f (median of per-round ratios %s; protect %.1f MB/s, '
          'baseline %.1f MB/s)' % (statistics.median(ratios),
                                   ' '.join('%.2f' % r for r in ratios), mb / protect, mb / base))
    plugin_ratios = [b / p for b, p in zip(base_times, plugin_times)]
    print('image_data_path_ratio=%.2f (the plugin alone, without the engine\'s checkpoint '
          'bookkeeping: %.1f MB/s)' % (statistics.median(plugin_ratios),
                                       mb / statistics.median(plugin_times)))
    print('second_checkpoint_reupload_fraction=%.4f' % statistics.median(fractions))
    print('client CPU seconds (medians): baseline %.2f, protect %.2f (the test cloud shares '
          'these cores, so extra client CPU slows both sides\' servers)'
          % (statistics.median(base_cpu), statistics.median(protect_cpu)))
    print('machine CPU busy (medians, all %d cores): baseline %.0f%%, protect %.0f%%'
          % (os.cpu_count() or 0, 100 * statistics.median(base_busy),
             100 * statistics.median(protect_busy)))
    if hashed_times:
        hashed = [b / h for b, h in zip(base_times, hashed_times)]
        print('hashed_baseline_ratio=%.2f (the baseline plus a sha256 of each chunk, per round %s: '
              'the ceiling for a content-addressed copy here)'
              % (statistics.median(hashed), ' '.join('%.2f' % r for r in hashed)))


if __name__ == '__main__':
    main()
