# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The protection plugin interface (one plugin per resource type).

As in Karbor, a plugin returns an Operation per resource for protect,
restore, delete and verify; the flow executor calls its four hooks in dependency
order: prepare_begin (parents first), prepare_finish (children first),
main (in parallel once the resource's own prepare is done) and complete
(children first).
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ansible_collections.karbor.protection.plugins.module_utils.common.errors import KarborError
from ansible_collections.karbor.protection.plugins.module_utils.common.resource import Resource

HOOKS = ('on_prepare_begin', 'on_prepare_finish', 'on_main', 'on_complete')
OPERATIONS = ('protect', 'restore', 'delete', 'verify')
VERIFY_LEVELS = ('bank', 'data', 'drill')


class Operation:
    """Hooks of one resource in one flow; override only what is needed."""

    def on_prepare_begin(self, ctx: 'OperationContext') -> None:
        """Parents before children: announce, quiesce."""

    def on_prepare_finish(self, ctx: 'OperationContext') -> None:
        """Children before parents: consistent snapshots."""

    def on_main(self, ctx: 'OperationContext') -> None:
        """The data movement; runs in parallel across resources."""

    def on_complete(self, ctx: 'OperationContext') -> None:
        """Children before parents: finish, re-link restored children."""

    def precheck(self, ctx: 'OperationContext') -> None:
        """Refuse the operation before anything changes (raise KarborError)."""

    def read_ahead(self, ctx: 'OperationContext', bank: Any) -> None:
        """Optional: start reading what on_main will move while the engine
        writes the checkpoint (protect only, before any hook). ``ctx`` has no
        checkpoint yet and ``bank`` is where it will be: read from the cloud
        and the bank, never write anywhere; keep what was read for on_main,
        bounded as on_main's own reading is."""

    def drop_read_ahead(self) -> None:
        """Free what read_ahead holds and on_main did not take (the engine
        calls it once the flow is over, or when the checkpoint could not be
        written)."""

    def defines(self, hook: str) -> bool:
        return getattr(type(self), hook) is not getattr(Operation, hook)


class Progress:
    """Counters a flow updates from many threads; shown in module results."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.resources_total = 0
        self.resources_done = 0
        self.bytes_total = 0
        self.bytes_done = 0
        self.bytes_uploaded = 0

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def to_dict(self) -> dict[str, int]:
        with self._lock:
            return {'resources_total': self.resources_total,
                    'resources_done': self.resources_done,
                    'bytes_total': self.bytes_total,
                    'bytes_done': self.bytes_done,
                    'bytes_uploaded': self.bytes_uploaded}


@dataclass(frozen=True)
class VerifyOptions:
    """What a verify flow checks: ``bank`` (every object present with its
    checksum, every backend artifact usable) or ``data`` (also the content:
    ``data_subset`` percent of each resource's chunks read and hashed, picked
    at random as restic's ``--read-data-subset``, so repeated runs cover
    everything over time)."""

    level: str = 'bank'
    data_subset: int = 100
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @property
    def reads_data(self) -> bool:
        return self.level == 'data'

    def pick(self, digests: list[str]) -> list[str]:
        """The chunks to read: none at level bank, else ``data_subset``
        percent of the distinct ones (rounded up: a non-empty list always
        gives at least one), in their original order."""
        unique = list(dict.fromkeys(digests))
        if not self.reads_data or not unique:
            return []
        if self.data_subset >= 100:
            return unique
        chosen = set(self.rng.sample(unique, math.ceil(len(unique) * self.data_subset / 100)))
        return [d for d in unique if d in chosen]


@dataclass
class OperationContext:
    """Everything a hook may use; one per resource per flow."""

    operation: str
    resource: Resource
    parameters: dict[str, Any]
    checkpoint: Any
    section: Any
    cloud: Any
    new_resources: dict[str, str]
    progress: Progress
    timeout: int = 1800
    children: list[Resource] = field(default_factory=list)
    restore: Any = None
    set_status: Callable[[str, str | None], None] = lambda status, reason=None: None
    check_lease: Callable[[], None] = lambda: None
    config: dict[str, Any] = field(default_factory=dict)
    lock: Any = None
    on_new_resource: Callable[[], None] | None = None
    #: this plan's newest available checkpoints before this one, newest first, at most N
    #: (lent by the engine: a plugin never builds engine objects)
    previous_checkpoints: Callable[[int], list] = lambda limit: []
    #: what a verify flow checks (None in the other flows)
    verification: VerifyOptions | None = None
    #: a restore into another project or cloud than the checkpoint's (``cloud`` is the
    #: target's): data kept outside the bank, in the source cloud, cannot come along
    restore_elsewhere: bool = False

    def publish_new_resource(self, original_id: str, new_id: str | None) -> None:
        """Tell parents (a server) which new resource replaced a child, and
        record it at once: a run that dies later must not forget what it
        made. ``None`` withdraws it (the plugin deleted what it made)."""
        if self.lock is not None:
            with self.lock:
                self._publish(original_id, new_id)
        else:
            self._publish(original_id, new_id)
        if self.on_new_resource is not None:
            self.on_new_resource()

    @property
    def keeps_failed(self) -> bool:
        """The restore was asked to keep what a failed resource made, for a look."""
        return bool(self.restore and self.restore.get('keep_failed'))

    @contextlib.contextmanager
    def undone_on_failure(self, what: str,
                          undo: Callable[[], list[str] | None]) -> Iterator[None]:
        """The block that finishes ``what`` a restore made: when it fails,
        ``undo`` deletes it (returning what it deleted, for the message), or
        it is kept when the restore keeps failed resources; the error says
        which."""
        try:
            yield
        except BaseException as exc:
            if self.keeps_failed:
                note = 'Kept %s, as keep_failed asks.' % what
            else:
                undone = undo()
                note = 'The restore deleted %s%s.' % (
                    what, ' (%s)' % ', '.join(undone) if undone else '')
            if isinstance(exc, KarborError):
                exc.msg = '%s %s' % (exc.msg, note)
            raise

    def keep_temporary(self, kind: str, object_id: str, name: str) -> None:
        """Record at once, in the restore record, an object the restore makes
        for itself and deletes when it ends (an image a volume is made
        from): a run that dies before has it deleted when its record is
        settled (engine/restores.py). Nothing outside a restore."""
        self._temporaries(lambda found: found.__setitem__(object_id,
                                                          {'type': kind, 'name': name}))

    def drop_temporary(self, object_id: str) -> None:
        """The temporary object is gone."""
        self._temporaries(lambda found: found.pop(object_id, None))

    def _temporaries(self, change: Callable[[dict], Any]) -> None:
        if self.restore is None:
            return
        if self.lock is not None:
            with self.lock:
                change(self.restore.setdefault('temporary', {}))
        else:
            change(self.restore.setdefault('temporary', {}))
        if self.on_new_resource is not None:
            self.on_new_resource()

    def _publish(self, original_id: str, new_id: str | None) -> None:
        if new_id is None:
            self.new_resources.pop(original_id, None)
        else:
            self.new_resources[original_id] = new_id


class ProtectionPlugin:
    """Base class of every protection plugin.

    ``name`` is the provider-file name (Karbor's entry point name);
    ``config`` holds the provider file's sections as dicts.
    """

    name = ''
    supported_types: tuple[str, ...] = ()
    #: the Operation class of each flow (protect, restore, delete); a flow left
    #: out gets an Operation whose hooks do nothing
    operation_classes: dict[str, type[Operation]] = {}

    def __init__(self, config: dict[str, dict[str, str]] | None = None) -> None:
        self.config = config or {}

    def get_supported_resources_types(self) -> tuple[str, ...]:
        return self.supported_types

    def get_options_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'properties': {}, 'additionalProperties': False}

    def get_restore_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'properties': {}, 'additionalProperties': False}

    #: a verify drill (engine/drill.py) may restore this type: the plugin can
    #: tell what came back from what was saved and delete it again
    drill_supported = False

    def compare_restored(self, ctx: OperationContext, new_id: str) -> list[str]:
        """Drill: what differs between the restored ``new_id`` and what the
        checkpoint saved of ``ctx.resource`` (empty: nothing)."""
        return []

    def drop_restored(self, ctx: OperationContext, new_id: str) -> None:
        """Drill: delete the restored ``new_id`` and wait until it is gone;
        KarborError when it stays."""

    def get_saved_info_schema(self, resource_type: str) -> dict:
        return {'type': 'object', 'properties': {}}

    def get_saved_info(self, metadata: dict) -> dict:
        return {}

    def get_protect_operation(self, resource: Resource) -> Operation:
        return self.operation_classes.get('protect', Operation)()

    def get_restore_operation(self, resource: Resource) -> Operation:
        return self.operation_classes.get('restore', Operation)()

    def get_delete_operation(self, resource: Resource) -> Operation:
        return self.operation_classes.get('delete', Operation)()

    def get_verify_operation(self, resource: Resource) -> Operation:
        """Raises KarborError naming what is missing or damaged; the engine
        has already read back every bank object of the resource's section."""
        return self.operation_classes.get('verify', Operation)()

    def operation_for(self, operation: str, resource: Resource) -> Operation:
        getter = {'protect': self.get_protect_operation,
                  'restore': self.get_restore_operation,
                  'delete': self.get_delete_operation,
                  'verify': self.get_verify_operation}[operation]
        return getter(resource) or Operation()
