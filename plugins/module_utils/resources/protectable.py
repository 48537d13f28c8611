# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Protectables: which resources exist in the cloud and what depends on what.

One class per resource type, as Karbor's protectable plugins: a type lists
and shows its instances, and finds its instances that a parent depends on
(a server's attached volumes and boot image, a project's servers...).
"""

from __future__ import annotations

from typing import Iterable

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource


# Up to this many resources of a type are checked one by one, more by listing.
LOOKUP_LIMIT = 5


class Protectable:
    resource_type = ''
    parent_types: tuple[str, ...] = ()
    skip_statuses: tuple[str, ...] = ()

    def __init__(self, cloud: CloudSession) -> None:
        self.cloud = cloud

    def list_resources(self) -> list[Resource]:
        raise NotImplementedError

    def show_resource(self, resource_id: str) -> Resource:
        raise NotImplementedError

    def get_dependent_resources(self, parent: Resource) -> list[Resource]:
        return []

    def usable(self, resource_ids: list[str]) -> set[str]:
        """Which of ``resource_ids`` exist here and can be protected now.

        A few are looked up one by one, many with one listing: protecting one
        volume of a project with thousands must not list them all."""
        if len(resource_ids) > LOOKUP_LIMIT:
            return {r.id for r in self.list_resources()} & set(resource_ids)
        found = set()
        for resource_id in resource_ids:
            try:
                if self._usable_one(resource_id):
                    found.add(resource_id)
            except NotFound:
                pass
        return found

    def _usable_one(self, resource_id: str) -> bool:
        """Types whose instances have no status: it is usable if it shows."""
        self.show_resource(resource_id)  # NotFound when it does not
        return True

    def describe_resources(self) -> list[dict]:
        """Instances with their metadata, as a resource_query sees them."""
        return [{'id': r.id, 'type': r.type, 'name': r.name, 'status': None, 'metadata': {},
                 'tags': []} for r in self.list_resources()]

    @staticmethod
    def _description(res: Resource, status: str | None, metadata: dict | None,
                     tags: list | None = None) -> dict:
        return {'id': res.id, 'type': res.type, 'name': res.name,
                'status': (status or '').lower() or None, 'metadata': dict(metadata or {}),
                'tags': list(tags or [])}

    def _usable(self, status: str | None) -> bool:
        return (status or '').lower() not in self.skip_statuses


class ProjectProtectable(Protectable):
    resource_type = R.PROJECT

    def list_resources(self) -> list[Resource]:
        return [Resource(R.PROJECT, self.cloud.project_id, self.cloud.project_name)]

    def show_resource(self, resource_id: str) -> Resource:
        if resource_id != self.cloud.project_id:
            raise NotFound('Project %s is not the project these credentials are scoped to (%s); '
                           'only the current project can be protected.'
                           % (resource_id, self.cloud.project_id))
        return self.list_resources()[0]


class ServerProtectable(Protectable):
    resource_type = R.SERVER
    parent_types = (R.PROJECT,)
    skip_statuses = ('deleted', 'error', 'unknown', 'soft_deleted', 'rescued')

    def _to_resource(self, server) -> Resource:
        return Resource(R.SERVER, server.id, server.name or '')

    def list_resources(self) -> list[Resource]:
        servers = self.cloud.call('Listing servers', lambda: list(
            self.cloud.conn.compute.servers(details=True)))
        return [self._to_resource(s) for s in servers if self._usable(s.status)]

    def _usable_one(self, resource_id: str) -> bool:
        server = self.cloud.call('Server %s' % resource_id, self.cloud.conn.compute.get_server,
                                 resource_id)
        return self._usable(server.status)

    def describe_resources(self) -> list[dict]:
        servers = self.cloud.call('Listing servers', lambda: list(
            self.cloud.conn.compute.servers(details=True)))
        return [self._description(self._to_resource(s), s.status, s.metadata, s.tags)
                for s in servers if self._usable(s.status)]

    def show_resource(self, resource_id: str) -> Resource:
        server = self.cloud.call('Server %s' % resource_id, self.cloud.conn.compute.get_server,
                                 resource_id)
        return self._to_resource(server)

    def get_dependent_resources(self, parent: Resource) -> list[Resource]:
        if parent.type == R.PROJECT:
            return self.list_resources()
        return []


class VolumeProtectable(Protectable):
    resource_type = R.VOLUME
    parent_types = (R.SERVER, R.PROJECT)
    skip_statuses = ('error', 'deleting', 'error_deleting')

    def _to_resource(self, volume) -> Resource:
        return Resource(R.VOLUME, volume.id, volume.name or '',
                        extra_info={'availability_zone': volume.availability_zone or ''})

    def _volumes(self):
        return self.cloud.call('Listing volumes', lambda: list(
            self.cloud.conn.block_storage.volumes(details=True)))

    def list_resources(self) -> list[Resource]:
        return [self._to_resource(v) for v in self._volumes() if self._usable(v.status)]

    def _usable_one(self, resource_id: str) -> bool:
        volume = self.cloud.call('Volume %s' % resource_id,
                                 self.cloud.conn.block_storage.get_volume, resource_id)
        return self._usable(volume.status)

    def describe_resources(self) -> list[dict]:
        return [self._description(self._to_resource(v), v.status, v.metadata)
                for v in self._volumes() if self._usable(v.status)]

    def show_resource(self, resource_id: str) -> Resource:
        volume = self.cloud.call('Volume %s' % resource_id,
                                 self.cloud.conn.block_storage.get_volume, resource_id)
        return self._to_resource(volume)

    def get_dependent_resources(self, parent: Resource) -> list[Resource]:
        if parent.type == R.PROJECT:
            return self.list_resources()
        if parent.type == R.SERVER:
            return [self._to_resource(v) for v in self._volumes() if self._usable(v.status) and any(
                a.get('server_id') == parent.id for a in (v.attachments or []))]
        return []


class ImageProtectable(Protectable):
    resource_type = R.IMAGE
    parent_types = (R.SERVER, R.PROJECT)
    skip_statuses = ('killed', 'deleted', 'pending_delete', 'deactivated')

    def _to_resource(self, image, server_id: str | None = None) -> Resource:
        extra = {'server_id': server_id} if server_id else {}
        return Resource(R.IMAGE, image.id, image.name or '', extra_info=extra)

    def list_resources(self) -> list[Resource]:
        project = self.cloud.project_id
        images = self.cloud.call('Listing images', lambda: list(
            self.cloud.conn.image.images(owner=project)))
        return [self._to_resource(i) for i in images if self._usable(i.status)]

    def _usable_one(self, resource_id: str) -> bool:
        image = self.cloud.call('Image %s' % resource_id, self.cloud.conn.image.get_image,
                                resource_id)
        # as the listing: only the project's own images
        return image.owner == self.cloud.project_id and self._usable(image.status)

    def describe_resources(self) -> list[dict]:
        project = self.cloud.project_id
        images = self.cloud.call('Listing images', lambda: list(
            self.cloud.conn.image.images(owner=project)))
        return [self._description(self._to_resource(i), i.status, i.properties, i.tags)
                for i in images if self._usable(i.status)]

    def show_resource(self, resource_id: str) -> Resource:
        image = self.cloud.call('Image %s' % resource_id, self.cloud.conn.image.get_image,
                                resource_id)
        return self._to_resource(image)

    def get_dependent_resources(self, parent: Resource) -> list[Resource]:
        if parent.type == R.PROJECT:
            return self.list_resources()
        if parent.type == R.SERVER:
            server = self.cloud.call('Server %s' % parent.id, self.cloud.conn.compute.get_server,
                                     parent.id)
            image_id = (server.image or {}).get('id') if isinstance(server.image, dict) else None
            if not image_id:
                return []  # booted from a volume
            try:
                image = self.cloud.call('Image %s' % image_id, self.cloud.conn.image.get_image,
                                        image_id)
            except NotFound:
                return []  # boot image deleted since; the server snapshot still covers the disk
            if not self._usable(image.status):
                return []
            return [self._to_resource(image, server_id=parent.id)]
        return []


PROTECTABLE_CLASSES = (ProjectProtectable, ServerProtectable, VolumeProtectable, ImageProtectable)


class ProtectableRegistry:
    """Discovery over every protectable type."""

    def __init__(self, cloud: CloudSession, types: Iterable[str] | None = None) -> None:
        self.cloud = cloud
        wanted = set(types) if types is not None else None
        self.plugins = {cls.resource_type: cls(cloud) for cls in PROTECTABLE_CLASSES
                        if wanted is None or cls.resource_type in wanted}

    def types(self) -> list[str]:
        return sorted(self.plugins)

    def plugin(self, resource_type: str) -> Protectable:
        try:
            return self.plugins[resource_type]
        except KeyError:
            raise InvalidInput('Resource type %r is not protectable; use one of: %s.'
                               % (resource_type, ', '.join(self.types())))

    def dependent_types(self, resource_type: str) -> list[str]:
        self.plugin(resource_type)
        return sorted(t for t, p in self.plugins.items() if resource_type in p.parent_types)

    def list_instances(self, resource_type: str) -> list[Resource]:
        return self.plugin(resource_type).list_resources()

    def usable_instances(self, resource_type: str, resource_ids: list[str]) -> set[str]:
        return self.plugin(resource_type).usable(resource_ids)

    def describe_instances(self, types: Iterable[str]) -> list[dict]:
        result: list[dict] = []
        for rtype in sorted(set(types) & set(self.plugins)):
            result.extend(self.plugins[rtype].describe_resources())
        return result

    def show_instance(self, resource_type: str, resource_id: str) -> Resource:
        return self.plugin(resource_type).show_resource(resource_id)

    def get_dependents(self, parent: Resource) -> list[Resource]:
        result: list[Resource] = []
        for plugin in self.plugins.values():
            if parent.type in plugin.parent_types:
                result.extend(plugin.get_dependent_resources(parent))
        return result
