"""Image protect throughput against a raw Glance-to-Swift copy, in one run.

Usage (test cloud running):
  OS_CLIENT_CONFIG_FILE=/tmp/karbor-cloud/clouds.yaml \
  PYTHONPATH=collections python benchmarks/image_protect.py [--size-mib 128] [--repeat 3]

Prints:
  image_protect_throughput_ratio  protect speed / baseline speed (target >= 0.9)
  second_checkpoint_reupload_fraction  bytes uploaded by a second checkpoint of the
                                       unchanged image / image size (target <= 0.01)
The baseline downloads the same image from Glance and uploads it to a scratch
Swift container with the same chunk size and the same number of threads.
"""
import argparse
import concurrent.futures
import io
import os
import statistics
import tempfile
import threading
import time
import uuid

import openstack
import swiftclient

from ansible_collections.karbor.protection.plugins.module_utils.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.engine import ProtectionEngine
from ansible_collections.karbor.protection.plugins.module_utils.glance_plugin import (
    DEFAULT_CHUNK, DEFAULT_CONCURRENCY, fixed_chunks)

OS_INFRA = 'cf56bd3e-97a7-4078-b6d5-f36246333fd9'


def baseline(conn, image, container):
    """Download from Glance, upload each chunk to Swift with a bounded pool."""
    local = threading.local()

    def swift():
        if not hasattr(local, 'conn'):
            local.conn = swiftclient.Connection(
                session=conn.session,
                os_options={'object_storage_url': conn.object_store.get_endpoint()})
        return local.conn

    slots = threading.Semaphore(DEFAULT_CONCURRENCY * 2)

    def put(index, data):
        try:
            swift().put_object(container, 'chunk-%06d' % index, contents=data,
                               content_length=len(data))
        finally:
            slots.release()

    start = time.monotonic()
    response = conn.image.download_image(image, stream=True)
    with concurrent.futures.ThreadPoolExecutor(DEFAULT_CONCURRENCY) as pool:
        futures = []
        for index, data in enumerate(fixed_chunks(response.iter_content(1024 * 1024),
                                                  DEFAULT_CHUNK)):
            slots.acquire()
            futures.append(pool.submit(put, index, data))
        for future in futures:
            future.result()
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--cloud', default='karbor-a')
    parser.add_argument('--size-mib', type=int, default=256)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    conn = openstack.connect(cloud=args.cloud)
    size = args.size_mib * 1024 * 1024
    data = os.urandom(size)
    image = conn.image.create_image(name='bench-%s' % uuid.uuid4().hex[:6], disk_format='raw',
                                    container_format='bare', allow_duplicates=True)
    image.upload(conn.image, data=io.BytesIO(data), size=size)
    conn.image.wait_for_status(image, 'active', wait=600)
    container = 'bench-baseline-%s' % uuid.uuid4().hex[:6]
    conn.object_store.create_container(container)
    state = tempfile.mkdtemp(prefix='karbor-bench-')
    engine = ProtectionEngine(state_dir=state, cloud=CloudSession({'cloud': args.cloud}))
    plan = engine.create_plan({'name': 'bench', 'provider_id': OS_INFRA,
                               'resources': [{'id': image.id, 'type': 'OS::Glance::Image'}]})
    base_times, protect_times, fractions = [], [], []
    try:
        for _round in range(args.repeat):
            base_times.append(baseline(conn, image, container))
            start = time.monotonic()
            first = engine.protect(plan)
            protect_times.append(time.monotonic() - start)
            assert first.status == 'available', first.data.get('error')
            second = engine.protect(plan)
            fractions.append(second.data['progress']['bytes_uploaded'] / float(size))
            engine.delete_checkpoint(OS_INFRA, second.id)
            engine.delete_checkpoint(OS_INFRA, first.id)
    finally:
        for obj in conn.object_store.objects(container):
            conn.object_store.delete_object(obj, container=container)
        conn.object_store.delete_container(container)
        conn.image.delete_image(image)
    mib = size / 1048576.0
    base = statistics.median(base_times)
    protect = statistics.median(protect_times)
    print('image size %d MiB, chunk %d MiB, %d threads, %d rounds (medians)'
          % (args.size_mib, DEFAULT_CHUNK // 1048576, DEFAULT_CONCURRENCY, args.repeat))
    print('image_protect_throughput_ratio=%.2f (protect %.1f MiB/s, baseline %.1f MiB/s)'
          % (base / protect, mib / protect, mib / base))
    print('second_checkpoint_reupload_fraction=%.4f' % statistics.median(fractions))


if __name__ == '__main__':
    main()
