# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS::Cinder::Volume restore: a Cinder backup into a new volume, onto an
existing ``volume_id``, or into a new volume of a chosen availability zone
and volume type.

Cinder's backup restore API cannot choose the zone or the type of the volume
it creates, so with either given the volume is created empty first (the
backup's size, in that zone and type) and the backup restored onto it. Both
are checked before anything is created; a volume created for a restore that
then fails is deleted.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.karbor.protection.plugins.module_utils.common.cloud import wait_for
from ansible_collections.karbor.protection.plugins.module_utils.common.errors import (
    InvalidInput, KarborError)
from ansible_collections.karbor.protection.plugins.module_utils.resources.plugin import (
    Operation, OperationContext)
from ansible_collections.karbor.protection.plugins.module_utils.resources.volume_calls import (
    wait_backup, wait_gone, wait_volume)

RESTORE_SCHEMA = {
    'type': 'object', 'title': 'Cinder restore options', 'additionalProperties': False,
    'properties': {
        'volume_id': {'type': 'string', 'title': 'Restore onto this existing volume'},
        'restore_name': {'type': 'string', 'title': 'Name of the restored volume'},
        'restore_description': {'type': 'string', 'title': 'Description of the restored volume'},
        'availability_zone': {
            'type': 'string', 'title': 'Availability zone of the restored volume',
            'description': 'The new volume is made in this zone (default: where Cinder '
                           'puts it); not with volume_id.'},
        'volume_type': {
            'type': 'string', 'title': 'Volume type (name or id) of the restored volume',
            'description': "The new volume is of this type (default: the cloud's default "
                           'type); not with volume_id.'}}}


def placement(parameters: dict[str, Any]) -> dict[str, str]:
    """The zone and type the restore asks for (only those given)."""
    return {k: parameters[k] for k in ('availability_zone', 'volume_type') if parameters.get(k)}


def check_placement(ctx: OperationContext) -> dict[str, str]:
    """The zone and type the restore asks for ({} when none), checked: refuse an unknown
    or unavailable zone or type, naming the ones there are; the type resolved to its name.
    One call for the prechecks of both volume restores and for a run without one."""
    wanted = placement(ctx.parameters)
    if not wanted:
        return {}
    if ctx.parameters.get('volume_id'):
        raise InvalidInput('availability_zone and volume_type choose where a new volume is made; '
                           'a restore onto volume_id %s cannot: leave out one or the other.'
                           % ctx.parameters['volume_id'])
    conn = ctx.cloud.conn
    resolved = dict(wanted)
    zone = wanted.get('availability_zone')
    if zone:
        zones = ctx.cloud.call('Listing volume availability zones',
                               lambda: list(conn.block_storage.availability_zones()))
        usable = sorted(z.name for z in zones if (z.state or {}).get('available'))
        if zone not in usable:
            raise InvalidInput('availability_zone %r is not an available volume availability '
                               'zone of this cloud; available: %s.'
                               % (zone, ', '.join(usable) or 'none'))
    kind = wanted.get('volume_type')
    if kind:
        types = ctx.cloud.call('Listing volume types', lambda: list(conn.block_storage.types()))
        match = [t for t in types if kind in (t.id, t.name)]
        if not match:
            known = ', '.join(sorted(t.name for t in types)) or 'none'
            raise InvalidInput('volume_type %r is not a volume type of this cloud (name or id); '
                               'known: %s.' % (kind, known))
        resolved['volume_type'] = match[0].name
    return resolved


def drop_volume(ctx: OperationContext, volume_id: str) -> None:
    """Delete the volume made for a restore that failed; one Cinder will not
    delete (still restoring) stays named in the restore's new resources."""
    conn = ctx.cloud.conn
    try:
        ctx.cloud.call('Deleting volume %s' % volume_id, conn.block_storage.delete_volume,
                       volume_id)
        wait_gone(ctx, 'volume %s' % volume_id, conn.block_storage.get_volume, volume_id)
    except KarborError:
        return
    ctx.publish_new_resource(ctx.resource.id, None)


def create_restored_volume(ctx: OperationContext, what: str, **attrs: Any) -> str:
    """A new volume for this restore, published at once (a run killed while
    it is made still names it) and deleted again if it never becomes available."""
    volume = ctx.cloud.call(what, ctx.cloud.conn.block_storage.create_volume, **attrs)
    ctx.publish_new_resource(ctx.resource.id, volume.id)
    with ctx.undone_on_failure('the volume %s it had made' % volume.id,
                               lambda: drop_volume(ctx, volume.id)):
        wait_volume(ctx, volume.id, ('available',))
    return volume.id


class CinderRestore(Operation):
    """Restore the checkpoint's backup; see the module docstring for where to."""

    def __init__(self) -> None:
        self.placement: dict[str, str] = {}

    def precheck(self, ctx: OperationContext) -> None:
        if ctx.restore_elsewhere:
            raise InvalidInput(
                'Volume %s of checkpoint %s is kept as a Cinder backup of the source cloud, '
                'which a restore into another project or cloud cannot read; leave it out of '
                'this restore (restore it in its own project), or protect the volume with '
                'backup_mode: bank, whose data is in the bank.'
                % (ctx.resource.id, ctx.checkpoint.id))
        self.placement = check_placement(ctx)

    def on_main(self, ctx: OperationContext) -> None:
        meta = ctx.section.get_json('metadata')
        backup_id = meta.get('backup_id')
        if not backup_id:
            raise KarborError('The checkpoint holds no backup of volume %s.' % ctx.resource.id)
        backup = wait_backup(ctx, backup_id)
        target = ctx.parameters.get('volume_id')
        if target:
            volume = wait_volume(ctx, target, ('available',))
            if volume.size < (meta.get('volume_size') or 0):
                raise InvalidInput('Target volume %s (%s GiB) is smaller than the backup (%s GiB).'
                                   % (target, volume.size, meta.get('volume_size')))
        name = ctx.parameters.get('restore_name') or '%s@%s' % (ctx.checkpoint.id, ctx.resource.id)
        created = None
        if not self.placement:
            self.placement = check_placement(ctx)  # no precheck ran
        if self.placement:
            created = target = self._create_volume(ctx, name, max(
                backup.size or 0, meta.get('volume_size') or 0, 1))
        if not created:
            self._restore(ctx, backup_id, target, name)
            return
        with ctx.undone_on_failure('the volume %s it had made' % created,
                                   lambda: drop_volume(ctx, created)):
            self._restore(ctx, backup_id, target, name)

    def _restore(self, ctx: OperationContext, backup_id: str, target: str | None,
                 name: str) -> None:
        conn = ctx.cloud.conn
        result = ctx.cloud.call('Restoring backup %s' % backup_id, conn.block_storage.restore_backup,
                                backup_id, volume=target, name=None if target else name)
        new_id = result.volume_id
        ctx.publish_new_resource(ctx.resource.id, new_id)
        # The new volume is briefly available before the restore starts: wait for both.
        wait_for('restore of backup %s' % backup_id,
                 lambda: (ctx.cloud.call('Volume', conn.block_storage.get_volume, new_id),
                          ctx.cloud.call('Backup', conn.block_storage.get_backup, backup_id)),
                 lambda vb: vb[0].status == 'available' and vb[1].status == 'available',
                 lambda vb: ('volume is %s' % vb[0].status if vb[0].status.startswith('error')
                             else None),
                 ctx.timeout)
        update = {'name': name}
        if ctx.parameters.get('restore_description'):
            update['description'] = ctx.parameters['restore_description']
        ctx.cloud.call('Naming volume %s' % new_id, conn.block_storage.update_volume, new_id,
                       **update)

    def _create_volume(self, ctx: OperationContext, name: str, size: int) -> str:
        """An empty volume in the zone and type asked for."""
        return create_restored_volume(ctx, 'Creating the volume to restore into', size=size,
                                      name=name, **self.placement)
