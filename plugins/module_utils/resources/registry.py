# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every resource type the collection protects, one line each: its plugin
(with the names a provider file may use for it), its protectable, and
whether the built-in OS Infra providers include it. Adding a type is its
file under resources/, one line in RESOURCE_KINDS and its docs."""

from __future__ import annotations

from typing import NamedTuple

from ansible_collections.karbor.protection.plugins.module_utils.resources.image import (
    GlanceImagePlugin, ImageProtectable)
from ansible_collections.karbor.protection.plugins.module_utils.resources.network import (
    NetworkProtectable, NeutronNetworkPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources.noop import (
    NoopProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils.resources.project import (
    KeystoneProjectPlugin, ProjectProtectable)
from ansible_collections.karbor.protection.plugins.module_utils.resources.protectable import (
    Protectable)
from ansible_collections.karbor.protection.plugins.module_utils.resources.server import (
    NovaServerPlugin, ServerProtectable)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume import (
    CinderVolumePlugin, VolumeProtectable)


class ResourceKind(NamedTuple):
    plugin: type[ProtectionPlugin]
    aliases: tuple[str, ...]
    protectable: type[Protectable] | None
    in_os_infra: bool


RESOURCE_KINDS = (
    ResourceKind(KeystoneProjectPlugin, ('project',), ProjectProtectable, True),
    ResourceKind(NovaServerPlugin, ('nova', 'server'), ServerProtectable, True),
    ResourceKind(CinderVolumePlugin, ('cinder', 'volume'), VolumeProtectable, True),
    ResourceKind(GlanceImagePlugin, ('glance', 'image'), ImageProtectable, True),
    ResourceKind(NeutronNetworkPlugin, ('neutron', 'network'), NetworkProtectable, True),
    ResourceKind(NoopProtectionPlugin, ('noop',), None, False),  # every type, moves no data
)

PLUGIN_CLASSES: dict[str, type[ProtectionPlugin]] = {
    name: kind.plugin for kind in RESOURCE_KINDS for name in (kind.plugin.name,) + kind.aliases}
PROTECTABLE_CLASSES = tuple(kind.protectable for kind in RESOURCE_KINDS if kind.protectable)
OS_PLUGINS = [kind.plugin.name for kind in RESOURCE_KINDS if kind.in_os_infra]
