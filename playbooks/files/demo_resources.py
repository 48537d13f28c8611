"""Sample resources for playbooks/demo.yml (openstacksdk, the cloud in OS_CLOUD).

  demo_resources.py create NAME   -> JSON {volume_id, image_id, image_sha256}
  demo_resources.py delete JSON    delete what create made
  demo_resources.py check JSON     JSON facts about restored resources
"""
import hashlib
import io
import json
import sys

import openstack


def main():
    conn = openstack.connect()
    action, arg = sys.argv[1], sys.argv[2]
    if action == 'create':
        data = (b'karbor.protection demo image ' * 40000)[:1024 * 1024]
        volume = conn.block_storage.create_volume(size=1, name=arg + '-volume')
        image = conn.image.create_image(name=arg + '-image', disk_format='raw',
                                        container_format='bare', allow_duplicates=True)
        image.upload(conn.image, data=io.BytesIO(data), size=len(data))
        conn.block_storage.wait_for_status(volume, 'available', failures=['error'], wait=300)
        conn.image.wait_for_status(image, 'active', failures=['killed'], wait=300)
        print(json.dumps({'volume_id': volume.id, 'image_id': image.id,
                          'image_sha256': hashlib.sha256(data).hexdigest()}))
    elif action == 'delete':
        made = json.loads(arg)
        conn.block_storage.delete_volume(made['volume_id'], ignore_missing=True)
        conn.image.delete_image(made['image_id'], ignore_missing=True)
        print(json.dumps({'deleted': [made['volume_id'], made['image_id']]}))
    elif action == 'check':
        ids = json.loads(arg)
        volume = conn.block_storage.get_volume(ids['volume_id'])
        data = conn.image.download_image(ids['image_id']).content
        print(json.dumps({'volume': {'id': volume.id, 'name': volume.name, 'status': volume.status},
                          'image_sha256': hashlib.sha256(data).hexdigest()}))


if __name__ == '__main__':
    main()
