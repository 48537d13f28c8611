# -*- coding: utf-8 -*-
"""Reliability fixtures: the integration suite's ``cloud`` and ``run_playbook`` (loaded from
tests/integration/conftest.py under another module name) and ``r1_project``."""
from __future__ import annotations

from reliability_lib import integration, r1_project  # noqa: F401  (fixtures by name)

cloud = integration.cloud
run_playbook = integration.run_playbook
