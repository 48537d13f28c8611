# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Protection plugin for PROJECT resources (OS Infra Provider)."""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.protection_plugin import (
    ProtectionPlugin)
from ansible_collections.karbor.protection.plugins.module_utils import resource as R


class KeystoneProjectPlugin(ProtectionPlugin):
    name = 'karbor-project-protection-plugin'
    supported_types = (R.PROJECT,)
