# -*- coding: utf-8 -*-
"""Reliability fixtures: the integration suite's ``cloud`` and ``run_playbook`` (loaded from
tests/integration/conftest.py under another module name) and ``r1_project``."""
from __future__ import annotations

import reliability_lib

cloud = reliability_lib.integration.cloud
run_playbook = reliability_lib.integration.run_playbook
catalog_container = reliability_lib.integration.catalog_container
module_catalog_container = reliability_lib.integration.module_catalog_container
r1_project = reliability_lib.r1_project

# When tests/integration and tests/reliability are collected in one pytest run, the module
# name ``conftest`` is this file for imports made after it loaded: offer the integration
# helpers that integration tests import from ``conftest``.
ansible_playbook_cmd = reliability_lib.integration.ansible_playbook_cmd
playbook_env = reliability_lib.integration.playbook_env
collections_path = reliability_lib.integration.collections_path
PlaybookResult = reliability_lib.integration.PlaybookResult
