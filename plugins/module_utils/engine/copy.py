# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy: checkpoints of one provider's bank into another provider's bank
(another container, project or cloud), where they are listed and restored
like any checkpoint. Karbor's copy API existed but no plugin implemented it.

Everything is checked before anything is written (the target provider, its
credentials, that the target is not the source bank, that each checkpoint
is ``available``). Then, per checkpoint, under a reader marker on the source
(deletes wait for it): the objects the target lacks are sent
(``storage/object_copy.py``: the reference lists, then the chunks, which are
content-addressed, so a second copy sends almost nothing, then the
sections), then index.json (``available``, with the copy's
origin in ``extra_info.copied_from``) and its indices, LAST: a copy killed
before has written nothing any listing shows, and running it again sends
only what is missing. A complete copy is left alone (changed: false).

Volume data kept in Cinder backups stays in the source cloud: the copy is
made and a warning names each such backup.
"""

from __future__ import annotations

import concurrent.futures
import copy as _copy
from typing import Any, Callable

from ansible_collections.karbor.protection.plugins.module_utils.common import resource as R
from ansible_collections.karbor.protection.plugins.module_utils.common import timeutil
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    Conflict, InvalidInput, NotFound)
from ansible_collections.karbor.protection.plugins.module_utils.common.faults import fault_point
from ansible_collections.karbor.protection.plugins.module_utils.engine.restore import (
    reading)
from ansible_collections.karbor.protection.plugins.module_utils.engine.target import (
    target_project_id)
from ansible_collections.karbor.protection.plugins.module_utils.flow import graph as G
from ansible_collections.karbor.protection.plugins.module_utils.storage.checkpoints import (
    Checkpoint)
from ansible_collections.karbor.protection.plugins.module_utils.storage.chunk_store import (
    REFS_PREFIX)
from ansible_collections.karbor.protection.plugins.module_utils.storage.object_copy import (
    checkpoint_objects, copy_objects, raw, read_ahead, target_listing)

COUNTERS = ('objects_sent', 'objects_skipped', 'bytes_sent', 'bytes_skipped')


def _index_key(checkpoint_id: str) -> str:
    return '/checkpoints/%s/index.json' % checkpoint_id


def prepare_copy(engine: Any, target: Any, provider_id: str, target_provider_id: str,
                 checkpoint_ids: list[str]):
    """Every check made before anything is written; a bad input fails here."""
    source_provider = engine.provider(provider_id)
    try:
        target_provider = target.provider(target_provider_id)
    except NotFound as exc:
        raise NotFound('target_provider_id: %s' % exc.msg)
    target_project = target_project_id(target)
    if not checkpoint_ids:
        raise NotFound('No available checkpoint to copy; set checkpoint_id, or a plan that has '
                       'available checkpoints.')
    collection = engine.checkpoints(source_provider)
    checkpoints = []
    for checkpoint_id in checkpoint_ids:
        checkpoint = collection.get_available(checkpoint_id, engine.project_id, 'copied')
        checkpoints.append(checkpoint)
    target_collection = target.checkpoints(target_provider)
    source_bank, target_bank = collection.bank, target_collection.bank
    if raw(source_bank).location() == raw(target_bank).location():
        raise InvalidInput('The target provider %s (%s) uses the source bank itself (%s); copy to '
                           'a provider with another container, project or cloud.'
                           % (target_provider.name, target_provider.id,
                              raw(target_bank).location()))
    for checkpoint in checkpoints:
        _existing_copy(target_collection, checkpoint.id)  # Conflict: another one by that id
    return source_provider, collection, checkpoints, target_provider, target_collection, \
        target_project


def volume_warnings(checkpoint: Checkpoint) -> list[str]:
    """What the copy cannot take along: volume data in the source cloud's
    Cinder backups (the volume plugin records their ids)."""
    warnings = []
    roots = G.deserialize(checkpoint.resource_graph or '[{}, []]')
    for res in G.resources(roots):
        if res.type != R.VOLUME:
            continue
        try:
            meta = checkpoint.resource_section(res.id).get_json('metadata')
        except NotFound:
            continue
        backup_id = (meta or {}).get('backup_id') if isinstance(meta, dict) else None
        if backup_id:
            warnings.append('Checkpoint %s: data of volume %s stays in the source cloud\'s '
                            'Cinder backup %s; the copy cannot restore that volume where the '
                            'backup is not reachable.' % (checkpoint.id, res.id, backup_id))
    return warnings


def copied_index(checkpoint: Checkpoint, source_provider: Any, target_provider: Any,
                 target_project: str, origin: dict[str, Any]) -> dict[str, Any]:
    """The target's index.json: the source's, owned by the target provider
    and project, ``available``, with where it came from."""
    data = _copy.deepcopy(checkpoint.data)
    data.pop('owner_id', None)
    data.update({'provider_id': target_provider.id, 'project_id': target_project,
                 'status': R.CP_AVAILABLE})
    extra = dict(data.get('extra_info') or {})
    extra['copied_from'] = dict(origin, provider_id=source_provider.id,
                                provider_name=source_provider.name,
                                project_id=checkpoint.project_id, checkpoint_id=checkpoint.id,
                                copied_at=timeutil.isoformat(timeutil.now()))
    data['extra_info'] = extra
    return data


def _existing_copy(target_collection: Any, checkpoint_id: str) -> dict | None:
    """The target's index.json of this id, if it is a copy of it; Conflict
    when the target holds another checkpoint under the same id."""
    try:
        data = target_collection.bank.get_json(_index_key(checkpoint_id))
    except NotFound:
        return None
    origin = ((data or {}).get('extra_info') or {}).get('copied_from') or {}
    if data.get('status') == R.CP_DELETED:
        return None
    if origin.get('checkpoint_id') != checkpoint_id:
        raise Conflict('The target bank already holds checkpoint %s, which is not a copy of it; '
                       'delete it there first.' % checkpoint_id)
    return data


def _each(func: Callable[[str], Any], keys: list[str]) -> list[Any]:
    """``func`` of each key, concurrently (a few bank requests, one round trip)."""
    if len(keys) <= 1:
        return [func(key) for key in keys]
    with concurrent.futures.ThreadPoolExecutor(len(keys)) as pool:
        return list(pool.map(func, keys))


def copy_one(checkpoint: Checkpoint, source_provider: Any, collection: Any,
             target_provider: Any, target_collection: Any, target_project: str,
             origin: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    existing = _existing_copy(target_collection, checkpoint.id)
    source_bank, target_bank = collection.bank, target_collection.bank
    keys = checkpoint_objects(source_bank, checkpoint.id)
    refs = [k for k in keys if k.startswith(REFS_PREFIX)]
    sections = [k for k in keys if k.startswith('/checkpoints/')]
    chunks = [k for k in keys if not k.startswith((REFS_PREFIX, '/checkpoints/'))]
    result: dict[str, Any] = {'checkpoint_id': checkpoint.id, 'changed': False,
                              'warnings': volume_warnings(checkpoint)}
    totals = dict.fromkeys(COUNTERS, 0)
    to_send: list[str] = []
    # What the target holds, from one listing of each group at once; then
    # the reference lists, alone: chunks the target holds are then
    # referenced there before they are looked up (a HEAD, whatever the
    # listing said) and skipped (chunk_store's rule), so a release at the
    # target that starts later keeps them.
    # The sections the target lacks are read while the chunks are sent.
    listed = target_listing(raw(target_bank), keys)
    ahead = [k for k in sections if not listed.get(k, True)] if not dry_run else []
    with concurrent.futures.ThreadPoolExecutor(1) as side:
        read = side.submit(read_ahead, raw(source_bank), ahead)
        for part, point in ((refs, None), (chunks, 'copy.main'), (sections, 'copy.index')):
            counters = copy_objects(raw(source_bank), raw(target_bank), part, dry_run,
                                    listed=listed,
                                    stored=read.result() if part is sections else None)
            for name, value in counters.to_dict().items():
                totals[name] += value
            to_send.extend(counters.to_send)
            if point and not dry_run:
                fault_point(point)
    index = existing if existing and existing.get('status') == R.CP_AVAILABLE else None
    if index is None:
        index = copied_index(checkpoint, source_provider, target_provider, target_project,
                             origin)
        result['changed'] = True
        if not dry_run:
            target_bank.put(_index_key(checkpoint.id), index)
    copied = Checkpoint(target_bank, index)
    if not (dry_run and result['changed']):
        keys = copied.index_keys()
        # after a new index.json its indices are written without looking for
        # them first (a rerun writes the same value); else only those missing
        missing = keys if result['changed'] else [
            k for k, found in zip(keys, _each(target_bank.exists, keys)) if not found]
        if missing:
            result['changed'] = True
            if not dry_run:
                _each(lambda key: target_bank.put(key, checkpoint.id), missing)
    name_key = copied.name_key()
    if name_key:
        try:
            holder = target_bank.get_text(name_key)
        except NotFound:
            holder = None
            result['changed'] = True
            if not dry_run:
                target_bank.claim(name_key, checkpoint.id)
        if holder not in (None, checkpoint.id):
            result['warnings'].append('Checkpoint %s: its name %r is taken at the target by '
                                      'checkpoint %s; find the copy by its id.'
                                      % (checkpoint.id, copied.extra_info.get('name'), holder))
    result['changed'] = result['changed'] or totals['objects_sent'] > 0
    result.update(totals)
    if dry_run:
        result['would_send'] = to_send
    result['checkpoint'] = copied.to_api()
    return result


def copy(engine: Any, target: Any, provider_id: str, target_provider_id: str,
         checkpoint_ids: list[str], origin: dict[str, Any],
         dry_run: bool = False) -> dict[str, Any]:
    """Copy each checkpoint; per-checkpoint results and the totals. With
    ``dry_run`` (check mode) nothing is written: what would be sent is
    reported."""
    source_provider, collection, checkpoints, target_provider, target_collection, \
        target_project = prepare_copy(engine, target, provider_id, target_provider_id,
                                      checkpoint_ids)
    copies = []
    for checkpoint in checkpoints:
        with reading(source_provider, collection, checkpoint.id, dry_run):
            copies.append(copy_one(checkpoint, source_provider, collection, target_provider,
                                   target_collection, target_project, origin, dry_run))
    result: dict[str, Any] = {name: sum(c[name] for c in copies) for name in COUNTERS}
    result.update({'changed': any(c['changed'] for c in copies), 'copies': copies,
                   'copy_warnings': [w for c in copies for w in c['warnings']],
                   'target_provider_id': target_provider.id,
                   'target_project_id': target_project})
    return result
