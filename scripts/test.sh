#!/usr/bin/env bash
# Runs every test: installs what the tests need (scripts/deps.sh --tests), builds the
# plain (build/) and the AddressSanitizer+UBSan (build-asan/) configurations, and runs
# ctest in both. Ends with one summary line per configuration: passed, failed, skipped
# (a skipped test, e.g. the corpus sweeps without ../shared/corpus, is not a pass).
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
  passed=$(grep -cE "Test +#[0-9]+: .* Passed" "$log" || true)
  failed=$(grep -cE "Test +#[0-9]+: .*\*\*\*(Failed|Exception|Timeout)|Test +#[0-9]+: .* Not Run" "$log" || true)
  skipped=$(grep -cE "Test +#[0-9]+: .*\*\*\*Skipped" "$log" || true)
  summary+=("$preset: $passed passed, $failed failed, $skipped skipped")
  rm -f "$log"
done
printf 'summary: %s\n' "${summary[@]}"
exit "$status"
