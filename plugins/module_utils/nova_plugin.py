# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# Apache License 2.0 (see LICENSE)
"""Protection plugin for SERVER resources (OS Infra Provider)."""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.protection_plugin import (
    ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils import resource as R


class NovaServerPlugin(ProtectionPlugin):
    name = 'karbor-server-protection-plugin'
    supported_types = (R.SERVER,)
