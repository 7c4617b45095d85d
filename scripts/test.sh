#!/usr/bin/env bash
# Runs every test: installs what the tests need (scripts/deps.sh --tests), builds the
# plain (build/) and the AddressSanitizer+UBSan (build-asan/) configurations, and runs
# ctest in both. Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh --tests

status=0
summary=()
for preset in default asan; do
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  log=$(mktemp)
  if ctest --preset "$preset" 2>&1 | tee "$log"; then :; else status=1; fi
  line=$(grep -E "tests passed|tests failed" "$log" | tail -n 1 || true)
  summary+=("$preset: ${line:-no ctest summary}")
  rm -f "$log"
done
printf 'summary: %s\n' "${summary[@]}"
exit "$status"
