# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discovery over every protectable type of the registry: list, show and
describe instances, and find what a resource depends on."""

from __future__ import annotations

from typing import Iterable

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import CloudSession
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import InvalidInput
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.resources.protectable import (
    Protectable)
from ansible_collections.karbor.protection.plugins.module_utils.resources.registry import (
    PROTECTABLE_CLASSES)


class ProtectableRegistry:
    """Discovery over every protectable type."""

    def __init__(self, cloud: CloudSession) -> None:
        self.cloud = cloud
        self.plugins = {cls.resource_type: cls(cloud) for cls in PROTECTABLE_CLASSES}

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
