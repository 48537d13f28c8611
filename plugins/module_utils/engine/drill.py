# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify level ``drill``: the checkpoint restored for real, what came back
compared with what it saved, and everything the restore made deleted again.

Why a real restore: only restoring proves a checkpoint restores (a backup
Cinder calls available can still fail to restore). The restore is the
engine's own (``engine.restore``: its read-back, lease, reader marker and
restore record), asked to give every resource a scratch name
(``karbor-drill-<verification id[:8]>-<original id[:8]>``, through each
plugin's ``restore_name``) and no floating IPs. Each plugin compares its
restored resource with the saved record (``compare_restored``) and deletes
it (``drop_restored``), servers first so their volumes are let go.

The restore record is written while the drill runs, named
``karbor-drill-<verification id>``, so a drill that dies still names what it
made (``restore_info``); it is deleted with the rest once everything the
drill made is gone, and kept when something stays (the verification then
fails, naming each leftover's type and id). The drill's operation log
entries stay: they are history, not resources.

Into another project or cloud (``target``, an engine with the module's
target_* credentials): the same engine.restore as a restore elsewhere, so
the resources are made, compared and deleted there while the bank and the
records stay the source's. What a restore there cannot make (a volume kept
as a Cinder backup of the source cloud) is found first by the restore's own
prechecks, one resource at a time (``target_refusals``), so each is named
with the restore's message and nothing is restored.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource
from ansible_collections.karbor.protection.plugins.module_utils.engine.run import (
    FlowRun, error_message, operation_context)
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    OperationContext, Progress)
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
    Checkpoint)
from ansible_collections.karbor.protection.plugins.module_utils.storage.lease import Lease

DRILL_PREFIX = 'karbor-drill-'


def drill_name(drill_id: str) -> str:
    """The name of the drill's restore record (how operators tell a drill)."""
    return DRILL_PREFIX + drill_id


def scratch_name(drill_id: str, original_id: str) -> str:
    """The name a restored resource gets: never one of the originals."""
    return '%s%s-%s' % (DRILL_PREFIX, drill_id[:8], original_id[:8])


def check_drillable(provider: Any, resources: list[Resource]) -> None:
    """Refuse, before anything is read, a checkpoint holding a type whose
    restore the drill could not delete again (a network's subnets, ports
    and routers are not in the restore record)."""
    refused = sorted({res.type for res in resources
                      if not provider.plugin_for(res.type).drill_supported})
    if refused:
        raise InvalidInput('Level drill cannot delete what a restore of %s makes, and this '
                           'checkpoint holds it; verify it at level data, or restore it with '
                           'karbor.protection.restore.' % ', '.join(refused))


def drill_parameters(provider: Any, resources: list[Resource], drill_id: str) -> dict:
    """Restore parameters giving every resource a scratch name (where its
    restore schema has ``restore_name``) and re-associating no floating IP."""
    parameters: dict[str, dict[str, Any]] = {}
    for res in resources:
        schema = provider.plugin_for(res.type).get_restore_schema(res.type)
        known = schema.get('properties') or {}
        values: dict[str, Any] = {}
        if 'restore_name' in known:
            values['restore_name'] = scratch_name(drill_id, res.id)
        if 'restore_floating_ips' in known:
            values['restore_floating_ips'] = False
        if values:
            parameters[res.key] = values
    return parameters


def target_refusals(engine: Any, provider: Any, checkpoint: Checkpoint,
                    roots: list[G.GraphNode], drill_id: str, target: Any) -> dict[str, str]:
    """Resource key -> why a restore into ``target``'s project cannot make it
    (the restore's own precheck message); empty without a target. Why each
    one: the restore refuses the whole checkpoint at its first refusal, and
    a drill reports every resource."""
    if target is None:
        return {}
    parameters = provider.validate_parameters(
        drill_parameters(provider, G.resources(roots), drill_id), 'restore')
    run = FlowRun(engine, 'restore', provider, roots, checkpoint, Lease(checkpoint.bank),
                  lambda *args: None, parameters=parameters, check_lease=False, target=target)
    refused = {}
    for res, operation in run.operations.items():
        try:
            operation.precheck(run.contexts[res])
        except KarborError as exc:
            refused[res.key] = exc.msg
    return refused


def cleanup_order(resources: list[Resource]) -> list[Resource]:
    """Servers first (deleting one lets its volumes go), then the others."""
    return sorted(resources, key=lambda res: res.type != R.SERVER)


def run_drill(engine: Any, provider: Any, checkpoint: Checkpoint, roots: list[G.GraphNode],
              drill_id: str, target: Any = None) -> dict[str, Any]:
    """Restore, compare, delete (always), in ``target``'s project when given
    (an engine of another project, see the module docstring); what the
    verification record keeps: ``failures`` (resource key -> reasons),
    ``problems`` (the run's own), ``restore_id``, ``restore_status``,
    ``restore_duration`` and ``cleanup``."""
    resources = G.resources(roots)
    parameters = drill_parameters(provider, resources, drill_id)
    progress = Progress()

    def context(res: Resource) -> OperationContext:
        return operation_context(engine, 'drill', provider, res, parameters, checkpoint,
                                 progress, restore_elsewhere=target is not None,
                                 cloud=target.cloud if target is not None else None)

    result: dict[str, Any] = {'failures': {}, 'problems': [], 'restore_id': None,
                              'restore_status': None, 'restore_duration': None}
    record = None
    try:
        started = time.monotonic()
        try:
            record = engine.restore(provider.id, checkpoint.id, parameters=parameters,
                                    name=drill_name(drill_id), target=target)
        finally:
            result['restore_duration'] = round(time.monotonic() - started, 3)
        result['failures'] = compare(provider, resources, record, context)
        if record.get('error') and not result['failures']:
            result['problems'].append('The drill\'s restore failed: %s' % record['error'])
    except Exception as exc:  # pylint: disable=broad-except
        result['problems'].append('The drill\'s restore failed: %s' % error_message(exc))
    finally:
        if record is None:  # the restore raised: its record, if it wrote one, has the name
            record = _named_record(engine, drill_name(drill_id), result['problems'])
        result['cleanup'] = clean_up(engine, provider, checkpoint, resources, record, context)
    if record is not None:
        result['restore_id'], result['restore_status'] = record['id'], record.get('status')
    for item in result['cleanup']['left']:
        result['problems'].append('The drill left %s behind; delete it.' % item)
    return result


def _named_record(engine: Any, name: str, problems: list[str]) -> dict | None:
    try:
        named = engine.restores.list(name=name)
    except KarborError as exc:
        problems.append('The drill could not read back its restore record %s (%s); look for '
                        'what it made with restore_info.' % (name, exc.msg))
        return None
    return named[0] if named else None


def compare(provider: Any, resources: list[Resource], record: dict,
            context: Any) -> dict[str, list[str]]:
    """Per resource key, what went wrong: its restore failed, or what came
    back differs from what the checkpoint saved."""
    failures: dict[str, list[str]] = {}
    made = record.get('new_resources') or {}
    for res in resources:
        status = (record.get('resources_status') or {}).get(res.key)
        if status != R.RES_AVAILABLE:
            reason = (record.get('resources_reason') or {}).get(res.key) or 'not restored'
            failures[res.key] = ['drill: the restore of it failed (%s)' % reason]
            continue
        new_id = made.get(res.id)
        if not new_id or new_id == res.id:
            continue  # nothing was made (a project, a no-op copy)
        try:
            differences = provider.plugin_for(res.type).compare_restored(context(res), new_id)
        except KarborError as exc:
            differences = ['could not be compared: %s' % exc.msg]
        if differences:
            failures[res.key] = ['drill: restored %s %s differs from the checkpoint: %s'
                                 % (res.type, new_id, '; '.join(differences))]
    return failures


def clean_up(engine: Any, provider: Any, checkpoint: Checkpoint, resources: list[Resource],
             record: dict | None, context: Any) -> dict[str, Any]:
    """Delete what the drill's restore made (its record's new resources),
    what it wrote into the checkpoint, then the record itself; whatever stays
    is named in ``left`` and keeps the record."""
    if record is None:
        return {'status': 'done', 'deleted': [], 'left': [], 'restore_record': None}
    made = dict(record.get('new_resources') or {})
    deleted, left = [], []
    for res in cleanup_order(resources):
        new_id = made.pop(res.id, None)
        if not new_id or new_id == res.id:
            continue
        try:
            provider.plugin_for(res.type).drop_restored(context(res), new_id)
            deleted.append('%s %s' % (res.type, new_id))
        except Exception as exc:  # pylint: disable=broad-except
            left.append('%s %s (restored from %s: %s)'
                        % (res.type, new_id, res.id, error_message(exc)))
    for original_id, new_id in sorted(made.items()):
        if new_id != original_id:
            left.append('%s (made for %s, of a type the drill cannot tell)'
                        % (new_id, original_id))
    try:
        for res in resources:  # (a server's restore notes what it made in its section)
            checkpoint.resource_section(res.id).delete('restore-%s' % record['id'])
        if not left:
            engine.restores.delete(record)
    except KarborError as exc:
        left.append('restore record %s and its notes in the bank (%s)'
                    % (record['id'], exc.msg))
    return {'status': 'failed' if left else 'done', 'deleted': deleted, 'left': left,
            'restore_record': 'kept' if left else 'deleted'}
