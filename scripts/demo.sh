#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build nb2pipe, convert the
# bundled titanic notebook into a pipeline and run it, printing the model metrics. Runs
# are incremental: run it twice and the second run finds every step up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)"

build/nb2pipe convert fixtures/titanic.ipynb -o build/titanic --force
build/nb2pipe run build/titanic
echo
echo "nb2pipe status build/titanic:"
build/nb2pipe status build/titanic
