# -*- coding: utf-8 -*-
"""Stand-ins the resource-plugin unit tests share (pure logic only; the real
bank and cloud are exercised by tests/integration)."""
from __future__ import annotations


class Section:
    """A checkpoint's resource section holding one saved ``metadata`` record."""

    def __init__(self, metadata):
        self.metadata = metadata

    def get_json(self, key):  # pylint: disable=unused-argument
        return self.metadata
