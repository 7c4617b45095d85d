#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS: builds build-fuzz/ with clang (NB2PIPE_FUZZ=ON),
# replays the target's regression inputs (tests/fuzz-regressions/TARGET/), builds its
# seed corpus at run time (fuzz/make_seeds.py: fixtures, test cases and ../shared/corpus
# read in place), fuzzes with the target's dictionary, and prints one summary line:
# executions, exec/s, coverage (cov/ft) and corpus size, from libFuzzer's final stats.
#   scripts/fuzz.sh TARGET SECONDS     TARGET: reader, magics, analysis or convert
# The corpus grows in build-fuzz/corpus/TARGET across runs; NB2PIPE_FUZZ_FRESH=1 starts
# from the seeds alone in a temporary directory (the test command's smoke runs).
# Crashes, leaks and hangs are saved to build-fuzz/artifacts/TARGET/ and fail the run.
# One fuzzer process at a time, single job: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."

# The whole script is one function, read before it runs: a long run is not thrown off
# when this file is edited meanwhile (bash reads a script as it goes).
main() {

usage() { echo "usage: scripts/fuzz.sh reader|magics|analysis|convert SECONDS" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
target=$1 seconds=$2
case "$target" in reader|convert) dict=fuzz/json.dict ;; magics|analysis) dict=fuzz/python.dict ;; *) usage ;; esac
[[ "$seconds" =~ ^[0-9]+$ ]] || usage

build="build-fuzz"
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DNB2PIPE_FUZZ=ON -DNB2PIPE_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target "fuzz_$target" -j "$(nproc)" >/dev/null
bin=$build/fuzz/fuzz_$target

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# limits: a hang is an input taking 10 s; memory beyond 2 GB is a bug (notebooks are
# refused above 256 MB, and the fuzzer's inputs are far smaller)
limits=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048)

# 1. every input that once crashed must still pass
regressions=tests/fuzz-regressions/$target
if compgen -G "$regressions/*" >/dev/null; then
  "$bin" "${limits[@]}" "$regressions"/* >/dev/null 2>"$build/regressions-$target.log" || {
    cat "$build/regressions-$target.log" >&2
    echo "fuzz $target: a regression input fails again" >&2
    exit 1
  }
  echo "fuzz $target: $(find "$regressions" -type f | wc -l) regression inputs pass"
fi

# 2. seeds, built fresh at run time
seeds=$build/seeds/$target
rm -rf "$seeds"
/usr/bin/python3 fuzz/make_seeds.py "$target" "$seeds" ../shared/corpus >/dev/null
if [[ "${NB2PIPE_FUZZ_FRESH:-0}" == 1 ]]; then
  corpus=$(mktemp -d "${TMPDIR:-/tmp}/nb2pipe-fuzz-$target.XXXXXX")
  trap 'rm -rf "$corpus"' EXIT
  log=$build/fuzz-$target-smoke.log
else
  corpus=$build/corpus/$target
  mkdir -p "$corpus"
  log=$build/fuzz-$target.log
fi
artifacts=$build/artifacts/$target/
mkdir -p "$artifacts"

# 3. fuzz
status=0
started=$SECONDS
"$bin" "${limits[@]}" -max_total_time="$seconds" -print_final_stats=1 -dict="$dict" \
       -artifact_prefix="$artifacts" -max_len=65536 "$corpus" "$seeds" >"$log" 2>&1 || status=$?

done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")
echo "fuzz $target: $((SECONDS - started))s, ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, peak rss ${rss:-?} MB, exit $status"
if [[ $status -ne 0 ]]; then
  grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -n 20 >&2 || true
  echo "fuzz $target: FAILED (log: $log, artifacts: $artifacts)" >&2
  exit 1
fi
}

main "$@"
exit
