#!/usr/bin/env bash
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# make docs: lint the collection's docs, generate RST with antsibull-docs and build HTML with
# Sphinx into docs/build. Any lint finding or Sphinx warning fails the build.
# Needs antsibull-docs, sphinx and ansible-core on PATH and the collection on
# ANSIBLE_COLLECTIONS_PATH (the Makefile sets both).
set -euo pipefail
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd -- "$here/../.." && pwd)"
build="$repo/docs/build"

cd "$repo"
antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all \
    --disallow-unknown-collection-refs .

rm -rf "$build"
mkdir -p "$build/rst"
chmod 755 "$build" "$build/rst"   # antsibull-docs wants folders only their owner can write
antsibull-docs --config-file "$here/antsibull-docs.cfg" collection --use-current \
    --fail-on-error --cleanup everything --dest-dir "$build/rst" karbor.protection
# antsibull-docs also writes an index for its own docsite layout; ours replaces it
cp "$here/index.rst" "$here/ansible_refs.rst" "$build/rst/"
rm -f "$build/rst/collections/index.rst" "$build/rst/collections/karbor/index.rst"
sphinx-build -q -W --keep-going -b html -c "$here" "$build/rst" "$build/html"
echo "Docs: $build/html/index.html"
