# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification records (Karbor's ``verifications``): looked up and listed
here (the run itself is the engine's ``verify``, engine/verify.py). A record
is written once, when its run has ended, so no reader ever sees a run that
died; the run's operation log tells that it started."""

from __future__ import annotations

from ansible_collections.karbor.protection.plugins.module_utils.engine.records import (
    RecordService)


class VerificationService(RecordService):
    """The project's verifications, newest first (an ordered store: a
    listing reads the newest records first and stops at ``limit``)."""

    creator = 'checkpoint_verify'
