# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# Apache License 2.0 (see LICENSE)
"""Protection plugin for PROJECT resources (OS Infra Provider)."""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.protection_plugin import (
    ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils import resource as R


class KeystoneProjectPlugin(ProtectionPlugin):
    name = 'karbor-project-protection-plugin'
    supported_types = (R.PROJECT,)
