# -*- coding: utf-8 -*-
"""The README's main command (make demo) runs playbooks/demo.yml: keep it true."""
from __future__ import annotations

import re


def test_demo_playbook_backs_up_deletes_and_restores(cloud, run_playbook, tmp_path):
    result = run_playbook('playbooks/demo.yml', {'cloud': cloud.a},
                          env={'KARBOR_STATE_DIR': str(tmp_path / 'state')})
    found = re.search(r'Restored volume (\S+) and image\s+(\S+) \(same bytes\)', result.stdout)
    assert found, result.stdout[-3000:]
    conn = cloud.connect(cloud.a)
    volume = conn.block_storage.get_volume(found.group(1))
    image = conn.image.get_image(found.group(2))
    try:
        assert volume.status == 'available'
        assert image.status == 'active'
        assert 'failed=0' in result.stdout
    finally:
        conn.block_storage.delete_volume(volume, ignore_missing=True)
        conn.image.delete_image(image, ignore_missing=True)
