# -*- coding: utf-8 -*-
"""checkpoint_prune through real ansible-playbook, on the local bank with the
No-Op provider: keep-N deletes the oldest, never the newest, and a dry run
changes nothing."""
from __future__ import annotations

import json
import os


def test_keep_n_deletes_the_oldest_never_the_newest(run_playbook, volume, tmp_path):
    out = os.path.join(str(tmp_path), 'facts.json')
    run_playbook('noop_prune.yml', {'volume_id': volume.id, 'state_dir': str(tmp_path),
                                    'out': out})
    with open(out) as handle:
        facts = json.load(handle)
    oldest, middle, newest = facts['made']
    # check mode names what would go, and nothing goes
    assert facts['dry']['changed'] is True
    assert facts['dry']['deleted'] == [middle, oldest]
    assert sorted(facts['after_dry']) == sorted(facts['made'])
    # the real run deletes the two oldest, newest first (incrementals before their parents)
    assert facts['pruned']['changed'] is True
    assert facts['pruned']['deleted'] == [middle, oldest]
    assert facts['pruned']['not_deleted'] == [] and facts['pruned']['errors'] == []
    # idempotent
    assert facts['again']['changed'] is False and facts['again']['deleted'] == []
    # the newest is kept even when it is too old
    assert facts['aged']['changed'] is False and facts['aged']['deleted'] == []
    assert facts['left'] == [newest]
