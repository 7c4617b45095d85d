#!/usr/bin/env bash
# Runs every test: installs what the tests need (scripts/deps.sh --tests), builds the
# plain (build/) and the AddressSanitizer+UBSan (build-asan/) configurations, and runs
# ctest in both; then a short smoke run of each libFuzzer target (scripts/fuzz.sh, in
# build-fuzz/, from the seeds alone, after replaying its regression inputs). Ends with
# one summary line per configuration and one for the fuzzers: passed, failed, skipped
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
# fuzz smoke: one target at a time (one fuzzer process), NB2PIPE_FUZZ_SMOKE seconds each
fuzz_passed=0 fuzz_failed=0
for target in reader magics analysis convert; do
  if NB2PIPE_FUZZ_FRESH=1 scripts/fuzz.sh "$target" "${NB2PIPE_FUZZ_SMOKE:-15}"; then
    fuzz_passed=$((fuzz_passed + 1))
  else
    fuzz_failed=$((fuzz_failed + 1))
    status=1
  fi
done
summary+=("fuzz smoke: $fuzz_passed passed, $fuzz_failed failed, 0 skipped")
printf 'summary: %s\n' "${summary[@]}"
exit "$status"
