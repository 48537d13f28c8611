# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS::Keystone::Project: the project itself holds no data; protecting it
protects every server, volume and image in it (its dependents, found by the
protectables). Karbor had no plugin for projects, so such plans failed."""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.resources.protectable import Protectable
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import NotFound
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext, ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R


class ProjectProtect(Operation):
    def on_main(self, ctx: OperationContext) -> None:
        ctx.section.put('metadata', {'project_id': ctx.resource.id, 'name': ctx.resource.name,
                                     'members': [c.key for c in ctx.children]})


class ProjectRestore(Operation):
    def on_complete(self, ctx: OperationContext) -> None:
        ctx.publish_new_resource(ctx.resource.id, ctx.resource.id)


class KeystoneProjectPlugin(ProtectionPlugin):
    name = 'karbor-project-protection-plugin'
    supported_types = (R.PROJECT,)
    operation_classes = {'protect': ProjectProtect, 'restore': ProjectRestore}
    drill_supported = True  # its restore makes nothing: nothing to compare or delete


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
