# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The protectable interface: which resources of a type exist in the cloud
and what depends on what.

Each resource type (one file under resources/, listed in registry.py) has a
subclass, as Karbor had protectable plugins: a type lists
and shows its instances, and finds its instances that a parent depends on
(a server's attached volumes and boot image, a project's servers...).
"""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import NotFound
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


class CloudProtectable(Protectable):
    """A type whose instances come from one listing call and one lookup
    call: a subclass says which calls, how an instance becomes a Resource,
    and what a resource_query sees of it (status, metadata, tags)."""

    def _list_raw(self) -> list:
        raise NotImplementedError

    def _get_raw(self, resource_id: str):
        raise NotImplementedError

    def _to_resource(self, item) -> Resource:
        raise NotImplementedError

    def _metadata(self, item) -> dict | None:
        return item.metadata

    def _tags(self, item) -> list | None:
        return None

    def _usable_item(self, item) -> bool:
        return self._usable(item.status)

    def _listed(self) -> list:
        return [item for item in self._list_raw() if self._usable_item(item)]

    def list_resources(self) -> list[Resource]:
        return [self._to_resource(item) for item in self._listed()]

    def describe_resources(self) -> list[dict]:
        return [self._description(self._to_resource(item), item.status, self._metadata(item),
                                  self._tags(item)) for item in self._listed()]

    def show_resource(self, resource_id: str) -> Resource:
        return self._to_resource(self._get_raw(resource_id))

    def _usable_one(self, resource_id: str) -> bool:
        return self._usable_item(self._get_raw(resource_id))
