# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenStack connection, opened lazily from openstack.cloud-style options."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    KarborError, InvalidInput, ResourceTimeout, NotFound)

# openstacksdk is imported on first use (import_openstack(), from CloudSession._connect),
# not here: importing it takes about a third of a second, which every module run paid even
# when it never reached the cloud (provider_info, the No-Op provider, check mode).

SDK_MISSING = ('The openstacksdk Python library is required to reach the cloud; '
               'install it (pip install openstacksdk).')


def import_openstack():
    """The ``openstack`` package, imported now; KarborError when it is missing."""
    try:
        import openstack
    except ImportError as exc:
        if getattr(exc, 'name', None) == 'openstack':
            raise KarborError(SDK_MISSING)
        raise KarborError('%s Importing it failed: %s' % (SDK_MISSING, exc))
    return openstack


AUTH_OPTIONS = ('cloud', 'auth', 'auth_type', 'region_name', 'validate_certs', 'ca_cert',
                'client_cert', 'client_key', 'api_timeout', 'interface')


def is_not_found(exc: BaseException) -> bool:
    # An SDK exception exists only once the SDK is imported: never import it here.
    sdk_exceptions = sys.modules.get('openstack.exceptions')
    return sdk_exceptions is not None and isinstance(exc, sdk_exceptions.NotFoundException)


def describe_sdk_error(exc: BaseException) -> str:
    """A one-line message from an SDK exception, with the server's details."""
    details = getattr(exc, 'details', None)
    message = str(getattr(exc, 'message', '') or exc)
    if details and details not in message:
        message = '%s (%s)' % (message, details)
    return message


class CloudSession:
    """One connection per module run, created on first use (thread-safe)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = {k: params.get(k) for k in AUTH_OPTIONS}
        self._conn = None
        self._lock = threading.Lock()

    @property
    def conn(self):
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            return self._conn

    def _connect(self):
        openstack = import_openstack()
        p = self.params
        cloud = p.get('cloud')
        try:
            if isinstance(cloud, dict):
                clashing = [k for k in ('auth', 'auth_type', 'region_name', 'validate_certs',
                                        'ca_cert', 'client_cert', 'client_key', 'api_timeout')
                            if p.get(k) is not None]
                if clashing:
                    raise InvalidInput('When cloud is a dict, do not also set %s; put them in the '
                                       'cloud dict.' % ', '.join(clashing))
                return openstack.connect(**cloud)
            kwargs = dict(cloud=cloud, auth_type=p.get('auth_type'), auth=p.get('auth'),
                          region_name=p.get('region_name'), verify=p.get('validate_certs'),
                          cacert=p.get('ca_cert'), cert=p.get('client_cert'),
                          key=p.get('client_key'), api_timeout=p.get('api_timeout'),
                          interface=p.get('interface') or 'public')
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            conn = openstack.connect(**kwargs)
            conn.authorize()
            return conn
        except KarborError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise KarborError('Cannot connect to the cloud%s: %s. Check cloud/auth options, '
                              'clouds.yaml (OS_CLIENT_CONFIG_FILE) and that the identity '
                              'service is reachable.' % (
                                  ' %r' % cloud if isinstance(cloud, str) else '',
                                  describe_sdk_error(exc)))

    def reset(self) -> None:
        """Forget the connection (a forked child must not share its sockets)."""
        with self._lock:
            self._conn = None

    @property
    def project_id(self) -> str:
        project = self.conn.current_project_id
        if not project:
            raise KarborError('The cloud credentials are not scoped to a project; set a '
                              'project_name/project_id in auth.')
        return project

    @property
    def project_name(self) -> str:
        try:
            return self.conn.current_project.name or ''
        except Exception:  # pylint: disable=broad-except
            return ''

    def configured(self) -> bool:
        """Whether any cloud is named by the options, OS_* variables or a clouds.yaml."""
        if self.params.get('cloud') or self.params.get('auth'):
            return True
        import_openstack()
        from openstack.config import loader  # pylint: disable=import-outside-toplevel
        try:
            names = loader.OpenStackConfig().get_cloud_names()
        except Exception as exc:  # pylint: disable=broad-except
            raise KarborError('Cannot read the clouds.yaml (OS_CLIENT_CONFIG_FILE): %s'
                              % describe_sdk_error(exc))
        return any(name != 'defaults' for name in names)

    def has_service(self, service_type: str) -> bool:
        """Whether the cloud's service catalog has an endpoint of this type."""
        return bool(self.call('Reading the service catalog', self.conn.has_service, service_type))

    def call(self, what: str, func: Callable, *args, **kwargs):
        """Run an SDK call, turning SDK errors into KarborError with context."""
        try:
            return func(*args, **kwargs)
        except KarborError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            status = getattr(exc, 'status_code', None)
            if is_not_found(exc):
                raise NotFound('%s: not found (%s).' % (what, describe_sdk_error(exc)),
                               http_status=status)
            raise KarborError('%s failed: %s' % (what, describe_sdk_error(exc)), http_status=status)


def wait_for(what: str, fetch: Callable[[], Any], ready: Callable[[Any], bool],
             failed: Callable[[Any], str | None], timeout: float, interval: float = 1.0,
             max_interval: float = 5.0) -> Any:
    """Poll ``fetch`` until ``ready``; raise on ``failed`` or after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        value = fetch()
        if ready(value):
            return value
        reason = failed(value)
        if reason:
            raise KarborError('%s failed: %s' % (what, reason))
        if time.monotonic() + delay > deadline:
            raise ResourceTimeout('Timed out after %ds waiting for %s; raise the timeout option '
                                  'or check the service.' % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 1.5, max_interval)
