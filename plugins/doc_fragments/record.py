# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


def _record_options(noun: str, label: str, article: str, absent: str = 'deletes it',
                    description: bool = False) -> str:
    """name, id and state of a module that keeps one catalog record (plan, trigger,
    scheduled_operation; see module_utils/module/record_state.py), worded for its
    ``noun``: the options of state_argument_spec(), documented once."""
    text = r'''
options:
  name:
    description:
      - {label} name, unique in the project. Required to create {article}.
      - At most 255 characters, without control characters.
    type: str
  id:
    description:
      - {label} id, to update, rename or delete {article} by id.
    type: str
  state:
    description:
      - C(present) creates or updates the {noun}, C(absent) {absent}.
    type: str
    choices: [present, absent]
    default: present
'''.format(noun=noun, label=label, article=article, absent=absent)
    if description:
        text += r'''  description:
    description:
      - Free text.
    type: str
'''
    return text


class ModuleDocFragment:
    """karbor.protection.record.plan, .trigger and .scheduled_operation, set below (the
    yamllint sanity test reads only string literals in the class body). No DOCUMENTATION:
    each record module names its own."""


ModuleDocFragment.PLAN = _record_options('plan', 'Plan', 'a plan', description=True)
ModuleDocFragment.TRIGGER = _record_options('trigger', 'Trigger', 'a trigger')
ModuleDocFragment.SCHEDULED_OPERATION = _record_options(
    'operation', 'Operation', 'an operation', description=True,
    absent='deletes it (with its claims; its operation logs stay)')
