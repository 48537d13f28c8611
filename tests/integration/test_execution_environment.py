# -*- coding: utf-8 -*-
"""meta/execution-environment.yml builds an execution-environment context
with ansible-builder (no container runtime needed for ``create``), and
ansible-builder's own introspection finds the collection's Python
requirements in the collection installed from its tarball, as it does when
an operator builds an EE that installs karbor.protection."""
from __future__ import annotations

import os
import subprocess
import sys

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)


def requirement_names(text: str) -> set[str]:
    return {line.split('>=')[0].split('==')[0].strip().lower() for line in text.splitlines()
            if line.strip() and not line.startswith('#')}


def test_ansible_builder_creates_a_context_with_the_collection_requirements(
        tmp_path, awx_collections):
    context = str(tmp_path / 'context')
    proc = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '--file',
                           os.path.join(REPO, 'meta', 'execution-environment.yml'),
                           '--context', context], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(REPO, 'requirements.txt'), encoding='utf-8') as handle:
        wanted = requirement_names(handle.read())
    assert {'openstacksdk', 'python-swiftclient', 'cryptography'} <= wanted
    with open(os.path.join(context, '_build', 'requirements.txt'), encoding='utf-8') as handle:
        assert requirement_names(handle.read()) == wanted
    containerfile = [n for n in ('Containerfile', 'Dockerfile')
                     if os.path.exists(os.path.join(context, n))]
    assert containerfile, os.listdir(context)
    with open(os.path.join(context, containerfile[0]), encoding='utf-8') as handle:
        text = handle.read()
    assert 'ansible-runner' in text and 'ansible-core' in text
    # ansible-builder's introspection of the installed collection (the EE build's step)
    introspect = os.path.join(context, '_build', 'scripts', 'introspect.py')
    found = subprocess.run([sys.executable, introspect, 'introspect', awx_collections],
                           capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stdout + found.stderr
    listed = yaml.safe_load(found.stdout)['python']
    mine = [line.split('#')[0].strip() for line in listed if 'karbor.protection' in line]
    assert requirement_names('\n'.join(mine)) == wanted


def test_the_built_collection_holds_the_collection_only(tmp_path):
    """A build from a developer tree (its virtualenvs, built docs) ships none of them."""
    import tarfile
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--force',
                    '--output-path', str(tmp_path), REPO], check=True, capture_output=True)
    tarball = next(tmp_path.glob('karbor-protection-*.tar.gz'))
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert 'plugins/modules/checkpoint.py' in names and 'MANIFEST.json' in names
    stray = [n for n in names if n.startswith(('.venv', 'docs/build/', 'collections/', '.git/'))]
    assert stray == [], stray[:10]
    assert os.path.getsize(tarball) < 5 * 1024 * 1024, os.path.getsize(tarball)
