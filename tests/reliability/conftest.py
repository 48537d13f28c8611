# -*- coding: utf-8 -*-
"""Reliability fixtures: the integration suite's ``cloud`` and ``run_playbook`` (loaded from
tests/integration/conftest.py under another module name) and ``r1_project``."""
from __future__ import annotations

import reliability_lib

cloud = reliability_lib.integration.cloud
run_playbook = reliability_lib.integration.run_playbook
r1_project = reliability_lib.r1_project
