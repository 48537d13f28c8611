# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded file-system bank.

One file per object: a one-line header with the sha256 and length, then
the bytes. Writes go to a temp file that is fsynced and renamed into place
(or hard-linked, for exclusive create), so a reader never sees half an object
and a crash never leaves one behind under its real name.
"""

from __future__ import annotations

import errno
import os
import uuid
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import Bank
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, BankError, BankUnreachable, Conflict, NotFound)

_MAGIC = b'KBOBJ1'
_TMP = '.tmp'


class LocalBank(Bank):
    """Objects as files under ``root``."""

    kind = 'local'

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))
        try:
            os.makedirs(os.path.join(self.root, _TMP), exist_ok=True)
        except OSError as exc:
            raise BankUnreachable('The local bank folder %s cannot be used (%s); check the path '
                                  'and its permissions.' % (self.root, exc.strerror or exc))

    @classmethod
    def from_provider_config(cls, provider_id: str, section: dict[str, str],
                             config: dict[str, dict[str, str]], state_dir: str,
                             cloud_factory: Callable[[], Any]) -> 'LocalBank':
        """``[file_system_bank_plugin] file_system_bank_path``, else ``<state_dir>/bank``."""
        return cls(section.get('file_system_bank_path') or os.path.join(state_dir, 'bank'))

    def describe(self) -> dict:
        return {'type': self.kind, 'path': self.root}

    def _path(self, key: str) -> str:
        return self.root + key

    def _put(self, key, data, checksum, exclusive, expire_after):
        path = self._path(key)
        tmp = os.path.join(self.root, _TMP, uuid.uuid4().hex)
        header = b'%s %s %d\n' % (_MAGIC, checksum.encode('ascii'), len(data))
        try:
            with open(tmp, 'wb') as handle:
                handle.write(header)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            for _attempt in range(50):
                try:
                    # a concurrent delete may remove an emptied parent folder while
                    # makedirs creates its children, or before the link: make it again
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                except (FileNotFoundError, FileExistsError):
                    continue
                try:
                    if exclusive:
                        os.link(tmp, path)
                    else:
                        os.replace(tmp, path)
                    break
                except FileNotFoundError:
                    continue
                except FileExistsError:
                    raise Conflict('Bank object %s already exists.' % key, key=key)
            else:
                raise BankError('Writing bank object %s to %s failed: its folder kept being '
                                'removed by concurrent deletes.' % (key, self.root))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise BankError('The local bank %s is full: writing %s failed (no space left on '
                                'device). Free space or move the bank.' % (self.root, key))
            raise BankError('Writing bank object %s to %s failed: %s.'
                            % (key, self.root, exc.strerror or exc))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _get(self, key):
        path = self._path(key)
        try:
            with open(path, 'rb') as handle:
                header = handle.readline()
                data = handle.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound('Bank object %s does not exist.' % key, key=key)
        except OSError as exc:
            raise BankUnreachable('Reading bank object %s from %s failed: %s.'
                                  % (key, self.root, exc.strerror or exc))
        parts = header.split()
        if len(parts) != 3 or parts[0] != _MAGIC:
            raise BankCorrupted('Bank object %s is corrupted: its header is missing or damaged.'
                                % key, key=key)
        try:
            length = int(parts[2])
        except ValueError:
            length = -1
        if length != len(data):
            raise BankCorrupted('Bank object %s is corrupted: %d bytes recorded, %d found.'
                                % (key, length, len(data)), key=key)
        return data, parts[1].decode('ascii')

    def _exists(self, key):
        return os.path.isfile(self._path(key))

    def _delete(self, key):
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise BankError('Deleting bank object %s failed: %s.' % (key, exc.strerror or exc))
        parent = os.path.dirname(path)
        while parent != self.root and parent.startswith(self.root):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)
        return True

    def _list(self, prefix, marker, limit, reverse):
        """Walk only the folders the prefix can match, in order, stopping at ``limit``."""
        if prefix.endswith('/'):
            base, start = prefix.rstrip('/'), ''
        else:
            base, _sep, start = prefix.rpartition('/')
        result: list[str] = []

        def after_marker(key: str) -> bool:
            if marker is None:
                return True
            return key < marker if reverse else key > marker

        def may_contain(folder_key: str) -> bool:
            """Can a key below ``folder_key`` still come after the marker?"""
            if marker is None:
                return True
            if reverse:
                return folder_key < marker
            return folder_key + '/\U0010ffff' > marker

        def walk(folder_key: str, name_filter: str) -> bool:
            try:
                with os.scandir(self.root + folder_key if folder_key else self.root) as entries:
                    items = [(e.name + '/' if e.is_dir() else e.name) for e in entries
                             if e.name.startswith(name_filter) and not e.name.startswith('.')]
            except (FileNotFoundError, NotADirectoryError):
                return True
            except OSError as exc:
                raise BankUnreachable('Listing the local bank %s failed: %s.'
                                      % (self.root, exc.strerror or exc))
            # Sort as full keys sort: a folder "a" orders as "a/".
            for item in sorted(items, reverse=reverse):
                if item.endswith('/'):
                    key = folder_key + '/' + item[:-1]
                    if may_contain(key) and not walk(key, ''):
                        return False
                    continue
                key = folder_key + '/' + item
                if after_marker(key):
                    result.append(key)
                    if limit is not None and len(result) >= limit:
                        return False
            return True

        walk(base, start)
        return result
