# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Glance calls of the image plugin: records, raw downloads, waits and
deletes, each with its error turned into a message that says what to fix."""

from __future__ import annotations

import concurrent.futures

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import wait_for
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    KarborError, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    OperationContext)

READ_BLOCK = 1024 * 1024  # bytes asked of a download at a time

# Glance fields that describe the stored copy or are set by Glance itself;
# everything else (disk/container format, min_disk/min_ram, tags, properties)
# is saved and given to the restored image.
NOT_RESTORED = frozenset((
    'id', 'name', 'status', 'created_at', 'updated_at', 'self', 'file', 'schema', 'owner',
    'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value', 'direct_url',
    'locations', 'stores', 'visibility', 'protected', 'os_hidden', 'image_import_methods',
    'owner_specified.openstack.md5', 'owner_specified.openstack.sha256',
    'owner_specified.openstack.object'))
NOT_RESTORED_PREFIXES = ('os_glance',)


def raise_for_response(response) -> None:
    """The SDK's error for a raw Glance response (imported here, on first use:
    the cloud layer has checked the SDK is there and modules that never
    touch an image do not pay for importing it)."""
    from openstack import exceptions as sdk_exceptions  # pylint: disable=import-outside-toplevel
    sdk_exceptions.raise_from_response(response)


def get_image(ctx: OperationContext, image_id: str):
    return ctx.cloud.call('Image %s' % image_id, ctx.cloud.conn.image.get_image, image_id)


def image_or_none(ctx: OperationContext, image_id: str):
    try:
        return get_image(ctx, image_id)
    except NotFound:
        return None


def image_document(ctx: OperationContext, image_id: str) -> dict:
    """The image exactly as Glance returns it (every property, flat)."""
    def fetch():
        response = ctx.cloud.conn.image.get('/images/%s' % image_id)
        raise_for_response(response)
        return response.json()
    return ctx.cloud.call('Image %s' % image_id, fetch)


def close_response(opened: concurrent.futures.Future) -> None:
    """Close a download that was opened for nothing."""
    if not opened.cancelled() and opened.exception() is None:
        opened.result().close()


def open_image_data(ctx: OperationContext, image_id: str):
    """The image's bytes as a streamed response, in one request (the SDK's
    ``download_image`` first fetches the image record, which the plugin reads
    itself, beside this request)."""
    def fetch():
        response = ctx.cloud.conn.image.get('/images/%s/file' % image_id, stream=True)
        raise_for_response(response)
        if response.status_code != 200:
            response.close()
            raise KarborError('Image %s has no data to download (HTTP %d); is it active?'
                              % (image_id, response.status_code))
        return response
    return ctx.cloud.call('Downloading image %s' % image_id, fetch)


def wait_image_active(ctx: OperationContext, image_id: str, timeout: float):
    return wait_for('image %s' % image_id, lambda: get_image(ctx, image_id),
                    lambda i: i.status == 'active',
                    lambda i: 'image is %s' % i.status if i.status in (
                        'killed', 'deleted', 'deactivated', 'pending_delete') else None,
                    max(1.0, timeout))


def delete_image(ctx: OperationContext, image_id: str) -> None:
    if image_or_none(ctx, image_id) is not None:
        ctx.cloud.call('Deleting image %s' % image_id, ctx.cloud.conn.image.delete_image,
                       image_id, ignore_missing=True)


def images_named(ctx: OperationContext, name: str) -> list[str]:
    conn = ctx.cloud.conn
    return [i.id for i in ctx.cloud.call('Listing images named %s' % name,
                                         lambda: list(conn.image.images(name=name)))]


def snapshot_name(checkpoint_id: str, server_id: str) -> str:
    return 'karbor-snapshot-%s-%s' % (checkpoint_id, server_id)


def saved_image_metadata(document: dict) -> dict:
    """What the restore needs and shows: Glance's hashes plus every property
    the restored image should carry."""
    properties = {k: v for k, v in document.items()
                  if k not in NOT_RESTORED and not k.startswith(NOT_RESTORED_PREFIXES)}
    return {'name': document.get('name'), 'size': document.get('size'),
            'checksum': document.get('checksum'),
            'os_hash_algo': document.get('os_hash_algo'),
            'os_hash_value': document.get('os_hash_value'),
            'disk_format': document.get('disk_format'),
            'container_format': document.get('container_format'),
            'min_disk': document.get('min_disk'), 'min_ram': document.get('min_ram'),
            'properties': properties}
