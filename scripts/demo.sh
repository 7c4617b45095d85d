#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build nb2pipe, and analyse
# the bundled titanic notebook.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)"

build/nb2pipe analyze fixtures/titanic.ipynb
