#!/usr/bin/env bash
# Run ansible-test (sanity and/or units) on a copy of the collection placed
# under ansible_collections/karbor/protection, as ansible-test requires.
# Usage: tests/tools/ansible_test.sh <venv> <python-version> sanity|units [extra args]
set -euo pipefail
venv=$1; pyver=$2; what=$3; shift 3
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
for v in 24_2 25_0 25_1 25_2 25_3; do
  cp "$repo/tests/tools/get_pip_standin.py" "$cache/get_pip_$v.py"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/karbor/protection"
mkdir -p "$dest"
tar -C "$repo" --exclude=./collections --exclude=./.ansible --exclude=./.git --exclude='./.venv*' \
    --exclude=./tests/output --exclude='*.pyc' --exclude=__pycache__ -cf - . | tar -C "$dest" -xf -
cd "$dest"
git init -q . && git add -A >/dev/null 2>&1 && git -c user.email=ci@localhost -c user.name=ci commit -qm tree >/dev/null
export PATH="$venv/bin:$PATH"
case "$what" in
  sanity) ansible-test sanity --local --python "$pyver" --color no "$@" ;;
  units) ansible-test units --local --python "$pyver" --color no "$@" ;;
  *) echo "unknown: $what" >&2; exit 2 ;;
esac
