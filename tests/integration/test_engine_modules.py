# -*- coding: utf-8 -*-
"""Issue 2 acceptance: every engine module through real ansible-playbook,
on the local bank with the No-Op provider, against the real test cloud."""
from __future__ import annotations

import glob
import json
import os
import time


NOOP = 'b766f37c-d011-4026-8228-28730d734a3f'


def test_every_module_end_to_end(run_playbook, volume, tmp_path):
    result = run_playbook('noop_end_to_end.yml', {'volume_id': volume.id,
                                                  'state_dir': str(tmp_path)})
    assert 'failed=0' in result.stdout
    # nothing is left in the bank but the tombstone of the deleted checkpoint
    bank = tmp_path / 'bank'
    left = [p for p in glob.glob(str(bank / '**'), recursive=True)
            if os.path.isfile(p) and '/.tmp/' not in p]
    assert len(left) == 1 and left[0].endswith('index.json'), left


def _plan_and_checkpoint(run_playbook, volume, state_dir):
    out = os.path.join(state_dir, 'facts.json')
    run_playbook('noop_checkpoint.yml', {'volume_id': volume.id, 'state_dir': state_dir,
                                         'out': out})
    with open(out) as handle:
        return json.load(handle)


def test_checkpoint_still_protecting_cannot_be_deleted(run_playbook, volume, tmp_path):
    facts = _plan_and_checkpoint(run_playbook, volume, str(tmp_path))
    cid = facts['checkpoint']['id']
    # Put the checkpoint back into the state of a run in progress: protecting, with a
    # live lease held by its owner.
    from ansible_collections.karbor.protection.plugins.module_utils.storage.local_bank import LocalBank
    bank = LocalBank(str(tmp_path / 'bank'))
    index = bank.get_json('/checkpoints/%s/index.json' % cid)
    index['status'] = 'protecting'
    index['owner_id'] = 'live-owner'
    bank.put('/checkpoints/%s/index.json' % cid, index)
    bank.put('/leases/live-owner', {'owner_id': 'live-owner', 'expires_at': time.time() + 600})
    before = sorted(bank.iter_all('/'))
    result = run_playbook('noop_delete.yml', {'state_dir': str(tmp_path), 'checkpoint_id': cid},
                          check=False)
    assert result.rc != 0
    assert 'is still protecting' in result.stdout
    assert 'Traceback' not in result.stdout + result.stderr
    assert sorted(bank.iter_all('/')) == before
    # once the owner's lease expires the next run marks it error and may delete it (a
    # checkpoint younger than the lease window is never reaped: make this one older)
    bank.put('/leases/live-owner', {'owner_id': 'live-owner', 'expires_at': time.time() - 1})
    index['created_at'] = '2026-01-01T00:00:00.000000Z'
    bank.put('/checkpoints/%s/index.json' % cid, index)
    run_playbook('noop_delete.yml', {'state_dir': str(tmp_path), 'checkpoint_id': cid})
    assert bank.get_json('/checkpoints/%s/index.json' % cid)['status'] == 'deleted'


def test_corrupted_bank_object_fails_restore_and_changes_nothing(run_playbook, volume, tmp_path):
    facts = _plan_and_checkpoint(run_playbook, volume, str(tmp_path))
    cid = facts['checkpoint']['id']
    metadata = tmp_path / 'bank' / 'checkpoints' / cid / 'resource-data' / volume.id / 'metadata'
    raw = metadata.read_bytes()
    metadata.write_bytes(raw[:-2] + (b'??' if not raw.endswith(b'??') else b'!!'))
    result = run_playbook('noop_restore.yml', {'state_dir': str(tmp_path),
                                               'checkpoint_id': cid}, check=False)
    assert result.rc != 0
    assert 'is corrupted' in result.stdout and 'sha256' in result.stdout
    assert 'Traceback' not in result.stdout + result.stderr
    assert not (tmp_path / 'catalog' / 'restores').exists()
