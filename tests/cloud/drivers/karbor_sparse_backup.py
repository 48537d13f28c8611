"""Cinder backup driver for the karbor test cloud: backups are sparse files.

Used by the opt-in ``bench`` availability zone (KARBOR_CLOUD_BENCH_AZ=1
tests/cloud/up). Its cost is proportional to the data a volume holds, as
with Ceph RBD diff backups, instead of to the volume size, as with Cinder's
chunked drivers (Swift, posix), which read, hash and compress every byte.

Each backup is two files in ``karbor_sparse_backup_dir``:

- ``<backup id>``: a sparse file of the volume's size holding, at their own
  offsets, the blocks this backup stores (``stored``);
- ``<backup id>.json``: the manifest: ``size``, ``map`` (the volume's
  non-zero blocks at backup time, merged into [offset, length] extents),
  ``stored`` (the extents whose bytes are in this backup's file), the sha256 of
  those bytes (in ``stored`` order), ``parent_id`` and the volume's metadata.

A full backup stores its whole ``map``. An incremental one (``parent_id``
set) stores only the blocks whose bytes differ from the parent chain's
content. Content of a backup B at offset x: 0 if x is outside B's ``map``; B's
file if x is in B's ``stored``; else the parent's content at x. A restore
applies the chain from the full backup up: write its ``stored``; for each
next backup, zero what its ``map`` no longer holds, then write its
``stored``. The sha256 of every backup in the chain is checked before the
target is written.

Only data extents are read (os.lseek SEEK_DATA/SEEK_HOLE on the volume's fd;
without a usable fd, reads in blocks), and all-zero blocks count as holes.
"""
import bisect
import errno
import hashlib
import json
import os
import stat

from eventlet import tpool
from oslo_config import cfg
from oslo_log import log as logging

from cinder.backup import driver
from cinder import exception
from cinder import interface

LOG = logging.getLogger(__name__)

OPTS = [
    cfg.StrOpt('karbor_sparse_backup_dir', default='$state_path/sparse-backups',
               help='Folder of the sparse backup files and their manifests.'),
]
cfg.CONF.register_opts(OPTS)

BLOCK = 64 * 1024  # granularity of zero detection and of incremental diffs
READ = 16 * BLOCK  # bytes read per call
ZERO = bytes(BLOCK)


def _merge(extents):
    """Sorted, merged [offset, length] extents."""
    merged = []
    for offset, length in sorted(extents):
        if merged and offset <= merged[-1][0] + merged[-1][1]:
            end = max(merged[-1][0] + merged[-1][1], offset + length)
            merged[-1][1] = end - merged[-1][0]
        elif length > 0:
            merged.append([offset, length])
    return merged


def _subtract(extents, minus):
    """The parts of extents (merged) outside minus (merged)."""
    result = []
    for offset, length in extents:
        start, end = offset, offset + length
        for m_off, m_len in minus:
            m_end = m_off + m_len
            if m_end <= start or m_off >= end:
                continue
            if m_off > start:
                result.append([start, m_off - start])
            start = max(start, m_end)
            if start >= end:
                break
        if start < end:
            result.append([start, end - start])
    return result


def _intersect(extents, offset, length):
    """The parts of extents (merged) within [offset, offset + length)."""
    end = offset + length
    starts = [e[0] for e in extents]
    index = max(bisect.bisect_right(starts, offset) - 1, 0)
    result = []
    for e_off, e_len in extents[index:]:
        if e_off >= end:
            break
        lo, hi = max(e_off, offset), min(e_off + e_len, end)
        if lo < hi:
            result.append((lo, hi - lo))
    return result


class _Source:
    """Reads a volume file: by fd (pread, SEEK_DATA) when it has one."""

    def __init__(self, volume_file):
        self.file = getattr(volume_file, '_obj', volume_file)  # past tpool.Proxy
        self.fd = None
        try:
            self.fd = self.file.fileno()
            self.size = os.fstat(self.fd).st_size
            if not self.size:  # a block device
                self.size = os.lseek(self.fd, 0, os.SEEK_END)
        except (AttributeError, OSError, ValueError):
            self.fd = None
            self.size = self.file.seek(0, os.SEEK_END)

    def data_extents(self):
        """Where the data may be: SEEK_DATA/SEEK_HOLE, else everything."""
        if self.fd is None:
            return [[0, self.size]]
        extents, offset = [], 0
        while offset < self.size:
            try:
                start = os.lseek(self.fd, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no data after offset
                    break
                if exc.errno == errno.EINVAL:  # not supported
                    return [[offset, self.size - offset]] + extents
                raise
            end = min(os.lseek(self.fd, start, os.SEEK_HOLE), self.size)
            extents.append([start, end - start])
            offset = end
        return extents

    def read(self, offset, length):
        if self.fd is not None:
            return os.pread(self.fd, length, offset)
        self.file.seek(offset)
        return self.file.read(length)

    def blocks(self):
        """(offset, bytes) of every non-zero BLOCK-aligned block."""
        done = 0  # two data extents may share a block: read it once
        for offset, length in self.data_extents():
            start = max(offset - offset % BLOCK, done)
            end = offset + length
            while start < end:
                chunk = self.read(start, min(READ, self.size - start))
                if not chunk:
                    break
                for index in range(0, len(chunk), BLOCK):
                    block = chunk[index:index + BLOCK]
                    if block != ZERO[:len(block)]:
                        yield start + index, block
                start += len(chunk)
            done = max(done, start)


@interface.backupdriver
class SparseBackupDriver(driver.BackupDriver):
    """Backups as sparse files with a manifest; incremental by block diff."""

    def __init__(self, context):
        super().__init__(context)
        self.root = cfg.CONF.karbor_sparse_backup_dir

    @staticmethod
    def get_driver_options():
        return OPTS

    def check_for_setup_error(self):
        os.makedirs(self.root, exist_ok=True)

    # -- files ----------------------------------------------------------------
    def _data_path(self, backup_id):
        return os.path.join(self.root, backup_id)

    def _manifest(self, backup_id):
        try:
            with open(self._data_path(backup_id) + '.json') as handle:
                return json.load(handle)
        except FileNotFoundError:
            raise exception.InvalidBackup(
                reason='no sparse backup %s in %s' % (backup_id, self.root))

    def _chain(self, backup_id):
        """Manifests from the full backup up to backup_id."""
        chain = []
        while backup_id:
            manifest = self._manifest(backup_id)
            chain.append(manifest)
            backup_id = manifest.get('parent_id')
        return chain[::-1]

    def _check(self, manifest):
        """Checks the sha256 of a backup's stored bytes (read in READ pieces)."""
        digest = hashlib.sha256()
        for _offset, data in self._pieces(manifest):
            digest.update(data)
        if digest.hexdigest() != manifest['sha256']:
            raise exception.InvalidBackup(
                reason='sparse backup %s: sha256 mismatch' % manifest['id'])

    def _pieces(self, manifest):
        """(offset, bytes) of a backup's stored extents, READ bytes at most each."""
        with open(self._data_path(manifest['id']), 'rb') as handle:
            fd = handle.fileno()
            for offset, length in manifest['stored']:
                done = 0
                while done < length:
                    data = os.pread(fd, min(READ, length - done), offset + done)
                    if not data:
                        raise exception.InvalidBackup(
                            reason='sparse backup %s is short at %d'
                            % (manifest['id'], offset + done))
                    yield offset + done, data
                    done += len(data)

    # -- backup -----------------------------------------------------------------
    def backup(self, backup, volume_file, backup_metadata=False):
        metadata = None
        try:
            metadata = self.get_metadata(backup.volume_id)
        except Exception:  # pylint: disable=broad-except
            LOG.warning('sparse backup %s: no volume metadata saved', backup.id, exc_info=True)
        manifest = tpool.execute(self._backup, backup.id, backup.parent_id, volume_file)
        manifest['volume_meta'] = metadata
        path = self._data_path(backup.id) + '.json'
        with open(path + '.tmp', 'w') as handle:
            json.dump(manifest, handle)
        os.rename(path + '.tmp', path)
        LOG.info('sparse backup %s: %d bytes of data, %d stored (parent %s)',
                 backup.id, sum(e[1] for e in manifest['map']),
                 sum(e[1] for e in manifest['stored']), backup.parent_id)
        return {}

    def _backup(self, backup_id, parent_id, volume_file):
        os.makedirs(self.root, exist_ok=True)
        source = _Source(volume_file)
        parent = None
        if parent_id:
            chain = self._chain(parent_id)
            for manifest in chain:
                self._check(manifest)
            parent = _ChainReader(chain, [self._data_path(m['id']) for m in chain])
        digest = hashlib.sha256()
        mapped, stored = [], []
        try:
            with open(self._data_path(backup_id), 'wb') as out:
                fd = out.fileno()
                for offset, block in source.blocks():
                    mapped.append([offset, len(block)])
                    if parent is not None and parent.read(offset, len(block)) == block:
                        continue
                    os.pwrite(fd, block, offset)
                    digest.update(block)
                    stored.append([offset, len(block)])
                out.truncate(source.size)
        finally:
            if parent is not None:
                parent.close()
        return {'id': backup_id, 'parent_id': parent_id, 'size': source.size,
                'block': BLOCK, 'map': _merge(mapped), 'stored': _merge(stored),
                'sha256': digest.hexdigest()}

    # -- restore ------------------------------------------------------------------
    def restore(self, backup, volume_id, volume_file, volume_is_new):
        chain = self._chain(backup.id)
        tpool.execute(self._restore, chain, volume_file, volume_is_new)
        meta = chain[-1].get('volume_meta')
        if meta:
            try:
                self.put_metadata(volume_id, meta)
            except exception.BackupMetadataUnsupportedVersion:
                LOG.error('sparse backup %s: volume metadata not restored', backup.id)
                raise
        LOG.info('sparse backup %s restored to volume %s (chain of %d)',
                 backup.id, volume_id, len(chain))

    def _restore(self, chain, volume_file, volume_is_new):
        for manifest in chain:  # every sha256 first
            self._check(manifest)
        target = getattr(volume_file, '_obj', volume_file)
        size = chain[-1]['size']
        fd, regular = None, False
        try:
            fd = target.fileno()
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except (AttributeError, OSError, ValueError):
            fd = None

        def write(offset, data):
            if fd is not None:
                os.pwrite(fd, data, offset)
            else:
                target.seek(offset)
                target.write(data)

        def zero(extents):
            for offset, length in extents:
                done = 0
                while done < length:
                    step = min(READ, length - done)
                    write(offset + done, bytes(step))
                    done += step

        if regular:
            # every byte outside the data becomes a hole: zero, whatever was there
            os.ftruncate(fd, 0)
            os.ftruncate(fd, size)
        elif not volume_is_new:
            zero(_subtract([[0, size]], chain[0]['map']))
        previous = None
        for manifest in chain:
            if previous is not None:
                zero(_subtract(previous['map'], manifest['map']))
            for offset, data in self._pieces(manifest):
                write(offset, data)
            previous = manifest
        if fd is not None:
            os.fsync(fd)
        else:
            target.flush()

    # -- delete -------------------------------------------------------------------
    def delete_backup(self, backup):
        for path in (self._data_path(backup.id), self._data_path(backup.id) + '.json'):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        LOG.info('sparse backup %s deleted', backup.id)


class _ChainReader:
    """The content of a backup chain at any offset (for incremental diffs)."""

    def __init__(self, chain, paths):
        self.chain = chain
        self.files = [open(path, 'rb') for path in paths]  # pylint: disable=consider-using-with

    def close(self):
        for handle in self.files:
            handle.close()

    def read(self, offset, length):
        buf = bytearray(length)
        for manifest, handle in zip(self.chain, self.files):
            # outside this backup's map the content is zero
            kept = bytearray(length)
            for lo, n in _intersect(manifest['map'], offset, length):
                kept[lo - offset:lo - offset + n] = buf[lo - offset:lo - offset + n]
            buf = kept
            for lo, n in _intersect(manifest['stored'], offset, length):
                buf[lo - offset:lo - offset + n] = os.pread(handle.fileno(), n, lo)
        return bytes(buf)
