"""Nova virt driver for the karbor test cloud (copied into nova/virt/).

Nova's fake driver never uploads snapshot data, so createImage images stay
queued. This one uploads a deterministic payload (2 MiB, starting with the
instance uuid) so a server snapshot is a real, downloadable image whose
bytes a test can predict. Built on FakeDriverWithoutFakeNodes so that
nova-compute can restart (its node uuid is persisted).
"""
import hashlib
import io

from nova.image import glance
from nova.virt import fake

PAYLOAD_SIZE = 2 * 1024 * 1024


def snapshot_payload(instance_uuid):
    seed = hashlib.sha256(instance_uuid.encode()).digest()
    header = ('karbor test cloud snapshot of instance %s\n' % instance_uuid).encode()
    body = (seed * (PAYLOAD_SIZE // len(seed) + 1))[:PAYLOAD_SIZE - len(header)]
    return header + body


class SnapshottingFakeDriver(fake.FakeDriverWithoutFakeNodes):

    def snapshot(self, context, instance, image_id, update_task_state):
        super().snapshot(context, instance, image_id, update_task_state)
        images = glance.API()
        current = images.get(context, image_id)
        meta = {'status': 'active', 'name': current['name'], 'disk_format': 'raw',
                'container_format': 'bare',
                'properties': {'image_location': 'snapshot', 'image_state': 'available',
                               'owner_id': instance.project_id}}
        images.update(context, image_id, meta, io.BytesIO(snapshot_payload(instance.uuid)),
                      purge_props=False)
