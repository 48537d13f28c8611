# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # How a module that works on one checkpoint finds its provider's bank
    # (checkpoint_argument_spec and KarborModule.checkpoint_provider_id in
    # module_utils/module/karbor_module.py); the module documents checkpoint_id itself.
    DOCUMENTATION = r'''
options:
  provider_id:
    description:
      - Provider of the checkpoint. Defaults to the provider of I(plan).
    type: str
  plan:
    description:
      - Plan (id or name) of the checkpoint; gives the provider.
    type: str
'''
