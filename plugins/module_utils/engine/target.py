# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The other project or cloud an operation writes into (a copy's bank, a
restore elsewhere): reached with the module's target_* credentials, checked
before anything is written, and described in records without credentials."""

from __future__ import annotations

from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import KarborError


def target_project_id(target: Any) -> str:
    """The project ``target`` (an engine) is scoped to; its first call to the
    cloud, so credentials it refuses fail here, before anything is written."""
    try:
        return target.project_id
    except KarborError as exc:
        raise KarborError('The target cloud refused the connection or its credentials; check '
                          'target_cloud / target_auth. %s' % exc.msg)


def elsewhere_target(engine: Any, target: Any) -> Any:
    """``target`` when it is another project (or cloud) than ``engine``'s;
    None when there is no target or it is the engine's own project."""
    if target is None:
        return None
    return None if target_project_id(target) == engine.project_id else target


def target_description(target: Any) -> dict[str, Any] | None:
    """What a record keeps of where an operation wrote to (no credentials)."""
    if target is None:
        return None
    return {'project_id': target.project_id, 'project_name': target.cloud.project_name}


def target_label(target: Any) -> str:
    """How a message names the project an operation writes into (its name
    may be unreadable with some credentials; its id always is)."""
    name = target.cloud.project_name
    return '%s (%s)' % (name, target.project_id) if name else target.project_id
