# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image protect throughput against a raw Glance-to-Swift copy, in one run.

Usage (test cloud running, from the repository root):
  OS_CLIENT_CONFIG_FILE=/tmp/karbor-cloud/clouds.yaml \\
  PYTHONPATH=collections python benchmarks/image_protect.py [--size-mib 256] [--repeat 3]

Prints (medians of --repeat rounds; baseline and protect alternate which runs first):
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

from ansible_collections.karbor.protection.plugins.module_utils.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.engine import ProtectionEngine
from ansible_collections.karbor.protection.plugins.module_utils import glance_plugin
from ansible_collections.karbor.protection.plugins.module_utils.glance_plugin import (
    READ_BLOCK, fixed_chunks)

MIB = 1024 * 1024


def baseline(conn, swift, image_id, container, chunk, workers):
    """Download from Glance, PUT each chunk to Swift with a bounded pool."""
    slots = threading.Semaphore(workers + 1)
    errors = []

    def put(index, data):
        try:
            swift().put_object(container, 'chunk-%06d' % index, contents=data,
                               content_length=len(data))
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
    args = parser.parse_args()
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
    time_plugin(on_main_times)
    try:
        image.upload(conn.image, data=io.BytesIO(os.urandom(size)), size=size)
        conn.image.wait_for_status(image, 'active', failures=['killed'], wait=600)
        swift().put_container(scratch)
        engine = ProtectionEngine(state_dir=state, providers_dir=providers,
                                  cloud=CloudSession({'cloud': args.cloud}))
        plan = engine.create_plan({'name': 'bench', 'provider_id': provider_id,
                                   'resources': [{'id': image.id, 'type': 'OS::Glance::Image'}]})
        engine.protect(plan)  # warm-up: connections, container creation
        for checkpoint in engine.list_checkpoints(provider_id):
            engine.delete_checkpoint(provider_id, checkpoint.id)
        for round_no in range(args.repeat):
            # Alternate which goes first, so a load change on the shared cores
            # does not always favour the same side; ratios are taken per round.
            if round_no % 2:
                start, cpu = time.monotonic(), time.process_time()
                first = engine.protect(plan)
                protect_times.append(time.monotonic() - start)
                protect_cpu.append(time.process_time() - cpu)
            cpu = time.process_time()
            base_times.append(baseline(conn, swift, image.id, scratch, chunk, args.concurrency))
            base_cpu.append(time.process_time() - cpu)
            bench_util.empty_container(swift, scratch)
            if not round_no % 2:
                start, cpu = time.monotonic(), time.process_time()
                first = engine.protect(plan)
                protect_times.append(time.monotonic() - start)
                protect_cpu.append(time.process_time() - cpu)
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
          'load average %.2f' % (args.size_mib, args.chunk_mib, args.concurrency, args.repeat,
                                 os.getloadavg()[0]))
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


if __name__ == '__main__':
    main()
