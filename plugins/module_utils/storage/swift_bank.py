# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Swift bank (python-swiftclient), one container per provider.

The sha256 of each object travels in ``X-Object-Meta-Sha256``; exclusive
creates use ``If-None-Match: *``; leases use ``X-Delete-After`` and are also
checked against ``X-Delete-At`` on read, so they expire even where Swift's
object expirer does not run. Listings are bounded (prefix, marker, limit,
``reverse``): Karbor's descending listing returned everything, ascending.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.storage.bank import (
    Bank, StoredObject, check_sha256, copy_incomplete, normalize_key)
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    BankCorrupted, BankError, BankUnreachable, Conflict, NotFound, InvalidInput, KarborError)

try:
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import generic as ks_identity
except ImportError:  # comes with openstacksdk; only [swift_client] keystone auth needs it
    ks_session = None
    ks_identity = None

try:
    import swiftclient
    from swiftclient.exceptions import ClientException
    HAS_SWIFTCLIENT = True
except ImportError:
    swiftclient = None

    class ClientException(Exception):  # type: ignore[no-redef]
        """Stand-in so the except clauses below stay valid without swiftclient."""
    HAS_SWIFTCLIENT = False

CHECKSUM_HEADER = 'x-object-meta-sha256'
_MD5_RE = re.compile(r'^[0-9a-f]{32}$')
# How long a claim waits for competing PUTs to land: a multiple of its own
# PUT's time, within these bounds (restic waits 200 ms for the same reason).
CLAIM_SETTLE_FACTOR = 4
CLAIM_SETTLE_MIN = 0.2
CLAIM_SETTLE_MAX = 5.0


def _keystone_connection(client: dict[str, str], retries: int, backoff: int):
    """A swiftclient Connection for a [swift_client] account with keystone (v2/v3) auth.

    swiftclient authenticates against keystone only through python-keystoneclient, which is
    not a requirement; a keystoneauth1 session (openstacksdk's own) does the same job."""
    where = client['swift_auth_url']
    if ks_session is None:
        raise BankError('The keystoneauth1 library (installed with openstacksdk) is required '
                        'for the Swift bank account of [swift_client] %s.' % where)
    insecure = client.get('swift_auth_insecure', 'false').lower() == 'true'
    auth = ks_identity.Password(
        auth_url=where, username=client.get('swift_user'), password=client.get('swift_key'),
        project_name=client.get('swift_tenant_name'),
        project_domain_name=client.get('swift_project_domain_name', 'Default'),
        user_domain_name=client.get('swift_user_domain_name', 'Default'))
    session = ks_session.Session(auth=auth, verify=False if insecure else (
        client.get('swift_ca_cert_file') or True))
    try:
        endpoint = session.get_endpoint(service_type='object-store', interface='public',
                                        region_name=client.get('swift_region_name'))
    except Exception as exc:  # pylint: disable=broad-except
        raise BankUnreachable('The Swift bank (%s) is unreachable: keystone did not give an '
                              'object-store endpoint for [swift_client] swift_user %s: %s'
                              % (where, client.get('swift_user'), exc))
    if not endpoint:
        raise BankUnreachable('The Swift bank account of [swift_client] %s has no object-store '
                              'endpoint in the catalog.' % where)
    return swiftclient.Connection(session=session, retries=retries, starting_backoff=backoff,
                                  os_options={'object_storage_url': endpoint})


class SwiftBank(Bank):
    """Objects in one Swift container; a swiftclient Connection per thread."""

    kind = 'swift'
    supports_expiry = True

    def __init__(self, container: str, connection_factory: Callable[[], Any],
                 description: str = '') -> None:
        if not HAS_SWIFTCLIENT:
            raise BankError('The python-swiftclient library is required for a Swift bank; '
                            'install it (pip install python-swiftclient).')
        self.container = validate_container_name(container)
        self._factory = connection_factory
        self._local = threading.local()
        self._description = description
        self._container_ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_provider_config(cls, provider_id: str, section: dict[str, str],
                             config: dict[str, dict[str, str]], state_dir: str,
                             cloud_factory: Callable[[], Any]) -> 'SwiftBank':
        """``[swift_bank_plugin]`` names the container; ``[swift_client]`` the
        account, else the cloud's own object store."""
        client = config.get('swift_client', {})
        container = section.get('bank_swift_object_container') or 'karbor-%s' % provider_id
        retries = int(client.get('swift_retry_attempts', 3))
        backoff = int(client.get('swift_retry_backoff', 2))
        if client.get('swift_auth_url') and \
                str(client.get('swift_auth_version', '3')).startswith('1'):
            def factory():
                return swiftclient.Connection(
                    authurl=client['swift_auth_url'], user=client.get('swift_user'),
                    key=client.get('swift_key'), auth_version='1',
                    retries=retries, starting_backoff=backoff,
                    cacert=client.get('swift_ca_cert_file') or None,
                    insecure=client.get('swift_auth_insecure', 'false').lower() == 'true')
            where = client['swift_auth_url']
        elif client.get('swift_auth_url'):
            def factory():
                return _keystone_connection(client, retries, backoff)
            where = client['swift_auth_url']
        else:
            def factory():
                cloud = cloud_factory()
                conn = cloud.conn
                try:
                    endpoint = conn.object_store.get_endpoint()
                except Exception as exc:  # pylint: disable=broad-except
                    raise BankUnreachable('The cloud has no object-store endpoint for the Swift '
                                          'bank (%s); configure [swift_client] in the provider '
                                          'file or use a local bank.' % exc)
                return swiftclient.Connection(session=conn.session, retries=retries,
                                              starting_backoff=backoff,
                                              os_options={'object_storage_url': endpoint})
            where = "the cloud's object store"
        return cls(container, factory, description=where)

    def describe(self) -> dict:
        return {'type': self.kind, 'container': self.container, 'endpoint': self._description}

    def reset(self) -> None:
        self._local = threading.local()

    # -- connection -------------------------------------------------------------
    def _conn(self):
        conn = getattr(self._local, 'conn', None)
        if conn is None:
            conn = self._factory()
            self._local.conn = conn
        if not self._container_ready:
            with self._lock:
                if not self._container_ready:
                    self._call('creating container %s' % self.container,
                               conn.put_container, self.container)
                    self._container_ready = True
        return conn

    def _call(self, what: str, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ClientException as exc:
            status = getattr(exc, 'http_status', None)
            if status == 404:
                raise NotFound('Bank object not found while %s.' % what)
            if status == 412:
                raise Conflict('Bank object already exists (%s).' % what)
            if status == 422:
                raise BankCorrupted('The Swift bank refused the bytes it received while %s: '
                                    'their MD5 is not the ETag sent with them (HTTP 422).'
                                    % what)
            if status in (507, 413):
                raise BankError('The Swift bank is full or over quota while %s (HTTP %s); free '
                                'space or raise the quota.' % (what, status))
            if status is None:
                raise BankUnreachable('The Swift bank (%s) is unreachable while %s: %s.'
                                      % (self._description, what, exc))
            raise BankError('The Swift bank failed while %s: HTTP %s %s.'
                            % (what, status, getattr(exc, 'http_reason', '') or exc))
        except KarborError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise BankUnreachable('The Swift bank (%s) is unreachable while %s: %s.'
                                  % (self._description, what, exc))

    @staticmethod
    def _name(key: str) -> str:
        return key.lstrip('/')

    # -- primitives ---------------------------------------------------------------
    def _put(self, key, data, checksum, exclusive, expire_after, etag=None):
        """One PUT; with ``etag`` (an MD5) Swift stores the object only if the
        bytes it received have it (HTTP 422 otherwise: BankCorrupted)."""
        headers = {'X-Object-Meta-Sha256': checksum}
        if exclusive:
            headers['If-None-Match'] = '*'
        if expire_after:
            headers['X-Delete-After'] = str(int(expire_after))
        try:
            self._call('writing %s' % key, self._conn().put_object, self.container,
                       self._name(key), contents=data, content_length=len(data), headers=headers,
                       etag=etag)
        except Conflict:
            raise Conflict('Bank object %s already exists.' % key, key=key)

    def _claim(self, key, data, checksum):
        """Swift checks ``If-None-Match: *`` when a PUT arrives and commits
        it later, so two PUTs that arrive together both succeed (measured: 37
        of 100 simultaneous pairs on the test cloud); the object left is the
        one with the newest timestamp. Each claim carries a token; after
        waiting out the other PUTs in flight, the caller whose token the
        object holds has won (a retried PUT that finds its own claim has won
        too)."""
        token = uuid.uuid4().hex
        headers = {'X-Object-Meta-Sha256': checksum, 'X-Object-Meta-Claim': token,
                   'If-None-Match': '*'}
        started = time.monotonic()
        try:
            self._call('claiming %s' % key, self._conn().put_object, self.container,
                       self._name(key), contents=data, content_length=len(data), headers=headers)
        except Conflict:
            if self._claim_holder(key) != token:
                raise Conflict('Bank object %s already exists.' % key, key=key)
        # A competing PUT passed its check before ours was committed; it takes
        # about as long as ours did to commit.
        time.sleep(min(CLAIM_SETTLE_MAX, max(CLAIM_SETTLE_MIN,
                                             CLAIM_SETTLE_FACTOR * (time.monotonic() - started))))
        if self._claim_holder(key) != token:
            raise Conflict('Bank object %s was claimed by another run at the same moment.' % key,
                           key=key)

    def _claim_holder(self, key: str) -> str | None:
        try:
            headers = self._call('checking %s' % key, self._conn().head_object, self.container,
                                 self._name(key), headers={'X-Newest': 'true'})
        except NotFound:
            return None
        return headers.get('x-object-meta-claim')

    @staticmethod
    def _expired(headers: dict) -> bool:
        delete_at = headers.get('x-delete-at')
        try:
            return bool(delete_at) and float(delete_at) <= time.time()
        except ValueError:
            return False

    def _get_object(self, key: str) -> tuple[dict, bytes]:
        """One GET: the response headers and the bytes; NotFound when absent or expired."""
        try:
            headers, body = self._call('reading %s' % key, self._conn().get_object,
                                       self.container, self._name(key))
        except NotFound:
            raise NotFound('Bank object %s does not exist.' % key, key=key)
        if self._expired(headers):
            raise NotFound('Bank object %s has expired.' % key, key=key)
        return headers, body

    def _get(self, key):
        headers, body = self._get_object(key)
        return body, headers.get(CHECKSUM_HEADER, '')

    def read_stored(self, key: str) -> StoredObject:
        """One GET, the sha256 checked; the ETag is the MD5 Swift computed
        when the object was written (a plain object: our PUTs make no large
        objects), for ``write_stored`` to send along."""
        key = normalize_key(key)
        headers, body = self._get_object(key)
        check_sha256(key, body, headers.get(CHECKSUM_HEADER, ''))
        etag = str(headers.get('etag') or '').strip('"').lower()
        large = 'x-static-large-object' in headers or 'x-object-manifest' in headers
        return StoredObject(body, headers.get(CHECKSUM_HEADER, ''),
                            etag if _MD5_RE.match(etag) and not large else None)

    def write_stored(self, key: str, obj: StoredObject) -> None:
        """One PUT that Swift checks itself: with an ETag (the source's MD5,
        else the bytes' own) it stores the object only if the bytes it
        received have that MD5 (otherwise HTTP 422: BankCorrupted), so
        nothing is read back. The sha256 was checked on the bytes read."""
        key = normalize_key(key)
        try:
            self._put(key, obj.data, obj.sha256, False, None, etag=obj.md5 or _md5_hex(obj.data))
        except BankCorrupted as exc:
            raise copy_incomplete(key, 'the target Swift refused what it received (%s)'
                                  % exc.msg)

    def _exists(self, key):
        try:
            headers = self._call('checking %s' % key, self._conn().head_object,
                                 self.container, self._name(key))
        except NotFound:
            return False
        return not self._expired(headers)

    def stat(self, key: str) -> tuple[str, int] | None:
        """One HEAD: the recorded sha256 and the size, without reading the bytes."""
        name = self._name(normalize_key(key))
        try:
            headers = self._call('checking %s' % key, self._conn().head_object,
                                 self.container, name)
        except NotFound:
            return None
        if self._expired(headers):
            return None
        return headers.get(CHECKSUM_HEADER, ''), int(headers.get('content-length') or 0)

    def location(self) -> str:
        """The account's storage URL (it names the project) and the container."""
        url, _token = self._call('authenticating', self._conn().get_auth)
        return '%s/%s' % (str(url).rstrip('/'), self.container)

    def _delete(self, key):
        try:
            self._call('deleting %s' % key, self._conn().delete_object, self.container,
                       self._name(key))
            return True
        except NotFound:
            return False

    def _list(self, prefix, marker, limit, reverse):
        query = 'reverse=on' if reverse else None
        result: list[str] = []
        swift_marker = self._name(marker) if marker else None
        while True:
            page = min(limit - len(result), 10000) if limit else 10000
            _headers, listing = self._call(
                'listing %s' % prefix, self._conn().get_container, self.container,
                prefix=self._name(prefix), marker=swift_marker, limit=page,
                query_string=query)
            names = [item['name'] for item in listing]
            result.extend('/' + name for name in names)
            if len(names) < page or (limit and len(result) >= limit):
                return result
            swift_marker = names[-1]


def _md5_hex(data: bytes) -> str:
    """The MD5 Swift checks a PUT against (a transfer check, not a security one)."""
    try:
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    except TypeError:  # Python < 3.9
        return hashlib.md5(data).hexdigest()  # nosec


def validate_container_name(name: str) -> str:
    if not name or '/' in name or len(name.encode('utf-8')) > 256:
        raise InvalidInput('Swift container name %r is not valid: set bank_swift_object_container '
                           'to 1-256 bytes without "/".' % (name,))
    return name
