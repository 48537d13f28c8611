"""Cinder volume driver for the karbor test cloud: volumes are sparse files.

The sandbox kernel has no device-mapper, iSCSI, NVMe-oF or NFS, so the
backend is a folder of files and attachment uses os-brick's ``local``
connector (the device path is the file). cinder-volume, cinder-backup and
nova-compute run on one host, so the real backup, restore, snapshot, clone
and attach code paths run unchanged on top of it.
"""
import os
import shutil

from oslo_config import cfg
from oslo_utils import units

from cinder import interface
from cinder.volume import configuration
from cinder.volume import driver

OPTS = [
    cfg.StrOpt('karbor_volume_dir', default='/tmp/karbor-cloud/data/cinder/volumes',
               help='Folder of the volume and snapshot files.'),
    cfg.IntOpt('karbor_capacity_gb', default=500, help='Capacity reported to the scheduler.'),
]
cfg.CONF.register_opts(OPTS, group=configuration.SHARED_CONF_GROUP)


def _sparse_copy(src, dst, size_gb=None):
    """Copy a file keeping holes, then grow it to size_gb."""
    with open(src, 'rb') as fin, open(dst, 'wb') as fout:
        while True:
            block = fin.read(1024 * 1024)
            if not block:
                break
            if block.count(0) == len(block):
                fout.seek(len(block), os.SEEK_CUR)
            else:
                fout.write(block)
        fout.truncate(max(fout.tell(), (size_gb or 0) * units.Gi))


@interface.volumedriver
class SparseFileDriver(driver.VolumeDriver):
    VERSION = '1.0'
    CI_WIKI_NAME = 'N/A'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(OPTS)
        self.root = self.configuration.karbor_volume_dir

    def do_setup(self, context):
        os.makedirs(self.root, exist_ok=True)

    def check_for_setup_error(self):
        if not os.path.isdir(self.root):
            raise RuntimeError('volume folder %s is missing' % self.root)

    def local_path(self, volume, vg=None):
        return os.path.join(self.root, 'volume-%s' % volume.id)

    def _snapshot_path(self, snapshot):
        return os.path.join(self.root, 'snapshot-%s' % snapshot.id)

    def _grow(self, path, size_gb):
        # cinder-backup restores with open(path, 'wb'), truncating the file
        with open(path, 'ab') as handle:
            if handle.seek(0, os.SEEK_END) < size_gb * units.Gi:
                handle.truncate(size_gb * units.Gi)

    def create_volume(self, volume):
        with open(self.local_path(volume), 'wb') as handle:
            handle.truncate(volume.size * units.Gi)
        return {}

    def delete_volume(self, volume):
        if os.path.exists(self.local_path(volume)):
            os.unlink(self.local_path(volume))

    def extend_volume(self, volume, new_size):
        self._grow(self.local_path(volume), new_size)

    def create_snapshot(self, snapshot):
        _sparse_copy(self.local_path(snapshot.volume), self._snapshot_path(snapshot))

    def delete_snapshot(self, snapshot):
        if os.path.exists(self._snapshot_path(snapshot)):
            os.unlink(self._snapshot_path(snapshot))

    def create_volume_from_snapshot(self, volume, snapshot):
        _sparse_copy(self._snapshot_path(snapshot), self.local_path(volume), volume.size)
        return {}

    def create_cloned_volume(self, volume, src_vref):
        _sparse_copy(self.local_path(src_vref), self.local_path(volume), volume.size)
        return {}

    def revert_to_snapshot(self, context, volume, snapshot):
        shutil.copyfile(self._snapshot_path(snapshot), self.local_path(volume))
        self._grow(self.local_path(volume), volume.size)

    def create_export(self, context, volume, connector):
        return {}

    def ensure_export(self, context, volume):
        return {}

    def remove_export(self, context, volume):
        self._grow(self.local_path(volume), volume.size)

    def create_export_snapshot(self, context, snapshot, connector):
        return {}

    def remove_export_snapshot(self, context, snapshot):
        return None

    def initialize_connection(self, volume, connector, **kwargs):
        return {'driver_volume_type': 'local', 'data': {'device_path': self.local_path(volume)}}

    def initialize_connection_snapshot(self, snapshot, connector, **kwargs):
        return {'driver_volume_type': 'local',
                'data': {'device_path': self._snapshot_path(snapshot)}}

    def terminate_connection(self, volume, connector, **kwargs):
        self._grow(self.local_path(volume), volume.size)

    def terminate_connection_snapshot(self, snapshot, connector, **kwargs):
        return None

    def _update_volume_stats(self):
        capacity = self.configuration.karbor_capacity_gb
        self._stats = {
            'volume_backend_name': self.configuration.safe_get('volume_backend_name') or 'file',
            'vendor_name': 'karbor-test-cloud', 'driver_version': self.VERSION,
            'storage_protocol': 'local', 'total_capacity_gb': capacity,
            'free_capacity_gb': capacity, 'reserved_percentage': 0,
            'thin_provisioning_support': True, 'thick_provisioning_support': False,
            'max_over_subscription_ratio': 20.0, 'multiattach': False,
        }
