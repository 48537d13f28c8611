# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resources and the status vocabulary shared by the whole engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROJECT = 'OS::Keystone::Project'
SERVER = 'OS::Nova::Server'
VOLUME = 'OS::Cinder::Volume'
IMAGE = 'OS::Glance::Image'
NETWORK = 'OS::Neutron::Network'
SHARE = 'OS::Manila::Share'
DATABASE = 'OS::Trove::Instance'
POD = 'OS::Kubernetes::Pod'

RESOURCE_TYPES = (PROJECT, SERVER, VOLUME, IMAGE, NETWORK, SHARE, DATABASE, POD)

# Checkpoint lifecycle (Karbor's names).
CP_PROTECTING = 'protecting'
CP_AVAILABLE = 'available'
CP_ERROR = 'error'
CP_DELETING = 'deleting'
CP_DELETED = 'deleted'
CP_ERROR_DELETING = 'error-deleting'

# Per-resource statuses inside a checkpoint or a restore.
RES_PROTECTING = 'protecting'
RES_AVAILABLE = 'available'
RES_ERROR = 'error'
RES_RESTORING = 'restoring'

RESTORE_IN_PROGRESS = 'in_progress'
RESTORE_SUCCESS = 'success'
RESTORE_FAIL = 'fail'

# Verifications: Karbor's overall statuses, and ours per resource.
VERIFY_IN_PROGRESS = 'in_progress'
VERIFY_SUCCESS = 'success'
VERIFY_FAIL = 'fail'
RES_OK = 'ok'
RES_FAILED = 'failed'

PLAN_SUSPENDED = 'suspended'
PLAN_STARTED = 'started'


@dataclass(frozen=True)
class Resource:
    """A protectable thing; identity is (type, id, name) as in Karbor."""

    type: str
    id: str
    name: str = ''
    extra_info: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """The ``<type>#<id>`` key used by parameters and restore status."""
        return '%s#%s' % (self.type, self.id)

    def to_dict(self) -> dict[str, Any]:
        data = {'id': self.id, 'type': self.type, 'name': self.name}
        if self.extra_info:
            data['extra_info'] = dict(self.extra_info)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> 'Resource':
        return cls(type=data['type'], id=str(data['id']), name=data.get('name') or '',
                   extra_info=dict(data.get('extra_info') or {}))
